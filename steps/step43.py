"""Step 43: a neural network.

A straight line cannot fit y = sin(2 pi x). Two linear maps with a nonlinearity
between them can:

    y = sigmoid(x W1 + b1) W2 + b2     W1 (1, 10), W2 (10, 1)

``F.linear(x, W, b)`` is x W + b as one Function. The weights start small and
random (with zero weights every hidden unit would learn the same thing) and are
trained by gradient descent on the mean squared error, parameter by parameter,
by hand. Steps 44-46 package exactly this loop into layers, models and
optimizers.
"""

import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dezero.functions as F
from dezero import Variable

from _quick import options  # steps/_quick.py: the --quick and --out switches


def predict(x, params):
    W1, b1, W2, b2 = params
    h = F.sigmoid(F.linear(x, W1, b1))
    return F.linear(h, W2, b2)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    np.random.seed(0)
    x = np.random.rand(100, 1)
    y = np.sin(2 * np.pi * x) + np.random.rand(100, 1)

    hidden = 10
    W1 = Variable(0.01 * np.random.randn(1, hidden))
    b1 = Variable(np.zeros(hidden))
    W2 = Variable(0.01 * np.random.randn(hidden, 1))
    b2 = Variable(np.zeros(1))
    params = [W1, b1, W2, b2]

    lr = 0.2
    iters = 1000 if opts.quick else 10000
    losses = []
    for i in range(iters):
        loss = F.mean_squared_error(y, predict(x, params))
        for p in params:
            p.cleargrad()
        loss.backward()
        for p in params:
            p.data -= lr * p.grad.data
        losses.append(loss.data.item())
        if i % (iters // 10) == 0 or i == iters - 1:
            print(f"iter {i:5d}: loss = {loss.data.item():.5f}")
    print(
        f"final loss after {iters} iterations: {loss.data.item():.5f}"
        " (the noise alone, uniform on [0, 1), has variance 1/12 = 0.0833)"
    )

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    grid = np.linspace(0, 1, 200)[:, np.newaxis]
    plt.figure(figsize=(5, 4))
    plt.scatter(x, y, s=10, label="data")
    plt.plot(grid, predict(grid, params).data, color="tab:red", label="network")
    plt.legend()
    out = opts.path("step43_sin_fit.png")
    plt.savefig(out, dpi=100)
    print(f"plot written to {out}")

    return {"losses": losses, "plot": out}


if __name__ == "__main__":
    main()
