"""Step 11: functions with several inputs and outputs (first version).

Addition takes two inputs; some functions return two results (``divmod``).
So a Function now takes a *list* of Variables and returns a *list* of
Variables, and ``forward`` maps a list of arrays to a tuple of arrays. Using it
is clumsy (lists in, lists out); step 12 makes it pleasant, and step 13 teaches
``backward`` about several inputs. Until then, backward still handles only
one-input, one-output functions such as Square.
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
            # One input and one output for now (see step 13).
            x, y = f.inputs[0], f.outputs[0]
            x.grad = f.backward(y.grad)
            if x.creator is not None:
                funcs.append(x.creator)


def as_array(x):
    if np.isscalar(x):
        return np.array(x)
    return x


class Function:
    def __call__(self, inputs):
        xs = [x.data for x in inputs]
        ys = self.forward(xs)
        outputs = [Variable(as_array(y)) for y in ys]
        for output in outputs:
            output.set_creator(self)
        self.inputs = inputs
        self.outputs = outputs
        return outputs

    def forward(self, xs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, gy):
        raise NotImplementedError(f"{type(self).__name__}.backward")


class Add(Function):
    def forward(self, xs):
        x0, x1 = xs
        return (x0 + x1,)  # a tuple even for a single result: the caller iterates


class DivMod(Function):
    """Two outputs: the quotient and the remainder (forward only, for the demo)."""

    def forward(self, xs):
        x0, x1 = xs
        return (x0 // x1, x0 % x1)


class Square(Function):
    def forward(self, xs):
        return (xs[0] ** 2,)

    def backward(self, gy):
        return 2 * self.inputs[0].data * gy


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    xs = [Variable(np.array(2.0)), Variable(np.array(3.0))]
    ys = Add()(xs)
    print(f"Add()([2.0, 3.0]) -> a list of {len(ys)} Variable: {ys[0].data}")

    q, r = DivMod()([Variable(np.array(17.0)), Variable(np.array(5.0))])
    print(f"DivMod()([17.0, 5.0]) -> quotient {q.data}, remainder {r.data}")

    x = Variable(np.array(3.0))
    (y,) = Square()([x])  # the one-element list shows how awkward this is
    y.backward()
    print(f"single-input backward still works: d(x^2)/dx at 3.0 = {x.grad}")

    return {
        "sum": float(ys[0].data),
        "n_outputs": len(ys),
        "quotient": float(q.data),
        "remainder": float(r.data),
        "x_grad": float(x.grad),
    }


if __name__ == "__main__":
    main()
