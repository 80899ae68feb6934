"""Step 22: the remaining operators: -x, x - y, x / y, x ** c.

Four more Functions, each with the derivative it needs:
    neg: -x          d/dx = -1
    sub: x0 - x1     d/dx0 = 1,  d/dx1 = -1
    div: x0 / x1     d/dx0 = 1 / x1,  d/dx1 = -x0 / x1^2
    pow: x ** c      d/dx = c x^(c-1)   (c a constant, not a Variable)
and their operators. Subtraction and division are not symmetric, so the
reflected versions swap the arguments back: ``2.0 - x`` calls
``x.__rsub__(2.0)``, which must compute ``sub(2.0, x)``. With this step the
framework handles ordinary formulas written as formulas.
"""

import contextlib
import weakref

import numpy as np


class Config:
    enable_backprop = True


@contextlib.contextmanager
def using_config(name, value):
    old_value = getattr(Config, name)
    setattr(Config, name, value)
    try:
        yield
    finally:
        setattr(Config, name, old_value)


def no_grad():
    return using_config("enable_backprop", False)


class Variable:
    __array_ufunc__ = None  # let ndarray <op> Variable reach our reflected operators

    def __init__(self, data, name=None):
        if data is not None and not isinstance(data, np.ndarray):
            raise TypeError(f"Variable(data): expected numpy.ndarray, got {type(data).__name__}")
        self.data = data
        self.name = name
        self.grad = None
        self.creator = None
        self.generation = 0

    # Properties, not copies: they always describe the current data.
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        if self.data is None:
            return "variable(None)"
        # Indent continuation lines so that a matrix lines up under "variable(".
        body = str(self.data).replace("\n", "\n" + " " * len("variable("))
        return f"variable({body})"

    # The operators build the graph through the same Functions as add() and mul().
    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):  # other + self, other not a Variable
        return add(other, self)

    def __mul__(self, other):
        return mul(self, other)

    def __rmul__(self, other):
        return mul(other, self)

    def __neg__(self):
        return neg(self)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):  # other - self: the order matters
        return sub(other, self)

    def __truediv__(self, other):
        return div(self, other)

    def __rtruediv__(self, other):
        return div(other, self)

    def __pow__(self, c):
        return pow(self, c)

    def set_creator(self, func):
        self.creator = func
        self.generation = func.generation + 1

    def cleargrad(self):
        self.grad = None

    def backward(self, retain_grad=False):
        if self.grad is None:
            self.grad = np.ones_like(self.data)

        funcs = []
        seen = set()

        def add_func(f):
            if f not in seen:
                funcs.append(f)
                seen.add(f)
                funcs.sort(key=lambda func: func.generation)

        add_func(self.creator)
        while funcs:
            f = funcs.pop()
            gys = [output().grad for output in f.outputs]
            gxs = f.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(f.inputs, gxs):
                x.grad = gx if x.grad is None else x.grad + gx
                if x.creator is not None:
                    add_func(x.creator)
            if not retain_grad:
                for y in f.outputs:
                    y().grad = None


def as_array(x):
    if np.isscalar(x):
        return np.array(x)
    return x


def as_variable(obj):
    if isinstance(obj, Variable):
        return obj
    return Variable(as_array(obj))  # numbers and arrays get a box of their own


class Function:
    def __call__(self, *inputs):
        inputs = [as_variable(x) for x in inputs]
        xs = [x.data for x in inputs]
        ys = self.forward(*xs)
        if not isinstance(ys, tuple):
            ys = (ys,)
        outputs = [Variable(as_array(y)) for y in ys]
        if Config.enable_backprop:
            self.generation = max(x.generation for x in inputs)
            for output in outputs:
                output.set_creator(self)
            self.inputs = inputs
            self.outputs = [weakref.ref(output) for output in outputs]
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


class Mul(Function):
    def forward(self, x0, x1):
        return x0 * x1

    def backward(self, gy):
        x0, x1 = self.inputs[0].data, self.inputs[1].data
        return gy * x1, gy * x0


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Sub(Function):
    def forward(self, x0, x1):
        return x0 - x1

    def backward(self, gy):
        return gy, -gy


class Div(Function):
    def forward(self, x0, x1):
        return x0 / x1

    def backward(self, gy):
        x0, x1 = self.inputs[0].data, self.inputs[1].data
        return gy / x1, gy * (-x0 / x1**2)


class Pow(Function):
    """x ** c: the exponent is a constant, kept on the Function, not a graph input."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x**self.c

    def backward(self, gy):
        x = self.inputs[0].data
        return self.c * x ** (self.c - 1) * gy


class Square(Function):
    def forward(self, x):
        return x**2

    def backward(self, gy):
        return 2 * self.inputs[0].data * gy


def add(x0, x1):
    return Add()(x0, x1)


def mul(x0, x1):
    return Mul()(x0, x1)


def neg(x):
    return Neg()(x)


def sub(x0, x1):
    return Sub()(x0, x1)


def div(x0, x1):
    return Div()(x0, x1)


def pow(x, c):  # shadows the builtin on purpose: it is what ** means here
    return Pow(c)(x)


def numerical_diff(f, x, eps=1e-4):
    y_plus = f(Variable(as_array(x.data + eps)))
    y_minus = f(Variable(as_array(x.data - eps)))
    return (y_plus.data - y_minus.data) / (2 * eps)


def square(x):
    return Square()(x)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(0.5), name="x")
    operators = [float(v.data) for v in (-x, x - 2.0, 2.0 - x, x / 4.0, 4.0 / x, x**3)]
    print("-x = {}, x - 2.0 = {}, 2.0 - x = {}, x / 4.0 = {}, 4.0 / x = {}, x ** 3 = {}".format(*operators))

    def f(x):
        # -(x^3) / (2 - x) + 4 / x - 1: every new operator, reflected ones included.
        return -(x**3) / (2.0 - x) + 4.0 / x - 1.0

    y = f(x)
    y.backward()
    print(f"f(x) = -x**3 / (2.0 - x) + 4.0 / x - 1.0 at 0.5: f = {y.data}")
    numeric = numerical_diff(f, x)
    print(f"x.grad = {x.grad}, numerically {numeric}")

    return {"operators": operators, "f": float(y.data), "x_grad": float(x.grad), "numeric": float(numeric)}


if __name__ == "__main__":
    main()
