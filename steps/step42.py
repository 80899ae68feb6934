"""Step 42: linear regression.

The first model fitted with dezero: y = x W + b, one input feature, on 100
noisy points around y = 5 + 2x. The loss is the mean squared error; each
iteration computes it, backpropagates, and moves W and b against their
gradients (plain gradient descent, learning rate 0.1).

Linear least squares also has a closed-form solution (the normal equations);
gradient descent should end up next to it, which the step checks.
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


def predict(x, W, b):
    return F.matmul(x, W) + b


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    np.random.seed(0)
    x = np.random.rand(100, 1)
    y = 5 + 2 * x + np.random.rand(100, 1)  # noise in [0, 1): the intercept will come out near 5.5

    W = Variable(np.zeros((1, 1)))
    b = Variable(np.zeros(1))
    lr = 0.1
    iters = 1000
    for i in range(iters):
        y_pred = predict(x, W, b)
        loss = F.mean_squared_error(y, y_pred)
        W.cleargrad()
        b.cleargrad()
        loss.backward()
        W.data -= lr * W.grad.data
        b.data -= lr * b.grad.data
        if i % 100 == 0 or i == iters - 1:
            print(f"iter {i:3d}: W = {W.data.item():.5f}, b = {b.data.item():.5f}, loss = {loss.data.item():.5f}")

    # Closed form: minimise |A [W, b] - y|^2 with A = [x, 1].
    A = np.hstack([x, np.ones_like(x)])
    (W_best, b_best), *_ = np.linalg.lstsq(A, y[:, 0], rcond=None)
    print(f"gradient descent: W = {W.data.item():.4f}, b = {b.data.item():.4f}")
    print(f"least squares:    W = {W_best:.4f}, b = {b_best:.4f}")

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    plt.figure(figsize=(5, 4))
    plt.scatter(x, y, s=10, label="data")
    grid = np.array([[0.0], [1.0]])
    plt.plot(grid, predict(grid, W, b).data, color="tab:red", label="y = x W + b")
    plt.xlabel("x")
    plt.ylabel("y")
    plt.legend()
    out = opts.path("step42_linear_regression.png")
    plt.savefig(out, dpi=100)
    print(f"plot written to {out}")

    return {"W": W.data.item(), "b": b.data.item(), "x": x, "y": y, "plot": out}


if __name__ == "__main__":
    main()
