"""How the cost of an op grows with the size of the graph: chains of 10k, 100k
and 1M ops (``y = y * 1.0001 + 0.0001`` on a 0-d float64 Variable), forward,
backward and freeing the graph, for dezero and PyTorch eager.

Time: both contenders in this process, interleaved, median of the repeats, in
microseconds per op. Memory: each contender in a fresh process per size; the
resident set size (RSS) with the whole graph alive minus the RSS before it,
in bytes per op. Then one process builds, differentiates and frees a 1M-op
graph three times in a row: its RSS after each round must not grow.

    python benchmarks/scaling.py            # 10k, 100k and 1M ops
    python benchmarks/scaling.py --quick    # 10k and 100k ops only
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import _common  # noqa: F401  (puts the repo on sys.path)
import numpy as np

from _common import interleaved_times, try_import_torch

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = (10_000, 100_000, 1_000_000)
REPEATS = {10_000: 7, 100_000: 5, 1_000_000: 3}
ROUNDS = 3  # 1M-op graphs built and freed one after the other by one process


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build(framework: str, n_ops: int):
    """Return (leaf, output) of an ``n_ops`` chain, the graph alive."""
    if framework == "dezero":
        import dezero

        x = dezero.Variable(np.array(1.0))
    else:
        import torch

        x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(n_ops // 2):
        y = y * 1.0001 + 0.0001
    return x, y


def runner(framework: str, n_ops: int):
    def run() -> None:
        _, y = build(framework, n_ops)
        y.backward()  # and the graph is freed on return

    return run


def child(framework: str, n_ops: int) -> dict:
    """Runs in a fresh process: the RSS the graph holds, and RSS after rounds."""
    if framework == "torch":
        try_import_torch()  # the same thread setting as in the timing
    else:
        import dezero  # noqa: F401  (imported before the baseline is read)
    runner(framework, 1000)()  # warm up: lazy imports, first allocations
    before = rss_bytes()
    x, y = build(framework, n_ops)
    graph_bytes = rss_bytes() - before
    y.backward()
    del x, y
    rounds = []
    if n_ops >= 1_000_000:
        for _ in range(ROUNDS):
            runner(framework, n_ops)()
            rounds.append(rss_bytes())
    return {"graph_bytes": graph_bytes, "rounds": rounds}


def measure_memory(framework: str, n_ops: int) -> dict:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", framework, str(n_ops)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    sizes = SIZES[:2] if "--quick" in argv else SIZES
    torch = try_import_torch()
    frameworks = ["dezero"] + (["torch"] if torch is not None else [])
    import dezero

    print(
        f"scaling: chains of y = y * 1.0001 + 0.0001 on a 0-d float64 Variable, forward + backward + free; "
        f"dezero tuning: {dezero.tuning.report()}"
    )
    header = f"  {'ops':>9}  " + "  ".join(f"{name + ' us/op':>13} {name + ' B/op':>12}" for name in frameworks)
    print(header + ("  dezero/torch time  dezero/torch bytes" if torch is not None else ""))
    results = {}
    for n_ops in sizes:
        samples = interleaved_times(
            {name: runner(name, n_ops) for name in frameworks}, repeats=REPEATS[n_ops], warmup=1
        )
        per_op = {name: statistics.median(samples[name]) / n_ops for name in frameworks}
        memory = {name: measure_memory(name, n_ops) for name in frameworks}
        results[n_ops] = {
            "us_per_op": {k: v * 1e6 for k, v in per_op.items()},
            "bytes_per_op": {k: m["graph_bytes"] / n_ops for k, m in memory.items()},
            "rounds_rss": {k: m["rounds"] for k, m in memory.items()},
        }
        row = results[n_ops]
        line = f"  {n_ops:>9,}  " + "  ".join(
            f"{row['us_per_op'][name]:13.2f} {row['bytes_per_op'][name]:12.0f}" for name in frameworks
        )
        if torch is not None:
            line += (
                f"  {row['us_per_op']['dezero'] / row['us_per_op']['torch']:17.2f}"
                f"  {row['bytes_per_op']['dezero'] / row['bytes_per_op']['torch']:18.2f}"
            )
        print(line)
    for n_ops, row in results.items():
        for name, rounds in row["rounds_rss"].items():
            if rounds:
                print(
                    f"scaling: {name} RSS after each of {len(rounds)} rounds of {n_ops:,} ops (build, backward, "
                    f"free): " + ", ".join(f"{r / 2**20:.0f} MiB" for r in rounds)
                )
    return results


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
