"""Step 21: operators with ndarrays and plain numbers.

``x * 3.0``, ``1.0 + x`` and ``np.array(2.0) * x`` should work too. Three
pieces make that happen:
- ``Function.__call__`` wraps every input that is not a Variable with
  ``as_variable`` (a number first becomes a 0-d array with ``as_array``);
- ``__radd__`` and ``__rmul__``: for ``3.0 * x``, Python first asks the float,
  which does not know Variables, and then calls ``x.__rmul__(3.0)``;
- ``__array_ufunc__ = None``: for ``ndarray * x`` NumPy would otherwise treat x
  as an opaque object and multiply it into an array of objects; this attribute
  tells NumPy to step aside so that Python calls ``x.__rmul__``.
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


class Square(Function):
    def forward(self, x):
        return x**2

    def backward(self, gy):
        return 2 * self.inputs[0].data * gy


def add(x0, x1):
    return Add()(x0, x1)


def mul(x0, x1):
    return Mul()(x0, x1)


def square(x):
    return Square()(x)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(2.0), name="x")
    y = 3.0 * x + 1.0
    y.backward()
    first = (float(y.data), float(x.grad))
    print(f"y = 3.0 * x + 1.0 at 2.0: y = {y.data}, x.grad = {x.grad}")

    x.cleargrad()
    y = np.array(2.0) * x + x * np.array(0.5)  # ndarrays on either side
    y.backward()
    print(f"np.array(2.0) * x + x * np.array(0.5): a {type(y).__name__} = {y.data}, x.grad = {x.grad}")

    v = Variable(np.array([1.0, 2.0, 3.0]), name="v")
    w = np.array([10.0, 20.0, 30.0]) + v
    print(f"ndarray + Variable -> {type(w).__name__}: {w.data}")

    return {"first": first, "second": (float(y.data), float(x.grad)), "w_type": type(w).__name__, "w": w.data.tolist()}


if __name__ == "__main__":
    main()
