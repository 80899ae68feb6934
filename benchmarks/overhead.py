"""Per-op overhead of the autograd machinery: 10,000 ops ``y = y * 1.0001 + 0.0001``
on a 0-d float64 Variable, then backward. Prints microseconds per op (forward +
backward) for dezero and, when installed, PyTorch eager, and their ratio.

Then the cost of ``dezero.detect_anomaly()``: the same chain with the mode on
and off, on 0-d values (where the machinery is all there is) and on arrays of
100,000 elements (where the arithmetic dominates).

    python benchmarks/overhead.py
"""

from __future__ import annotations

import _common  # noqa: F401  (puts the repo on sys.path)
import numpy as np

import dezero
from _common import interleaved_medians, print_table, try_import_torch

N_ITERS = 10_000
OPS = 2 * N_ITERS  # one multiply and one add per iteration


def run_dezero() -> None:
    x = dezero.Variable(np.array(1.0))
    y = x
    for _ in range(N_ITERS):
        y = y * 1.0001 + 0.0001
    y.backward()


def make_torch_runner(torch):
    def run_torch() -> None:
        x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
        y = x
        for _ in range(N_ITERS):
            y = y * 1.0001 + 0.0001
        y.backward()

    return run_torch


def make_anomaly_runner(shape: tuple, iters: int, anomaly: bool):
    def run() -> None:
        with dezero.using_config("detect_anomaly", anomaly):
            x = dezero.Variable(np.ones(shape))
            y = x
            for _ in range(iters):
                y = y * 1.0001 + 0.0001
            y.backward(grad=np.ones(shape))

    return run


def anomaly_cost() -> dict:
    """Microseconds per op with detect_anomaly() off and on, for two array sizes."""
    rows = {}
    for label, shape, iters in (("0-d", (), N_ITERS), ("100,000 elements", (100_000,), 200)):
        medians = interleaved_medians(
            {"off": make_anomaly_runner(shape, iters, False), "on": make_anomaly_runner(shape, iters, True)},
            repeats=5,
            warmup=1,
        )
        rows[label] = {mode: t / (2 * iters) for mode, t in medians.items()}
    for label, row in rows.items():
        print(
            f"overhead: detect_anomaly() on {label}: {row['off'] * 1e6:.2f} -> {row['on'] * 1e6:.2f} us/op "
            f"(x{row['on'] / row['off']:.2f}, +{(row['on'] - row['off']) * 1e6:.2f} us/op)"
        )
    return rows


def main() -> dict:
    torch = try_import_torch()
    contenders = {"dezero": run_dezero}
    if torch is not None:
        contenders["torch"] = make_torch_runner(torch)
    medians = interleaved_medians(contenders, repeats=7, warmup=1)
    per_op = {name: t / OPS for name, t in medians.items()}
    print_table(
        f"overhead: {N_ITERS} x (mul, add) on a 0-d float64 Variable, forward + backward",
        per_op,
        unit="us/op",
        scale=1e6,
    )
    ratio = f"dezero/torch={per_op['dezero'] / per_op['torch']:.2f}" if "torch" in per_op else "torch not installed"
    print(f"overhead: {ratio}")
    anomaly_cost()
    return per_op


if __name__ == "__main__":
    main()
