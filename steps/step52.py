"""Step 52: running on a GPU.

dezero's Functions never name NumPy on their data path: they ask
``get_array_module(x)`` for the array module of their input, and get NumPy or
CuPy (NumPy's API on CUDA GPUs). So the whole framework runs on the GPU once
the data is there:

- ``model.to_gpu()`` moves every parameter to the GPU,
- ``DataLoader(..., gpu=True)`` (or ``loader.to_gpu()``) hands out CuPy batches,
- everything computed from them stays on the GPU; ``.item()`` or
  ``dezero.cuda.as_numpy`` bring a value back.

Without CuPy or without a CUDA device, this step says so and runs the same
code on the CPU. It trains an MLP on scikit-learn's 8x8 digits (no download)
and times each epoch.
"""

import os
import sys
import time

import numpy as np

try:
    import dezero
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dezero
import dezero.functions as F
from dezero import cuda
from dezero.dataloaders import DataLoader
from dezero.datasets import Digits
from dezero.models import MLP
from dezero.optimizers import Adam

from _quick import options  # steps/_quick.py: the --quick and --out switches


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    max_epoch = 2 if opts.quick else 10
    np.random.seed(0)

    train_set = Digits(train=True)  # items are (64,) float32 vectors in [0, 1]
    test_set = Digits(train=False)
    train_loader = DataLoader(train_set, batch_size=100)
    test_loader = DataLoader(test_set, batch_size=100, shuffle=False)
    model = MLP((256, 10), activation=F.relu)
    optimizer = Adam().setup(model)

    if cuda.gpu_enable:
        print("GPU found: training on the GPU with CuPy")
        model.to_gpu()
        train_loader.to_gpu()
        test_loader.to_gpu()
    else:
        reason = "CuPy is not installed" if cuda.cupy is None else "CuPy found no CUDA device"
        print(f"no GPU available ({reason}): falling back to the CPU (NumPy)")

    for epoch in range(max_epoch):
        start = time.time()
        sum_loss = 0.0
        for x, t in train_loader:
            loss = F.softmax_cross_entropy(model(x), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += loss.data.item() * len(t)  # .item() copies one number back to the host
        elapsed = time.time() - start
        print(f"epoch {epoch + 1:2d}: loss {sum_loss / len(train_set):.4f} ({elapsed:.3f} s)")

    correct = 0.0
    with dezero.no_grad():
        for x, t in test_loader:
            correct += F.accuracy(model(x), t).data.item() * len(t)
    device = "GPU" if cuda.gpu_enable else "CPU"
    print(f"test accuracy on the {device}: {correct / len(test_set):.4f}")
    print(f"the parameters live in {type(model.l0.W.data).__module__.split('.')[0]} arrays")

    return {
        "device": device,
        "test_accuracy": correct / len(test_set),
        "array_module": type(model.l0.W.data).__module__.split(".")[0],
    }


if __name__ == "__main__":
    main()
