"""Step 14: using the same Variable more than once.

In y = x + x, the gradient reaches x along two paths, and the chain rule says
to *add* the contributions: dy/dx = 1 + 1. The engine now accumulates instead
of overwriting. Because gradients accumulate, a Variable reused for a second,
unrelated computation must be reset first: ``cleargrad()``.
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

    def cleargrad(self):
        self.grad = None

    def backward(self):
        if self.grad is None:
            self.grad = np.ones_like(self.data)
        funcs = [self.creator]
        while funcs:
            f = funcs.pop()
            gys = [output.grad for output in f.outputs]
            gxs = f.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(f.inputs, gxs):
                if x.grad is None:
                    x.grad = gx
                else:
                    # A new array, not `x.grad += gx`: Add's backward hands the
                    # *same* array to both inputs (and it is also y.grad), so an
                    # in-place sum would silently change those too.
                    x.grad = x.grad + gx
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
            ys = (ys,)
        outputs = [Variable(as_array(y)) for y in ys]
        for output in outputs:
            output.set_creator(self)
        self.inputs = inputs
        self.outputs = outputs
        return outputs if len(outputs) > 1 else outputs[0]

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__}.backward")


class Add(Function):
    def forward(self, x0, x1):
        return x0 + x1

    def backward(self, gy):
        return gy, gy


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
    x = Variable(np.array(3.0))
    y = add(x, x)
    y.backward()
    grads = [float(x.grad)]
    print(f"y = x + x: x.grad = {x.grad}")

    # A second computation with the same x: without cleargrad the old gradient
    # would still be in x.grad and the new one would be added to it.
    y = add(add(x, x), x)
    y.backward()
    grads.append(float(x.grad))
    print(f"y = x + x + x without cleargrad: x.grad = {x.grad} (2 left over + 3)")
    x.cleargrad()
    y = add(add(x, x), x)
    y.backward()
    grads.append(float(x.grad))
    print(f"y = x + x + x after cleargrad: x.grad = {x.grad}")

    x.cleargrad()
    y = add(square(x), x)  # x^2 + x: 2x + 1 = 7 at 3
    y.backward()
    print(f"y = x^2 + x: x.grad = {x.grad}")

    grads.append(float(x.grad))
    return {"grads": grads}


if __name__ == "__main__":
    main()
