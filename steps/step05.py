"""Step 05: backpropagation is the chain rule, evaluated from the output back.

For y = C(B(A(x))) with a = A(x) and b = B(a), the chain rule says

    dy/dx = dy/db * db/da * da/dx = C'(b) * B'(a) * A'(x).

A product can be multiplied in any order, but multiplying from the output side
(dy/dy = 1, then dy/db, then dy/da, then dy/dx) has an advantage: every
intermediate result is "the derivative of the final output with respect to
this variable", which is exactly what a Function needs to pass to the one
before it. That is backpropagation. Nothing new is added to the framework
here; this step checks the idea by hand against step 04's numerical estimate.
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
        raise NotImplementedError(f"{type(self).__name__}.forward")


class Square(Function):
    def forward(self, x):
        return x**2


class Exp(Function):
    def forward(self, x):
        return np.exp(x)


def numerical_diff(f, x, eps=1e-4):
    y_plus = f(Variable(x.data + eps))
    y_minus = f(Variable(x.data - eps))
    return (y_plus.data - y_minus.data) / (2 * eps)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(0.75))
    a = Square()(x)
    b = Exp()(a)
    y = Square()(b)

    # The local derivatives, each known from its own function alone:
    # (x^2)' = 2x and (e^a)' = e^a. Note they need the forward values a and b,
    # which is why later steps keep each Function's input around.
    dy_dy = np.array(1.0)
    dy_db = dy_dy * (2 * b.data)  # C = square, evaluated at b
    dy_da = dy_db * np.exp(a.data)  # B = exp, evaluated at a
    dy_dx = dy_da * (2 * x.data)  # A = square, evaluated at x
    print(f"dy/db = {dy_db}")
    print(f"dy/da = {dy_da}")
    print(f"dy/dx by the chain rule, output to input: {dy_dx}")

    def f(v):
        return Square()(Exp()(Square()(v)))

    numeric = numerical_diff(f, x)
    print(f"dy/dx numerically (step 04): {numeric}")
    print(f"closed form d/dx exp(2x^2) = 4x exp(2x^2) = {4 * 0.75 * np.exp(2 * 0.75**2)}")

    return {
        "y": float(y.data),
        "dy_db": float(dy_db),
        "dy_da": float(dy_da),
        "dy_dx": float(dy_dx),
        "numeric": float(numeric),
    }


if __name__ == "__main__":
    main()
