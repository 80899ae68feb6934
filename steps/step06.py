"""Step 06: backpropagation by hand.

Each Variable gets a ``grad`` slot, and each Function a ``backward`` method
that turns the gradient arriving at its output into the gradient at its input:
gy (dy/d output) times the local derivative. To compute the local derivative a
Function needs its input, so ``__call__`` now remembers it. We still call the
backward methods ourselves, in reverse order; step 07 automates that.
"""

import numpy as np


class Variable:
    def __init__(self, data):
        self.data = data
        self.grad = None  # filled in by backpropagation


class Function:
    def __call__(self, input):
        x = input.data
        y = self.forward(x)
        self.input = input  # backward needs the value the forward pass saw
        return Variable(y)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, gy):
        raise NotImplementedError(f"{type(self).__name__}.backward")


class Square(Function):
    def forward(self, x):
        return x**2

    def backward(self, gy):
        x = self.input.data
        return 2 * x * gy


class Exp(Function):
    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        x = self.input.data
        return np.exp(x) * gy


def numerical_diff(f, x, eps=1e-4):
    y_plus = f(Variable(x.data + eps))
    y_minus = f(Variable(x.data - eps))
    return (y_plus.data - y_minus.data) / (2 * eps)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    A, B, C = Square(), Exp(), Square()
    x = Variable(np.array(0.5))
    a = A(x)
    b = B(a)
    y = C(b)

    # Backward, in the reverse order of the forward calls.
    y.grad = np.array(1.0)  # dy/dy
    b.grad = C.backward(y.grad)
    a.grad = B.backward(b.grad)
    x.grad = A.backward(a.grad)
    print(f"x.grad = {x.grad}")
    print(f"closed form 4x exp(2x^2) = {4 * 0.5 * np.exp(0.5)}")
    numeric = numerical_diff(lambda v: Square()(Exp()(Square()(v))), x)
    print(f"numerically: {numeric}")

    return {"x_grad": float(x.grad), "numeric": float(numeric)}


if __name__ == "__main__":
    main()
