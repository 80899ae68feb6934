"""Training steps on the GPU: the MLP 784-1000-1000-10 of benchmarks/mlp.py at
batch 100 and 1000, and the small CNN of benchmarks/cnn.py, dezero on CuPy vs
PyTorch CUDA in the same process, interleaved; ms per step (median) and ratios.

    python benchmarks/gpu.py

Needs CuPy and a CUDA device (PyTorch with CUDA for the comparison column).
"""
from __future__ import annotations

import sys

import _common  # noqa: F401  (puts the repo on sys.path)
import numpy as np

import dezero.functions as F
from _common import interleaved_medians, print_table
from dezero import backend
from dezero.models import MLP
from dezero.optimizers import SGD

SIZES = (784, 1000, 1000, 10)


def synchronized(step, synchronize):
    """GPU work is asynchronous: a step counts only once the device is done."""
    def run() -> None:
        step()
        synchronize()
    return run


def dezero_step(model, x, t):
    optimizer = SGD(lr=0.01).setup(model)
    model.to_gpu()
    x, t = backend.as_cupy(x), backend.as_cupy(t)

    def step() -> None:
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()

    return synchronized(step, backend.cupy.cuda.Device().synchronize)


def torch_step(torch, model, x, t):
    model = model.cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, t = torch.from_numpy(x).cuda(), torch.from_numpy(t).cuda()
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        loss = loss_fn(model(x), t)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return synchronized(step, torch.cuda.synchronize)


def torch_mlp(torch):
    nn = torch.nn
    return nn.Sequential(nn.Linear(784, 1000), nn.Sigmoid(), nn.Linear(1000, 1000), nn.Sigmoid(),
                         nn.Linear(1000, 10))


def torch_cnn(torch):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 10))


def main() -> None:
    if not backend.gpu_enable:
        print("gpu: no GPU (CuPy is " + ("not installed" if backend.cupy is None else "installed, but sees no device")
              + "); nothing measured")
        return
    try:
        import torch

        if not torch.cuda.is_available():
            torch = None
    except ImportError:
        torch = None
    from cnn import SmallCNN

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
        medians = interleaved_medians(contenders, repeats=30, warmup=5)
        print_table(f"gpu {label}: ms per SGD step", medians)
        if "torch" in medians:
            ratios.append(f"{label.replace(' ', '_')}: dezero/torch={medians['dezero'] / medians['torch']:.2f}")
    print("gpu: " + (" ".join(ratios) if ratios else "torch with CUDA not available"))


if __name__ == "__main__":
    sys.exit(main())
