"""Step 20: operator overloading, first part: * and +.

Writing ``add(mul(a, b), c)`` works but hides the formula. Python calls
``a.__mul__(b)`` for ``a * b`` and ``a.__add__(b)`` for ``a + b``, so giving
Variable those two methods lets us write ``y = a * b + c`` and still build the
same graph. Multiplication is new too: d(x0 x1)/dx0 = x1 and d(x0 x1)/dx1 = x0.
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

    def __mul__(self, other):
        return mul(self, other)

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


class Function:
    def __call__(self, *inputs):
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
    a = Variable(np.array(1.5), name="a")
    b = Variable(np.array(4.0), name="b")
    c = Variable(np.array(0.25), name="c")

    y = a * b + c  # the same graph as add(mul(a, b), c)
    y.backward()
    y_value = float(y.data)
    print(f"y = a * b + c = {y.data}")
    print(f"a.grad = {a.grad} (= b), b.grad = {b.grad} (= a), c.grad = {c.grad}")

    x = Variable(np.array(3.0), name="x")
    z = x * x * x + x * x  # x^3 + x^2: 3x^2 + 2x = 33 at 3
    z.backward()
    print(f"z = x*x*x + x*x at 3.0: z = {z.data}, x.grad = {x.grad}")

    return {
        "y": y_value,
        "a_grad": float(a.grad),
        "b_grad": float(b.grad),
        "c_grad": float(c.grad),
        "z": float(z.data),
        "x_grad": float(x.grad),
    }


if __name__ == "__main__":
    main()
