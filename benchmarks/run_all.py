"""Run every CPU benchmark and print one summary table of ratios.

    python benchmarks/run_all.py
"""
from __future__ import annotations

import os
import platform

import _common
import cnn
import conv
import memory
import mlp
import overhead
import scaling


def main() -> None:
    import numpy as np

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numpy {np.__version__}, BLAS threads {_common.blas_threads()}")
    torch = _common.try_import_torch()
    print(f"torch: {torch.__version__ if torch else 'not installed'}\n")
    results = {}
    results["overhead (us/op)"] = {k: v * 1e6 for k, v in overhead.main().items()}
    print()
    results.update({f"chain of {n:,} ops (us/op)": row["us_per_op"] for n, row in scaling.main([]).items()})
    print()
    results["mlp step (ms)"] = {k: v * 1e3 for k, v in mlp.main().items()}
    print()
    results["cnn step (ms)"] = {k: v * 1e3 for k, v in cnn.main().items()}
    print()
    for label, row in conv.main([]).items():
        results[label.split(" (")[0] + " (ms)"] = row
    print()
    results["memory, 20 mlp steps (MiB)"] = {k: v / 2**20 for k, v in memory.main().items()}
    print()

    print("summary")
    print(f"  {'workload':<30} {'dezero':>10} {'numpy':>10} {'torch':>10} {'dz/numpy':>9} {'dz/torch':>9}")
    for name, row in results.items():
        dz, npy, th = row.get("dezero"), row.get("numpy"), row.get("torch")

        def fmt(v):
            return f"{v:10.2f}" if v is not None else f"{'-':>10}"

        def ratio(a, b):
            return f"{a / b:9.2f}" if a is not None and b else f"{'-':>9}"

        print(f"  {name:<30} {fmt(dz)} {fmt(npy)} {fmt(th)} {ratio(dz, npy)} {ratio(dz, th)}")


if __name__ == "__main__":
    main()
