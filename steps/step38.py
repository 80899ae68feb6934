"""Step 38: functions that change a tensor's shape: reshape and transpose.

They move elements without computing anything, so their backward only moves
the gradient back:

- ``reshape(x, shape)``: backward reshapes the gradient to x's shape;
- ``transpose(x, axes)``: backward transposes by the inverse permutation.

Both are also methods, ``x.reshape(...)`` (tuple or separate ints) and
``x.transpose(...)`` / ``x.T``, as on NumPy arrays.
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
    y = F.reshape(x, (6,))
    y.backward(grad=np.arange(6.0))  # a seed that shows where each element goes
    reshape_grad = x.grad.data
    print(f"reshape {x.shape} -> {y.shape}; x.grad.shape after reshape: {x.grad.shape}")
    print("  the seed [0..5] comes back as", x.grad.data.tolist())

    x.cleargrad()
    y = x.reshape(3, 2)  # the method form: tuple or separate ints, as in NumPy
    z = x.reshape((3, 2))
    method_forms = [y.data, z.data]
    print(f"x.reshape(3, 2) and x.reshape((3, 2)) agree: {np.array_equal(y.data, z.data)}")

    y = F.transpose(x)
    y.backward()
    transpose = {"shape": y.shape, "T": x.T.shape, "grad_shape": x.grad.shape}
    print(f"transpose {x.shape} -> {y.shape} (x.T too: {x.T.shape}); x.grad.shape after transpose: {x.grad.shape}")

    a = Variable(np.random.RandomState(0).randn(1, 2, 3, 4))
    axes = (1, 2, 3, 0)
    b = a.transpose(*axes)
    seed = np.arange(b.size, dtype=float).reshape(b.shape)
    b.backward(grad=seed)
    inverse = tuple(int(i) for i in np.argsort(axes))  # where each axis went, read backwards
    ok = np.array_equal(a.grad.data, seed.transpose(inverse))
    print(
        f"transpose axes {axes}: {a.shape} -> {b.shape}; gradient moved back by the inverse permutation {inverse}: {ok}"
    )

    return {
        "reshape_grad": reshape_grad,
        "method_forms": method_forms,
        "transpose": transpose,
        "axes": axes,
        "shape": b.shape,
        "seed": seed,
        "grad": a.grad.data,
    }


if __name__ == "__main__":
    main()
