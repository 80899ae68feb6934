"""Step 01: a Variable is a box that holds data.

Everything in the framework starts from this box. A Variable keeps a NumPy
array in ``.data``; later steps will hang more on it (its gradient, the
function that produced it), but the box itself stays this simple.
"""

import numpy as np


class Variable:
    def __init__(self, data):
        self.data = data


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(1.0))
    print("x.data =", x.data)

    # The Variable is the name; the array is what it currently holds, and the
    # box can be refilled.
    x.data = np.array(2.0)
    print("after refilling, x.data =", x.data)

    # Any array fits: a scalar (0-d), a vector, a matrix...
    m = Variable(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    print(f"a matrix in a box: ndim = {m.data.ndim}, shape = {m.data.shape}")

    return {"x": float(x.data), "matrix_shape": m.data.shape}


if __name__ == "__main__":
    main()
