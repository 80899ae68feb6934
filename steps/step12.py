"""Step 12: functions with several inputs, made pleasant.

Python's ``*args`` lets ``__call__`` take the inputs as separate arguments and
pass the arrays to ``forward`` the same way, so ``forward(self, x0, x1)`` reads
like the math. A single result comes back as itself instead of a one-element
list. With the wrappers, ``add(square(x), square(y))`` is the whole program.
Backward still handles one input only (step 13).
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
            self.grad = np.ones_like(self.data)
        funcs = [self.creator]
        while funcs:
            f = funcs.pop()
            x, y = f.inputs[0], f.outputs[0]
            x.grad = f.backward(y.grad)
            if x.creator is not None:
                funcs.append(x.creator)


def as_array(x):
    if np.isscalar(x):
        return np.array(x)
    return x


class Function:
    def __call__(self, *inputs):
        xs = [x.data for x in inputs]
        ys = self.forward(*xs)
        if not isinstance(ys, tuple):
            ys = (ys,)  # forward may return one array; treat it as a 1-tuple
        outputs = [Variable(as_array(y)) for y in ys]
        for output in outputs:
            output.set_creator(self)
        self.inputs = inputs
        self.outputs = outputs
        return outputs if len(outputs) > 1 else outputs[0]

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, gy):
        raise NotImplementedError(f"{type(self).__name__}.backward")


class Add(Function):
    def forward(self, x0, x1):
        return x0 + x1


class Square(Function):
    def forward(self, x):
        return x**2

    def backward(self, gy):
        return 2 * self.inputs[0].data * gy


def add(x0, x1):
    return Add()(x0, x1)


def square(x):
    return Square()(x)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(2.0))
    y = Variable(np.array(3.0))
    z = add(square(x), square(y))
    print(f"add(square(2.0), square(3.0)) = {z.data}")

    s = Variable(np.array(-1.5))
    square(square(s)).backward()
    print(f"d(s^4)/ds at -1.5 = {s.grad} (4 s^3 = {4 * (-1.5) ** 3})")

    return {"z": float(z.data), "s_grad": float(s.grad)}


if __name__ == "__main__":
    main()
