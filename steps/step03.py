"""Step 03: functions compose.

Because a Function takes a Variable and returns a Variable, the output of one
can be fed to the next: a chain of small functions builds a bigger one. Here
y = square(exp(square(x))), which is exp(2 x^2).
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


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    A, B, C = Square(), Exp(), Square()
    x = Variable(np.array(0.5))
    a = A(x)
    b = B(a)
    y = C(b)
    print(f"x = {x.data}, a = x^2 = {a.data}, b = exp(a) = {b.data}")
    print(f"square(exp(square(0.5))) = {y.data}")
    print(f"closed form exp(2 * 0.5^2) = {np.exp(2 * 0.5**2)}")

    return {"a": float(a.data), "b": float(b.data), "y": float(y.data)}


if __name__ == "__main__":
    main()
