"""Step 09: making the functions easier to use.

Three conveniences:
- plain Python functions ``square(x)`` and ``exp(x)`` hide the ``Square()(x)``
  pattern (and make sure every call gets a fresh Function object);
- ``backward()`` starts from dy/dy = 1 by itself when no gradient was set;
- only NumPy arrays go into a Variable. A clear TypeError at the door is better
  than a confusing failure deep inside a computation. Because NumPy turns the
  result of an operation on a 0-d array into a NumPy scalar (``np.float64``),
  Function outputs are converted back to arrays with ``as_array``.
"""

import numpy as np


class Variable:
    def __init__(self, data):
        if data is not None and not isinstance(data, np.ndarray):
            raise TypeError(f"Variable(data): expected numpy.ndarray, got {type(data).__name__}")
        self.data = data
        self.grad = None
        self.creator = None

    def set_creator(self, func):
        self.creator = func

    def backward(self):
        if self.grad is None:
            # dy/dy = 1, in y's shape and dtype.
            self.grad = np.ones_like(self.data)
        funcs = [self.creator]
        while funcs:
            f = funcs.pop()
            x, y = f.input, f.output
            x.grad = f.backward(y.grad)
            if x.creator is not None:
                funcs.append(x.creator)


def as_array(x):
    """NumPy returns scalars from 0-d computations; box them back into arrays."""
    if np.isscalar(x):
        return np.array(x)
    return x


class Function:
    def __call__(self, input):
        x = input.data
        y = self.forward(x)
        output = Variable(as_array(y))
        output.set_creator(self)
        self.input = input
        self.output = output
        return output

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, gy):
        raise NotImplementedError(f"{type(self).__name__}.backward")


class Square(Function):
    def forward(self, x):
        return x**2

    def backward(self, gy):
        return 2 * self.input.data * gy


class Exp(Function):
    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        return np.exp(self.input.data) * gy


def square(x):
    return Square()(x)


def exp(x):
    return Exp()(x)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(0.5))
    y = square(exp(square(x)))  # reads like the math
    y.backward()  # no y.grad = np.array(1.0) needed
    print(f"x.grad = {x.grad}")

    print(
        f"(0-d array) ** 2 in NumPy is a {type(np.array(3.0) ** 2).__name__}; "
        f"square(x).data is a {type(square(Variable(np.array(3.0))).data).__name__}"
    )

    refused = []
    for bad in (1.0, [1.0, 2.0]):
        try:
            Variable(bad)
        except TypeError as e:
            refused.append(str(e))
            print(f"Variable({bad!r}) -> TypeError: {e}")
    print("Variable(None) is allowed (an empty box):", Variable(None).data)

    return {
        "x_grad": float(x.grad),
        "square_data_type": type(square(Variable(np.array(3.0))).data).__name__,
        "refused": refused,
    }


if __name__ == "__main__":
    main()
