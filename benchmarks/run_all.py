"""Run every CPU benchmark and print one summary table, with each ratio beside
its target, in Markdown ready to paste into README's Performance section.

    python benchmarks/run_all.py [--quick] [--repeat N] [--threads N] [--chainer-python PATH]

Every workload's own script prints its details first (mlp.py, cnn.py, conv.py,
overhead.py, memory.py; see each one's --help). ``--repeat`` is passed on to
the timing scripts; ``--quick`` makes a smoke run whose figures mean nothing.
With ``--chainer-python`` (or DEZERO_CHAINER_PYTHON) naming the Python of a
venv that has Chainer, chainer_compare.py runs there too (see its docstring).
"""

from __future__ import annotations

import inspect
import os
import platform
import subprocess
import sys
from typing import Dict, NamedTuple, Optional

import _common
import cnn
import conv
import memory
import mlp
import overhead
import scaling

# Each module's main(argv) returns {workload key: {contender: value}}. One line each.
BENCHMARKS = [
    overhead,
    mlp,
    cnn,
    conv,
    memory,
    scaling,
]


class Workload(NamedTuple):
    label: str
    unit: str
    vs_torch: Optional[float] = None  # target: dezero / PyTorch at most this
    vs_numpy: Optional[float] = None  # target: dezero / NumPy by hand at most this


# The table's rows, in order; the targets are those of issue 16.
WORKLOADS: Dict[str, Workload] = {
    "mlp": Workload("MLP 784-1000-1000-10, batch 100, SGD step", "ms", 1.0, 1.05),
    "cnn": Workload("small CNN (conv32-pool-conv64-pool-fc), batch 64, SGD step", "ms", 1.5),
    "conv2d": Workload("conv2d (64,32,28,28) → 64 ch, 3×3, forward + backward", "ms", 2.0),
    "pooling": Workload("max pooling 2×2 on (64,64,28,28), forward + backward", "ms"),
    "overhead": Workload("per-op overhead, 0-d float64 `y * a + b`, fwd + bwd", "µs/op", 1.0),
    "chain_10000": Workload("graph of 10,000 ops, build + backward + free, per op", "µs/op", 1.0),
    "chain_100000": Workload("graph of 100,000 ops, build + backward + free, per op", "µs/op", 1.0),
    "chain_1000000": Workload("graph of 1,000,000 ops, build + backward + free, per op", "µs/op", 1.0),
    "memory_warm": Workload("peak memory, MLP training, warm (steps 21–40)", "MiB", 1.0),
    "memory_cold": Workload("peak memory, MLP training, cold (first 20 steps)", "MiB"),
}


def run_benchmark(module, argv: list) -> dict:
    """``module.main``'s results as {workload key: {contender: value}}; empty
    for a script whose results are not rows of the table (it has printed them)."""
    takes_argv = bool(inspect.signature(module.main).parameters)
    result = module.main(argv) if takes_argv else module.main()
    if not result:
        return {}
    if not isinstance(result, dict):
        return {}  # a script that only prints
    if module is scaling:  # {ops: {"us_per_op": {contender: µs}, ...}}: the time per op is the row
        return {f"chain_{n_ops}": row["us_per_op"] for n_ops, row in result.items()}
    if all(isinstance(value, dict) for value in result.values()):
        return result
    if all(isinstance(value, float) for value in result.values()):
        # The older form {contender: seconds per op} (overhead.py).
        return {module.__name__: {name: seconds * 1e6 for name, seconds in result.items()}}
    return {}


def markdown_table(results: dict) -> str:
    lines = [
        "| workload | dezero | NumPy by hand | PyTorch | dezero / NumPy | dezero / PyTorch | target | met? |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for key, work in WORKLOADS.items():
        row = results.get(key)
        if not row or "dezero" not in row:
            continue
        dz = row["dezero"]
        cells = [work.label] + [_value(row.get(name), work.unit) for name in ("dezero", "numpy", "torch")]
        vs = {name: dz / row[name] if row.get(name) else None for name in ("numpy", "torch")}
        cells += [_ratio(vs["numpy"]), _ratio(vs["torch"])]
        targets, verdicts = [], []
        for name, limit, title in (("torch", work.vs_torch, "PyTorch"), ("numpy", work.vs_numpy, "NumPy")):
            if limit is None:
                continue
            targets.append(f"≤ {limit:.2f} × {title}")
            if vs[name] is not None:
                verdicts.append("yes" if vs[name] <= limit else f"no ({title})")
        cells.append(", ".join(targets) or "–")
        if not targets:
            cells.append("–")
        elif len(verdicts) < len(targets):
            cells.append("? (contender missing)")
        else:
            failed = [v for v in verdicts if v != "yes"]
            cells.append(" ".join(failed) if failed else "yes")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _value(value: Optional[float], unit: str) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} {unit}" if value >= 10 else f"{value:.2f} {unit}"


def _ratio(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.2f}"


def run_chainer(python: str, quick: bool) -> None:
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chainer_compare.py")
    command = [python, script] + (["--quick"] if quick else [])
    print(f"$ {' '.join(command)}", flush=True)
    subprocess.run(command, check=False)


def main(argv=None) -> dict:
    p = _common.parser(__doc__, repeat=9)
    p.add_argument(
        "--chainer-python",
        default=os.environ.get("DEZERO_CHAINER_PYTHON"),
        metavar="PATH",
        help="the Python of a venv with Chainer 7 (NumPy 1.x): run chainer_compare.py there too",
    )
    args = p.parse_args(argv)
    import numpy as np

    threads = _common.set_threads(args.threads)
    torch = _common.try_import_torch()
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, NumPy {np.__version__} with {_common.blas_description()}, "
        f"BLAS threads {threads}, PyTorch {torch.__version__ if torch else 'not installed'}"
    )
    print(f"machine: {machine}\n", flush=True)
    passed_on = ["--quick"] if args.quick else ["--repeat", str(args.repeat)]
    results: dict = {}
    for module in BENCHMARKS:
        results.update(run_benchmark(module, passed_on))
        print(flush=True)
    if args.chainer_python:
        run_chainer(args.chainer_python, args.quick)
    else:
        print("chainer: not compared (give --chainer-python; see benchmarks/chainer_compare.py)")
    print()
    print(f"summary (medians; one run of `python benchmarks/run_all.py`; {machine})\n")
    print(markdown_table(results))
    return results


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
