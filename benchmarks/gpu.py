"""Training steps on the GPU: the MLP 784-1000-1000-10 of benchmarks/mlp.py at
batch 100 and 1000, and the small CNN of benchmarks/cnn.py, dezero on CuPy vs
PyTorch CUDA in the same process, interleaved; ms per step (median) and ratios.

    python benchmarks/gpu.py [--quick] [--repeat N]

Needs CuPy and a CUDA device (PyTorch with CUDA for the comparison column);
without them it says so and measures nothing.
"""

from __future__ import annotations

import sys

import _common  # noqa: F401  (puts the repo on sys.path)
import numpy as np

import dezero.functions as F
from _common import Timing, dezero_sgd_step, parser, print_table, time_contenders, torch_sgd_step
from dezero import backend
from dezero.models import MLP

SIZES = (784, 1000, 1000, 10)


def synchronized(step, synchronize):
    """GPU work is asynchronous: a step counts only once the device is done."""

    def run() -> None:
        step()
        synchronize()

    return run


def dezero_step(model, x, t):
    model.to_gpu()
    step = dezero_sgd_step(model, backend.as_cupy(x), backend.as_cupy(t))
    return synchronized(step, backend.cupy.cuda.Device().synchronize)


def torch_step(torch, model, x, t):
    step = torch_sgd_step(torch, model.cuda(), torch.from_numpy(x).cuda(), torch.from_numpy(t).cuda())
    return synchronized(step, torch.cuda.synchronize)


def main(argv=None) -> None:
    args = parser(__doc__, repeat=30).parse_args(argv)
    if not backend.gpu_enable:
        print(
            "gpu: no GPU (CuPy is "
            + ("not installed" if backend.cupy is None else "installed, but sees no device")
            + "); nothing measured"
        )
        return
    try:
        import torch

        if not torch.cuda.is_available():
            torch = None
    except ImportError:
        torch = None
    from cnn import SmallCNN, torch_cnn
    from mlp import torch_mlp

    rng = np.random.default_rng(0)
    ratios = []
    workloads = [("mlp batch 100", 100, "mlp"), ("mlp batch 1000", 1000, "mlp"), ("cnn batch 64", 64, "cnn")]
    for label, batch, kind in workloads:
        if kind == "mlp":
            x = rng.standard_normal((batch, 784)).astype(np.float32)
            model = MLP(SIZES[1:], activation=F.sigmoid)
        else:
            x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
            model = SmallCNN()
        t = rng.integers(0, 10, batch)
        contenders = {"dezero": dezero_step(model, x, t)}
        if torch is not None:
            contenders["torch"] = torch_step(torch, torch_mlp(torch) if kind == "mlp" else torch_cnn(torch), x, t)
        medians = time_contenders(contenders, Timing(args, warmup=5))
        print_table(f"gpu {label}: ms per SGD step", medians)
        if "torch" in medians:
            ratios.append(f"{label.replace(' ', '_')}: dezero/torch={medians['dezero'] / medians['torch']:.2f}")
    print("gpu: " + (" ".join(ratios) if ratios else "torch with CUDA not available"))


if __name__ == "__main__":
    sys.exit(main())
