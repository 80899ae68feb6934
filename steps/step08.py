"""Step 08: a loop instead of recursion.

Step 07's ``backward`` called itself once per Function, so a long chain runs
into Python's recursion limit (about a thousand nested calls). A list of
Functions still to process does the same walk in a plain loop, however deep the
graph. (The list will also let later steps choose *which* function to process
next, once graphs branch.)
"""

import numpy as np


class Variable:
    def __init__(self, data):
        self.data = data
        self.grad = None
        self.creator = None

    def set_creator(self, func):
        self.creator = func

    def backward(self):
        funcs = [self.creator]
        while funcs:
            f = funcs.pop()
            x, y = f.input, f.output
            x.grad = f.backward(y.grad)
            if x.creator is not None:
                funcs.append(x.creator)


class Function:
    def __call__(self, input):
        x = input.data
        y = self.forward(x)
        output = Variable(y)
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


def backward_recursive(var):
    """Step 07's recursive walk, kept here only to compare."""
    f = var.creator
    if f is not None:
        f.input.grad = f.backward(var.grad)
        backward_recursive(f.input)


def square_chain(depth):
    """x -> x^2 -> x^4 -> ...: at x = 1 every value is 1 and dy/dx = 2^depth."""
    x = Variable(np.array(1.0))
    y = x
    for _ in range(depth):
        y = Square()(y)
    return x, y


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(0.5))
    y = Square()(Exp()(Square()(x)))
    y.grad = np.array(1.0)
    y.backward()
    small_grad = float(x.grad)
    print(f"x.grad = {x.grad}")

    depth = 1000  # 2^1000 is still a float64 (the largest is about 1.8e308)
    x, y = square_chain(depth)
    y.grad = np.array(1.0)
    try:
        backward_recursive(y)
        recursive = "finished"
        print(f"recursive walk over {depth} functions: finished")
    except RecursionError as e:
        recursive = "RecursionError"
        print(f"recursive walk over {depth} functions: RecursionError ({e})")

    x, y = square_chain(depth)
    y.grad = np.array(1.0)
    y.backward()
    print(f"loop over {depth} functions: x.grad = {x.grad} (2**{depth} = {float(2**depth)})")

    return {"x_grad": small_grad, "recursive": recursive, "loop_grad": float(x.grad)}


if __name__ == "__main__":
    main()
