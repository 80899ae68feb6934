"""Step 02: a Function turns Variables into Variables.

A Function unboxes its input, computes on the raw array in ``forward`` and puts
the result in a new box. The unboxing and boxing live in the base class, so a
concrete function such as Square only says what it computes.
"""

import numpy as np


class Variable:
    def __init__(self, data):
        self.data = data


class Function:
    def __call__(self, input):
        x = input.data
        y = self.forward(x)
        return Variable(y)

    def forward(self, x):
        # Each subclass supplies its own computation.
        raise NotImplementedError(f"{type(self).__name__}.forward")


class Square(Function):
    def forward(self, x):
        return x**2


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(10.0))
    y = Square()(x)
    print(f"Square()(x) with x.data = {x.data}: a {type(y).__name__} holding {y.data}")

    # NumPy does the work, so arrays of any shape are squared element by element.
    v = Square()(Variable(np.array([1.0, 2.0, 3.0])))
    print("squared elementwise:", v.data)

    try:
        Function()(x)
    except NotImplementedError as e:
        print("the base class computes nothing by itself:", type(e).__name__, e)

    return {"y": float(y.data), "squared": v.data.tolist(), "y_is_variable": type(y) is Variable}


if __name__ == "__main__":
    main()
