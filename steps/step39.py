"""Step 39: the sum function.

y = sum(x) adds every element, so dy/dx_i = 1 for each i: backward copies the
incoming gradient to every position of x, which is what broadcasting the
gradient back to x's shape does.

With ``axis`` only some axes are summed; ``keepdims=True`` keeps them as
length-1 axes. Backward first restores the summed axes as length 1 and then
broadcasts, so the gradient always has x's shape.
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
    x = Variable(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    y = F.sum(x)
    y.backward()
    total = [float(y.data), x.grad.data]
    print(f"sum of {x.data.tolist()} = {float(y.data)}; x.grad = {x.grad.data.tolist()}")

    x = Variable(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    y = F.sum(x, axis=0)
    y.backward(grad=np.array([10.0, 20.0, 30.0]))
    axis0 = [y.data, x.grad.data]
    print(f"sum(axis=0) of a (2, 3) matrix: {y.data.tolist()}; seed [10, 20, 30] -> x.grad {x.grad.data.tolist()}")

    x.cleargrad()
    y = x.sum(axis=1, keepdims=True)
    y.backward(grad=np.array([[1.0], [2.0]]))
    axis1 = [y.data, x.grad.data]
    print(f"sum(axis=1, keepdims=True): shape {y.shape}, values {y.data.tolist()}; x.grad {x.grad.data.tolist()}")

    x = Variable(np.random.RandomState(0).randn(2, 3, 4, 5))
    y = x.sum(keepdims=True)
    print(f"sum(keepdims=True) of a {x.shape} tensor has shape {y.shape}")

    return {"total": total, "axis0": axis0, "axis1": axis1, "keepdims_shape": y.shape}


if __name__ == "__main__":
    main()
