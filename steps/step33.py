"""Step 33: Newton's method with automatic second derivatives.

Step 29 typed f''(x) in by hand. With ``create_graph=True`` (step 32) backward
provides it: one backward for f', a second one through f' for f''. Newton's
update ``x <- x - f'(x) / f''(x)`` then needs nothing but the formula of f.

    f(x) = x^4 - 2x^2, starting at x = 2: the iterates reach the minimum x = 1.
"""

import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dezero import Variable


def f(x):
    return x**4 - 2 * x**2


def newton_step(x: Variable) -> float:
    """Move x by -f'(x)/f''(x) in place; return the size of the step."""
    y = f(x)
    x.cleargrad()
    y.backward(create_graph=True)
    gx = x.grad
    x.cleargrad()  # the second backward must not add onto f'
    gx.backward()
    gx2 = x.grad
    step = gx.data / gx2.data
    x.data -= step
    return abs(float(step))


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(2.0))
    iterates = []
    for i in range(20):
        iterates.append(float(x.data))
        print(f"iter {i}: x = {float(x.data):.15f}")
        if newton_step(x) < 1e-15:
            break
    print(f"Newton's method (automatic f'') converged to x = {float(x.data)} after {i} steps")

    # Every iterate of step 29's hand-written version, reproduced exactly.
    converged = float(x.data)
    x_auto = Variable(np.array(2.0))
    x_hand = 2.0
    for _ in range(5):
        newton_step(x_auto)
        x_hand -= (4 * x_hand**3 - 4 * x_hand) / (12 * x_hand**2 - 4)
    print(f"after 5 steps: automatic {float(x_auto.data):.15f}, hand-written {x_hand:.15f}")

    return {"iterates": iterates, "converged": converged, "auto": float(x_auto.data), "hand": x_hand}


if __name__ == "__main__":
    main()
