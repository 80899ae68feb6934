"""Step 07: backpropagation runs by itself.

To go backward without our help, the graph must be walkable from the output:
every Variable records its ``creator`` (the Function that made it) and every
Function its ``input`` and ``output``. Then ``y.backward()`` can ask its creator
for the input's gradient and hand the job on to that input. This first version
does it recursively; step 08 explains why a loop is better.
"""

import numpy as np


class Variable:
    def __init__(self, data):
        self.data = data
        self.grad = None
        self.creator = None  # None for a Variable the user made (a leaf)

    def set_creator(self, func):
        self.creator = func

    def backward(self):
        f = self.creator
        if f is not None:
            x = f.input
            x.grad = f.backward(self.grad)
            x.backward()  # the input continues the walk toward the leaves


class Function:
    def __call__(self, input):
        x = input.data
        y = self.forward(x)
        output = Variable(y)
        output.set_creator(self)  # the link backward will follow
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


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    A, B, C = Square(), Exp(), Square()
    x = Variable(np.array(0.5))
    a = A(x)
    b = B(a)
    y = C(b)

    # The links, followed from the output back to the input:
    assert y.creator is C and C.input is b
    assert b.creator is B and B.input is a
    assert a.creator is A and A.input is x
    assert x.creator is None
    chain = []
    v = y
    while v.creator is not None:
        chain.append(type(v.creator).__name__)
        v = v.creator.input
    print("walking back from y:", " <- ".join(chain), "<- x")

    y.grad = np.array(1.0)
    y.backward()
    print(f"x.grad = {x.grad}")

    return {"chain": chain, "x_grad": float(x.grad)}


if __name__ == "__main__":
    main()
