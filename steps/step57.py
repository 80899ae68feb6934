"""Step 57: conv2d and pooling as differentiable Functions, and a first CNN.

``F.conv2d(x, W, b, stride, pad)`` is im2col + a matrix product (step 56)
wrapped as one Function; its backward returns gradients for x, W and b.
``F.pooling(x, kernel_size, stride)`` keeps the largest value of each window;
its backward sends each window's gradient to the element that won. Both are
checked here against finite differences (``dezero.utils.gradient_check``).

``L.Conv2d(out_channels, kernel_size, stride, pad)`` is the layer holding W
and b (W created lazily from the input's channel count). A small CNN then
trains on scikit-learn's 8x8 digits (conv - ReLU - pool - linear), the
shape of every CNN that follows.
"""

import os
import sys

import numpy as np

try:
    import dezero
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dezero
import dezero.functions as F
import dezero.layers as L
from dezero.dataloaders import DataLoader
from dezero.datasets import Digits
from dezero.models import Model
from dezero.optimizers import Adam
from dezero.utils import gradient_check

from _quick import options  # steps/_quick.py: the --quick and --out switches


class SimpleCNN(Model):
    def __init__(self):
        super().__init__()
        self.conv = L.Conv2d(16, kernel_size=3, pad=1)  # (N, 1, 8, 8) -> (N, 16, 8, 8)
        self.fc = L.Linear(10)

    def forward(self, x):
        h = F.pooling(F.relu(self.conv(x)), kernel_size=2, stride=2)  # -> (N, 16, 4, 4)
        h = F.reshape(h, (len(h), -1))  # -> (N, 256)
        return self.fc(h)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    rng = np.random.RandomState(0)
    x = rng.randn(1, 5, 15, 15)
    W = rng.randn(8, 5, 3, 3)
    b = rng.randn(8)
    y = F.conv2d(x, W, b, stride=1, pad=1)
    print(f"conv2d: x {x.shape}, W {W.shape} -> y {y.shape}")
    p = F.pooling(y, kernel_size=2, stride=2)
    print(f"pooling 2x2 stride 2: {y.shape} -> {p.shape}")

    small = rng.randn(2, 2, 5, 5), rng.randn(3, 2, 3, 3), rng.randn(3)
    checks = [
        gradient_check(lambda x, W, b: F.conv2d(x, W, b, stride=2, pad=1), *small),
        gradient_check(lambda x: F.pooling(x, 2, 2), rng.randn(2, 2, 6, 6)),
    ]
    print("conv2d gradients (x, W, b) match finite differences:", checks[0])
    print("pooling gradient matches finite differences:", checks[1])

    np.random.seed(0)
    train_set = Digits(train=True, transform=None)  # keep the (1, 8, 8) image shape
    test_set = Digits(train=False, transform=None)
    epochs = 2 if opts.quick else 10
    loader = DataLoader(train_set, batch_size=50)
    model = SimpleCNN()
    optimizer = Adam(alpha=0.003).setup(model)
    history = []
    for epoch in range(epochs):
        sum_loss = 0.0
        for xb, tb in loader:
            loss = F.softmax_cross_entropy(model(xb), tb)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += loss.data.item() * len(tb)
        with dezero.no_grad():
            acc = F.accuracy(model(test_set.data), test_set.label).data.item()
        history.append([sum_loss / len(train_set), acc])
        print(f"epoch {epoch + 1}: loss {sum_loss / len(train_set):.4f}, test accuracy {acc:.4f}")
    print(f"conv W learned: {model.conv.W.shape}; trainable numbers: {sum(p.size for p in model.params())}")

    return {"shapes": [y.shape, p.shape], "gradient_checks": checks, "history": history, "conv_W": model.conv.W.shape}


if __name__ == "__main__":
    main()
