"""Step 24: derivatives of functions that optimizers are tested on.

Three classic benchmark functions of two variables, written exactly as their
formulas read, thanks to the operator overloading of the previous steps:

    sphere          z = x^2 + y^2
    Matyas          z = 0.26 (x^2 + y^2) - 0.48 x y
    Goldstein-Price z = [1 + (x + y + 1)^2 (19 - 14x + 3x^2 - 14y + 6xy + 3y^2)]
                      * [30 + (2x - 3y)^2 (18 - 32x + 12x^2 + 48y - 36xy + 27y^2)]

One ``backward()`` gives both partial derivatives at (1, 1). The first two are
checked against their derivatives by hand; all three against central
differences, which need no calculus at all.

This step runs on ``dezero.core_simple``, the core that steps 23-32 build
(see step 23): its gradients are plain NumPy arrays, hence ``float(x.grad)``.
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


def sphere(x, y):
    return x**2 + y**2


def matyas(x, y):
    return 0.26 * (x**2 + y**2) - 0.48 * x * y


def goldstein(x, y):
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
    return a * b


def numerical_partials(f, x0: float, y0: float, eps: float = 1e-6):
    """Central differences of f in x and in y, on plain floats."""
    dx = (f(x0 + eps, y0) - f(x0 - eps, y0)) / (2 * eps)
    dy = (f(x0, y0 + eps) - f(x0, y0 - eps)) / (2 * eps)
    return dx, dy


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    by_hand = {
        "sphere": lambda x, y: (2 * x, 2 * y),
        "matyas": lambda x, y: (0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x),
        "goldstein": None,  # too long to differentiate by hand; -5376 and 8064 at (1, 1)
    }
    results = {}
    for name, f in [("sphere", sphere), ("matyas", matyas), ("goldstein", goldstein)]:
        x = Variable(np.array(1.0))
        y = Variable(np.array(1.0))
        z = f(x, y)
        z.backward()
        gx, gy = float(x.grad), float(y.grad)
        nx, ny = numerical_partials(f, 1.0, 1.0)
        results[name] = {"z": float(z.data), "grad": [gx, gy], "numerical": [nx, ny]}
        line = f"{name:<10} z = {float(z.data):.6g}  dz/dx = {gx:.6g}  dz/dy = {gy:.6g}  (numerical: {nx:.6g}, {ny:.6g}"
        if by_hand[name] is not None:
            hx, hy = by_hand[name](1.0, 1.0)
            line += f"; by hand: {hx:.6g}, {hy:.6g}"
        print(line + ")")

    return results


if __name__ == "__main__":
    main()
