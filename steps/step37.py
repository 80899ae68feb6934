"""Step 37: working with tensors.

Nothing so far assumed the data was a scalar. An elementwise Function (sin,
+, *) applies to every element independently, and its backward does too, so
Variables holding vectors, matrices or any n-d array just work:

- the output has the shape of the input,
- the gradient of each input has the shape of that input: x.grad[i, j] is
  the derivative of the final scalar with respect to x[i, j].

When the output is not a scalar, ``backward()`` starts from a seed of ones of
its shape, which is the gradient of sum(y): each element's own derivative.
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


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    c = Variable(np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]]))
    y = F.sin(x)
    print(f"sin of a {x.shape} tensor has shape {y.shape}")

    t = x + c
    y = F.sum(t)  # a scalar again (sum comes in step 39; its gradient is all ones)
    y.backward(retain_grad=True)
    total = float(y.data)
    grad_shapes = [x.grad.shape, c.grad.shape, t.grad.shape]
    sum_grad = x.grad.data
    print(f"y = sum(x + c) = {float(y.data)}")
    print(f"x.grad.shape = {x.grad.shape}, c.grad.shape = {c.grad.shape}, t.grad.shape = {t.grad.shape}")
    print("x.grad =", x.grad.data.tolist())

    x.cleargrad()
    y = x * x  # not a scalar: the seed is ones, so x.grad = 2x elementwise
    y.backward()
    print("d/dx of x * x, elementwise:", x.grad.data.tolist(), "= 2x:", np.array_equal(x.grad.data, 2 * x.data))

    return {
        "sin_shape": F.sin(x).shape,
        "sum": total,
        "grad_shapes": grad_shapes,
        "sum_grad": sum_grad,
        "x": x.data,
        "square_grad": x.grad.data,
    }


if __name__ == "__main__":
    main()
