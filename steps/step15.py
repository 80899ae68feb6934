"""Step 15: complex graphs, and why the order of backward matters.

So far each Function's output fed exactly one other Function, and any order
that walks from the output to the inputs worked. Real graphs branch and join:
below, a = x^2 feeds two Functions whose results are added,

          +-- square --+
    x -- square(a)     add -- y        y = a^2 + a^2 = 2 x^4,  dy/dx = 8 x^3
          +-- square --+

A Function may only run its backward once *all* the gradient for its output has
arrived, i.e. after every Function that uses the output. Step 14's engine
(reproduced here unchanged) processes a Function as soon as it meets it, so
the Square that makes ``a`` runs twice, each time with part of a's gradient,
and x collects too much. This step only shows the problem; step 16 fixes it by
numbering the graph's "generations".
"""

import numpy as np

# Which Functions the engine processed, in order: instrumentation for this demo.
backward_log = []


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
            backward_log.append(f)
            gys = [output.grad for output in f.outputs]
            gxs = f.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(f.inputs, gxs):
                x.grad = gx if x.grad is None else x.grad + gx
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


def numerical_diff(f, x, eps=1e-4):
    y_plus = f(Variable(as_array(x.data + eps)))
    y_minus = f(Variable(as_array(x.data - eps)))
    return (y_plus.data - y_minus.data) / (2 * eps)


def diamond(x):
    a = square(x)
    return add(square(a), square(a))


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(2.0))
    y = diamond(x)
    y.backward()
    print(f"y = 2 x^4 at 2.0: y = {y.data}")
    print(f"naive order: x.grad = {x.grad} (wrong)")
    numeric = numerical_diff(diamond, x)
    print(f"correct value 8 x^3 = {8 * 2.0**3}, numerically {numeric:.6f}")

    names = [type(f).__name__ for f in backward_log]
    print("functions processed:", ", ".join(names))
    print(
        f"{names.count('Square')} Square backward calls for 3 Square nodes: "
        "the first one ran before all of a's gradient had arrived"
    )

    return {"y": float(y.data), "naive_grad": float(x.grad), "numeric": float(numeric), "processed": names}


if __name__ == "__main__":
    main()
