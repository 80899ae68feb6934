"""Step 32: higher-order derivatives, the implementation.

With ``backward(create_graph=True)`` the gradient keeps its graph, so a second
backward through ``x.grad`` gives the second derivative. One detail matters:
gradients accumulate, so x.grad must be cleared between the two passes, or the
second derivative would be added to the first.

    f(x) = x^4 - 2x^2      f'(x) = 4x^3 - 4x      f''(x) = 12x^2 - 4
    at x = 2:              f'(2) = 24             f''(2) = 44

``dezero.grad(y, x, create_graph=True)`` is the same thing as a function
call: it returns the gradient instead of storing it in ``x.grad``, so nothing
needs clearing. Without create_graph the backward pass records nothing, which
is why first-order training pays nothing for this feature.
"""

import os
import sys

import numpy as np

try:
    import dezero
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dezero
from dezero import Variable


def f(x):
    return x**4 - 2 * x**2


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(2.0))
    y = f(x)
    y.backward(create_graph=True)
    gx = x.grad
    first = float(gx.data)
    print(f"f'(2)  = {first}   (4x^3 - 4x = 24)")

    x.cleargrad()  # otherwise the next backward adds f'' to the f' stored in x.grad
    gx.backward()
    second = float(x.grad.data)
    print(f"f''(2) = {second}   (12x^2 - 4 = 44)")

    # The functional form: nothing stored, nothing to clear.
    x = Variable(np.array(2.0))
    g1 = dezero.grad(f(x), x, create_graph=True)
    g2 = dezero.grad(g1, x, create_graph=True)
    g3 = dezero.grad(g2, x)
    print(f"dezero.grad: f' = {float(g1.data)}, f'' = {float(g2.data)}, f''' = {float(g3.data)}   (f''' = 24x = 48)")

    x = Variable(np.array(2.0))
    y = f(x)
    y.backward()
    print(
        f"without create_graph: x.grad = {float(x.grad.data)}, recorded graph behind it: "
        f"{'none' if x.grad.creator is None else type(x.grad.creator).__name__}"
    )

    return {
        "first": first,
        "second": second,
        "grad_function": [float(g1.data), float(g2.data), float(g3.data)],
        "plain_grad": float(x.grad.data),
        "plain_creator": x.grad.creator,
    }


if __name__ == "__main__":
    main()
