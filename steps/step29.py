"""Step 29: Newton's method, second derivative written by hand.

Gradient descent steps ``x -= lr * f'(x)`` with a learning rate picked by
hand. Newton's method instead fits a parabola to f at x (its second-order
Taylor expansion) and jumps to the parabola's minimum:

    x <- x - f'(x) / f''(x)

For f(x) = x^4 - 2x^2 (minima at x = +-1) the first derivative comes from
backward; the second, f''(x) = 12x^2 - 4, is typed in by hand here (step 33
gets it from backward too). Starting at x = 2, Newton needs a handful of
iterations where gradient descent needs over a hundred.

Like the book, this step runs on ``dezero.core_simple`` (see step 23). Its
gradients are plain arrays, which is exactly why f'' has to be typed in: the
gradient carries no graph that backward could walk again. That changes next.
"""

import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dezero.core_simple import Variable, setup_variable  # the core of steps 23-32

setup_variable()


def f(x):
    return x**4 - 2 * x**2


def f2_by_hand(x: np.ndarray) -> np.ndarray:
    return 12 * x**2 - 4


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(2.0))
    iterates = []
    for i in range(10):
        y = f(x)
        x.cleargrad()
        y.backward()
        step = x.grad / f2_by_hand(x.data)  # core_simple's gradients are arrays
        iterates.append(float(x.data))
        print(f"iter {i}: x = {float(x.data):.15f}   f'(x) = {float(x.grad):.3e}")
        if abs(step) < 1e-15:
            break
        x.data -= step
    newton_iters = i
    newton_x = float(x.data)
    print(f"Newton's method converged to x = {newton_x} in {newton_iters} iterations")

    # The same start with gradient descent, for comparison.
    x = Variable(np.array(2.0))
    lr = 0.01
    for i in range(10000):
        y = f(x)
        x.cleargrad()
        y.backward()
        if abs(float(x.data) - 1.0) < 1e-10:
            break
        x.data -= lr * x.grad
    print(f"gradient descent (lr={lr}) needs {i} iterations to get within 1e-10 of 1.0")

    return {"iterates": iterates, "newton_iters": newton_iters, "newton_x": newton_x, "descent_iters": i}


if __name__ == "__main__":
    main()
