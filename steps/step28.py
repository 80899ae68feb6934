"""Step 28: gradient descent on the Rosenbrock function.

    y = 100 (x1 - x0^2)^2 + (1 - x0)^2

has its minimum y = 0 at (1, 1), at the bottom of a long, curved, almost flat
valley: the gradient points mostly across the valley, not along it, so
gradient descent with a step small enough not to diverge crawls.

Each iteration: forward, clear the old gradients, backward, and move every
input a little against its gradient, ``x -= lr * dy/dx``. The path is plotted
over the function's contour lines.

Like the book, this step runs on ``dezero.core_simple`` (see step 23), whose
gradients are plain arrays: ``x0.data -= lr * x0.grad``.
"""

import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dezero.core_simple import Variable, setup_variable  # the core of steps 23-32

from _quick import options  # steps/_quick.py: the --quick and --out switches

setup_variable()


def rosenbrock(x0, x1):
    return 100 * (x1 - x0**2) ** 2 + (1 - x0) ** 2


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    iters = 2000 if opts.quick else 50000
    lr = 0.001

    x0 = Variable(np.array(0.0))
    x1 = Variable(np.array(2.0))
    y = rosenbrock(x0, x1)
    y.backward()
    # By hand: dy/dx0 = -400 x0 (x1 - x0^2) - 2 (1 - x0), dy/dx1 = 200 (x1 - x0^2).
    first_gradient = [float(x0.grad), float(x1.grad)]
    print(f"gradient at (0, 2): ({first_gradient[0]}, {first_gradient[1]})  (by hand: (-2.0, 400.0))")

    path = [(0.0, 2.0)]
    report_every = iters // 10
    for i in range(iters):
        y = rosenbrock(x0, x1)
        x0.cleargrad()  # gradients accumulate: clear the previous iteration's first
        x1.cleargrad()
        y.backward()
        x0.data -= lr * x0.grad  # core_simple's gradients are arrays
        x1.data -= lr * x1.grad
        if (i + 1) % report_every == 0:
            print(f"iter {i + 1:6d}: x0 = {float(x0.data):.6f}, x1 = {float(x1.data):.6f}, y = {float(y.data):.3e}")
        if i % 50 == 0:
            path.append((float(x0.data), float(x1.data)))
    path.append((float(x0.data), float(x1.data)))
    print(f"after {iters} iterations: ({float(x0.data):.5f}, {float(x1.data):.5f}); the minimum is (1, 1)")

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    a, b = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-1, 3, 200))
    plt.figure(figsize=(6, 5))
    plt.contour(a, b, rosenbrock(a, b), levels=np.logspace(-1, 3.5, 15), cmap="viridis")
    p = np.array(path)
    plt.plot(p[:, 0], p[:, 1], ".-", color="tab:red", markersize=3, label="gradient descent")
    plt.plot([1], [1], "*", color="black", markersize=12, label="minimum (1, 1)")
    plt.xlabel("x0")
    plt.ylabel("x1")
    plt.legend()
    plt.title(f"Rosenbrock, lr={lr}, {iters} iterations")
    out = opts.path("step28_rosenbrock.png")
    plt.savefig(out, dpi=100)
    print(f"path plotted to {out}")

    return {"first_gradient": first_gradient, "iters": iters, "lr": lr, "final": path[-1]}


if __name__ == "__main__":
    main()
