"""Step 04: numerical differentiation.

The derivative f'(x) is the limit of (f(x + h) - f(x)) / h. A computer cannot
take the limit, but with a small h the central difference
(f(x + h) - f(x - h)) / 2h is a good estimate (its error shrinks like h^2, the
one-sided version's only like h). It is simple and always available, which
makes it the reference that real gradients are checked against (step 10); it is
also slow (two evaluations per input element) and inexact, which is why the
following steps compute gradients by backpropagation instead.
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
    """Central-difference estimate of the derivative of f at the Variable x."""
    y_plus = f(Variable(x.data + eps))
    y_minus = f(Variable(x.data - eps))
    return (y_plus.data - y_minus.data) / (2 * eps)


def forward_diff(f, x, eps=1e-4):
    """The one-sided estimate, shown only to compare its error."""
    return (f(Variable(x.data + eps)).data - f(x).data) / eps


def composite(x):
    # Fresh Function objects on every call: f is evaluated several times.
    return Square()(Exp()(Square()(x)))


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(2.0))
    square_slope = numerical_diff(Square(), x)
    print(f"d/dx x^2 at 2.0, numerically: {square_slope} (exact 4)")

    x = Variable(np.array(0.5))
    exact = 4 * 0.5 * np.exp(2 * 0.5**2)  # d/dx exp(2x^2) = 4x exp(2x^2)
    central = numerical_diff(composite, x)
    one_sided = forward_diff(composite, x)
    print(f"d/dx exp(2x^2) at 0.5, central difference: {central}")
    print(f"exact value: {exact}")
    print(
        f"error of the central difference: {abs(central - exact):.1e}, "
        f"of the one-sided difference: {abs(one_sided - exact):.1e}"
    )

    return {"square_slope": float(square_slope), "central": float(central), "one_sided": float(one_sided)}


if __name__ == "__main__":
    main()
