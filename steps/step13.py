"""Step 13: backward through functions with several inputs and outputs.

A Function's ``backward`` now receives one gradient per output and returns one
per input (a tuple when there are several). The engine collects the outputs'
gradients, calls backward, and hands each input its own gradient. Addition
passes the incoming gradient unchanged to both inputs: d(x0 + x1)/dx0 = 1.

One gap remains, shown at the end: a Variable used twice gets the wrong
gradient. Step 14 fixes it.
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
            gys = [output.grad for output in f.outputs]
            gxs = f.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(f.inputs, gxs):
                x.grad = gx  # overwrites: the flaw step 14 fixes
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


class Exp(Function):
    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        return np.exp(self.inputs[0].data) * gy


def add(x0, x1):
    return Add()(x0, x1)


def square(x):
    return Square()(x)


def exp(x):
    return Exp()(x)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(2.0))
    y = Variable(np.array(3.0))
    z = add(square(x), square(y))
    z.backward()
    print(f"z = x^2 + y^2 at (2.0, 3.0): z = {z.data}, x.grad = {x.grad}, y.grad = {y.grad}")

    u = Variable(np.array(1.5))
    w = Variable(np.array(-2.0))
    v = exp(add(square(u), w))  # exp(u^2 + w): dv/du = 2u v, dv/dw = v
    v.backward()
    print(f"v = exp(u^2 + w) at (1.5, -2.0): v = {v.data}, u.grad = {u.grad}, w.grad = {w.grad}")

    a = Variable(np.array(3.0))
    b = add(a, a)
    b.backward()
    print(f"b = a + a: a.grad = {a.grad}, but d(2a)/da = 2 (fixed in step 14)")

    return {
        "z": float(z.data),
        "x_grad": float(x.grad),
        "y_grad": float(y.grad),
        "v": float(v.data),
        "u_grad": float(u.grad),
        "w_grad": float(w.grad),
        "a_grad": float(a.grad),
    }


if __name__ == "__main__":
    main()
