"""One SGD training step of a small CNN: conv 1->32 3x3 pad 1, relu, max-pool 2,
conv 32->64 3x3 pad 1, relu, max-pool 2, linear -> 10; input (64, 1, 28, 28)
float32. dezero vs PyTorch CPU, interleaved in one process.

    python benchmarks/cnn.py [--quick] [--repeat N] [--threads N]

Prints ms per step (medians) and the ratio dezero/torch.
"""

from __future__ import annotations

import _common  # noqa: F401  (puts the repo on sys.path)
import numpy as np

import dezero.functions as F
import dezero.layers as L
from _common import (
    Timing,
    dezero_sgd_step,
    parser,
    print_table,
    ratios,
    set_threads,
    time_contenders,
    torch_sgd_step,
    try_import_torch,
)
from dezero.models import Model

BATCH = 64
LR = 0.01


class SmallCNN(Model):
    def __init__(self):
        super().__init__()
        self.conv1 = L.Conv2d(32, kernel_size=3, pad=1)
        self.conv2 = L.Conv2d(64, kernel_size=3, pad=1)
        self.fc = L.Linear(10)

    def forward(self, x):
        x = F.pooling(F.relu(self.conv1(x)), 2, 2)
        x = F.pooling(F.relu(self.conv2(x)), 2, 2)
        return self.fc(F.flatten(x))


def make_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, BATCH)


def make_dezero_step(x, t, lr: float = LR):
    return dezero_sgd_step(SmallCNN(), x, t, lr)


def torch_cnn(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 10),
    )


def make_torch_step(torch, x, t, lr: float = LR):
    return torch_sgd_step(torch, torch_cnn(torch), torch.from_numpy(x), torch.from_numpy(t), lr)


def main(argv=None) -> dict:
    args = parser(__doc__, repeat=9).parse_args(argv)
    set_threads(args.threads)
    x, t = make_data()
    contenders = {"dezero": make_dezero_step(x, t)}
    torch = try_import_torch()
    if torch is not None:
        contenders["torch"] = make_torch_step(torch, x, t)
    medians = time_contenders(contenders, Timing(args, warmup=2, inner=3))
    print_table(f"cnn: conv32-pool-conv64-pool-fc10, batch {BATCH}, float32, SGD step", medians)
    print("cnn: " + ratios(medians))
    return {"cnn": {name: seconds * 1e3 for name, seconds in medians.items()}}


if __name__ == "__main__":
    main()
