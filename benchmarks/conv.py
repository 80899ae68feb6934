"""Convolution and max pooling, forward + backward, dezero against PyTorch (CPU).

    python benchmarks/conv.py [--repeats 15]

Both run in this process, interleaved call by call, with PyTorch given as many
threads as NumPy's BLAS has; the table shows the median (and min) ms per call,
forward and backward together, and the last line the ratios of the medians, e.g.
``conv: dezero/torch=1.23 pool: dezero/torch=0.98``. Without PyTorch only the
dezero column is printed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dezero  # noqa: E402
import dezero.functions as F  # noqa: E402
from _common import blas_threads, interleaved_times  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


# --- the contenders: each returns a callable doing one forward + backward -------------------
def dezero_conv(x, W, b):
    x, W, b = dezero.Variable(x), dezero.Parameter(W), dezero.Parameter(b)

    def step():
        for v in (x, W, b):
            v.cleargrad()
        F.conv2d(x, W, b, stride=1, pad=1).backward()
    return step


def torch_conv(x, W, b):
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


def torch_pool(x):
    x = torch.tensor(x, requires_grad=True)

    def step():
        x.grad = None
        y = torch.nn.functional.max_pool2d(x, 2, stride=2)
        y.backward(torch.ones_like(y))
    return step


def bench(contenders: dict, repeats: int, warmup: int = 2) -> dict:
    """(median, min) ms per call, contenders interleaved call by call."""
    samples = interleaved_times(contenders, repeats, warmup, inner=3)
    return {name: (statistics.median(ts) * 1e3, min(ts) * 1e3) for name, ts in samples.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)

    threads = blas_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32, 28, 28), dtype=np.float32)
    W = rng.standard_normal((64, 32, 3, 3), dtype=np.float32) * 0.1
    b = rng.standard_normal(64, dtype=np.float32)
    xp = rng.standard_normal((64, 64, 28, 28), dtype=np.float32)

    cases = {
        "conv2d 3x3 pad 1 (64,32,28,28) -> 64 ch": (
            {"dezero": dezero_conv(x, W, b)}, lambda: torch_conv(x, W, b)),
        "max pooling 2x2 stride 2 (64,64,28,28)": (
            {"dezero": dezero_pool(xp)}, lambda: torch_pool(xp)),
    }
    print(f"float32, forward + backward, ms per call over {args.repeats} calls, {threads} thread(s); "
          f"torch {'not installed' if torch is None else torch.__version__}")
    print(f"{'case':<42}{'dezero median':>14}{'(min)':>8}{'torch median':>14}{'(min)':>8}{'ratio':>7}")
    ratios = []
    results = {}
    for label, (contenders, make_torch) in cases.items():
        if torch is not None:
            contenders["torch"] = make_torch()
        ms = bench(contenders, args.repeats)
        results[label] = {name: median for name, (median, _) in ms.items()}
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
