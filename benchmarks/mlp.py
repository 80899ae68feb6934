"""One SGD training step of an MLP 784-1000-1000-10 (sigmoid, batch 100, float32,
softmax cross entropy): dezero (MLP + SGD, the user-facing API) vs the same net
written by hand in NumPy vs PyTorch CPU, interleaved in one process.

    python benchmarks/mlp.py [--quick] [--repeat N] [--threads N]

Prints ms per step (medians) and the ratios dezero/torch and dezero/numpy.
"""

from __future__ import annotations

import _common  # noqa: F401  (puts the repo on sys.path)
import numpy as np

import dezero.functions as F
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
from dezero.models import MLP

SIZES = (784, 1000, 1000, 10)
BATCH = 100
LR = 0.01


def make_data(seed: int = 0, batch: int = BATCH, sizes: tuple = SIZES):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    t = rng.integers(0, sizes[-1], batch)
    return x, t


def make_dezero_step(x, t, sizes: tuple = SIZES):
    return dezero_sgd_step(MLP(sizes[1:], activation=F.sigmoid), x, t, LR)


def make_numpy_step(x, t, sizes: tuple = SIZES):
    """The two-hidden-layer net written by hand, as a NumPy user would; the step
    returns the loss before the update."""
    rng = np.random.default_rng(1)
    batch = len(x)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = (rng.standard_normal((n_in, n_out)) * np.sqrt(1.0 / n_in)).astype(np.float32)
        params.append([W, np.zeros(n_out, dtype=np.float32)])
    one_hot = np.eye(sizes[-1], dtype=np.float32)[t]

    def sigmoid(a):
        return 0.5 * np.tanh(0.5 * a) + 0.5

    def step():
        (W1, b1), (W2, b2), (W3, b3) = params
        h1 = sigmoid(x @ W1 + b1)
        h2 = sigmoid(h1 @ W2 + b2)
        y = h2 @ W3 + b3
        y = y - y.max(axis=1, keepdims=True)
        p = np.exp(y)
        total = p.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(total[:, 0]) - y[np.arange(batch), t]))
        p /= total
        gy = (p - one_hot) / batch
        gW3, gb3 = h2.T @ gy, gy.sum(axis=0)
        gh2 = (gy @ W3.T) * h2 * (1 - h2)
        gW2, gb2 = h1.T @ gh2, gh2.sum(axis=0)
        gh1 = (gh2 @ W2.T) * h1 * (1 - h1)
        gW1, gb1 = x.T @ gh1, gh1.sum(axis=0)
        for (W, b), gW, gb in zip(params, (gW1, gW2, gW3), (gb1, gb2, gb3)):
            W -= LR * gW
            b -= LR * gb
        return loss

    return step


def torch_mlp(torch, sizes: tuple = SIZES):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


def make_torch_step(torch, x, t, sizes: tuple = SIZES):
    return torch_sgd_step(torch, torch_mlp(torch, sizes), torch.from_numpy(x), torch.from_numpy(t), LR)


def main(argv=None) -> dict:
    args = parser(__doc__, repeat=9).parse_args(argv)
    set_threads(args.threads)
    x, t = make_data()
    contenders = {"dezero": make_dezero_step(x, t), "numpy": make_numpy_step(x, t)}
    torch = try_import_torch()
    if torch is not None:
        contenders["torch"] = make_torch_step(torch, x, t)
    medians = time_contenders(contenders, Timing(args, warmup=3, inner=5))
    print_table(f"mlp: {'-'.join(map(str, SIZES))} sigmoid, batch {BATCH}, float32, SGD step", medians)
    print("mlp: " + ratios(medians))
    return {"mlp": {name: seconds * 1e3 for name, seconds in medians.items()}}


if __name__ == "__main__":
    main()
