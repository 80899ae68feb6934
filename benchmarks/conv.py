"""Convolution and max pooling, forward + backward, dezero against PyTorch (CPU).

    python benchmarks/conv.py [--quick] [--repeat N] [--threads N]

Both run in this process, interleaved call by call, with PyTorch given as many
threads as NumPy's BLAS has; the table shows the median (and min) ms per call,
forward and backward together, and the last line the ratios of the medians, e.g.
``conv: dezero/torch=1.23 pool: dezero/torch=0.98``. Without PyTorch only the
dezero column is printed.
"""

from __future__ import annotations

import statistics

import _common  # noqa: F401  (puts the repo on sys.path)
import numpy as np

import dezero
import dezero.functions as F
from _common import Timing, interleaved_times, parser, set_threads, try_import_torch


# --- the contenders: each returns a callable doing one forward + backward -------------------
def dezero_conv(x, W, b):
    x, W, b = dezero.Variable(x), dezero.Parameter(W), dezero.Parameter(b)

    def step():
        for v in (x, W, b):
            v.cleargrad()
        F.conv2d(x, W, b, stride=1, pad=1).backward()

    return step


def torch_conv(torch, x, W, b):
    x, W, b = (torch.tensor(a, requires_grad=True) for a in (x, W, b))

    def step():
        for v in (x, W, b):
            v.grad = None
        y = torch.nn.functional.conv2d(x, W, b, stride=1, padding=1)
        y.backward(torch.ones_like(y))

    return step


def dezero_pool(x):
    x = dezero.Variable(x)

    def step():
        x.cleargrad()
        F.pooling(x, 2, stride=2).backward()

    return step


def torch_pool(torch, x):
    x = torch.tensor(x, requires_grad=True)

    def step():
        x.grad = None
        y = torch.nn.functional.max_pool2d(x, 2, stride=2)
        y.backward(torch.ones_like(y))

    return step


def bench(contenders: dict, timing: Timing) -> dict:
    """(median, min) ms per call, contenders interleaved call by call."""
    samples = interleaved_times(contenders, timing.repeat, timing.warmup, timing.settle, timing.inner)
    return {name: (statistics.median(ts) * 1e3, min(ts) * 1e3) for name, ts in samples.items()}


def main(argv=None) -> dict:
    args = parser(__doc__, repeat=15).parse_args(argv)
    threads = set_threads(args.threads)
    torch = try_import_torch()
    timing = Timing(args, warmup=2, inner=3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32, 28, 28), dtype=np.float32)
    W = rng.standard_normal((64, 32, 3, 3), dtype=np.float32) * 0.1
    b = rng.standard_normal(64, dtype=np.float32)
    xp = rng.standard_normal((64, 64, 28, 28), dtype=np.float32)

    cases = {
        "conv2d": (
            "conv2d 3x3 pad 1 (64,32,28,28) -> 64 ch",
            {"dezero": dezero_conv(x, W, b)},
            lambda: torch_conv(torch, x, W, b),
        ),
        "pooling": (
            "max pooling 2x2 stride 2 (64,64,28,28)",
            {"dezero": dezero_pool(xp)},
            lambda: torch_pool(torch, xp),
        ),
    }
    print(
        f"float32, forward + backward, ms per call over {timing.repeat} calls, {threads} thread(s); "
        f"torch {'not installed' if torch is None else torch.__version__}"
    )
    print(f"{'case':<42}{'dezero median':>14}{'(min)':>8}{'torch median':>14}{'(min)':>8}{'ratio':>7}")
    ratios = []
    results = {}
    for key, (label, contenders, make_torch) in cases.items():
        if torch is not None:
            contenders["torch"] = make_torch()
        ms = bench(contenders, timing)
        results[key] = {name: median for name, (median, _) in ms.items()}
        row = f"{label:<42}{ms['dezero'][0]:>14.1f}{ms['dezero'][1]:>8.1f}"
        if torch is not None:
            ratio = ms["dezero"][0] / ms["torch"][0]
            ratios.append(f"{ratio:.2f}")
            print(row + f"{ms['torch'][0]:>14.1f}{ms['torch'][1]:>8.1f}{ratio:>7.2f}")
        else:
            ratios.append("n/a")
            print(row + f"{'-':>14}{'-':>8}{'-':>7}")
    print(f"conv: dezero/torch={ratios[0]} pool: dezero/torch={ratios[1]}")
    return results


if __name__ == "__main__":
    main()
