"""Step 40: broadcasting and its mirror image, sum_to.

NumPy stretches length-1 (or missing leading) axes so that arrays of
different shapes can be added: (3,) + (2, 3) adds the vector to each row.
dezero makes this explicit with two Functions that are each other's backward:

- ``broadcast_to(x, shape)`` copies x along the new axes; an element of x
  contributed to several outputs, so its gradient is the SUM of theirs;
- ``sum_to(x, shape)`` sums the extra axes away; its backward broadcasts.

The arithmetic operators broadcast as NumPy does, and their backward sums each
input's gradient back to that input's shape.
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
    x = Variable(np.array([1.0, 2.0, 3.0]))
    y = F.broadcast_to(x, (2, 3))
    y.backward()
    broadcast = [y.data, x.grad.data]
    print(f"broadcast_to (3,) -> {y.shape}: {y.data.tolist()}; x.grad = {x.grad.data.tolist()} (two copies each)")

    x = Variable(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    y = F.sum_to(x, (1, 3))
    y.backward()
    sum_to = [y.data, x.grad.data]
    print(f"sum_to (2, 3) -> (1, 3): {y.data.tolist()}; x.grad = {x.grad.data.tolist()}")

    x0 = Variable(np.array([1.0, 2.0, 3.0]))
    x1 = Variable(np.array([10.0]))
    y = x0 + x1  # x1 is broadcast to (3,)
    y.backward()
    print(
        f"x0 (3,) + x1 (1,) = {y.data.tolist()}; x0.grad = {x0.grad.data.tolist()}, x1.grad = {x1.grad.data.tolist()}"
    )

    a = Variable(np.ones((2, 1, 4)))
    b = Variable(np.ones((3, 1)))
    c = a * b  # (2, 1, 4) * (3, 1) -> (2, 3, 4)
    c.backward()
    print(
        f"(2, 1, 4) * (3, 1) -> {c.shape}; a.grad.shape = {a.grad.shape}, b.grad.shape = {b.grad.shape}, "
        f"b.grad = {b.grad.data.ravel().tolist()} (each b element meets 2 * 4 = 8 outputs)"
    )

    return {
        "broadcast": broadcast,
        "sum_to": sum_to,
        "add": [y.data, x0.grad.data, x1.grad.data],
        "mul_shapes": [c.shape, a.grad.shape, b.grad.shape],
        "b_grad": b.grad.data,
    }


if __name__ == "__main__":
    main()
