"""The core of steps 23-32, small enough to read in one sitting.

Everything a reader has built by step 22, gathered into one module: a
``Variable`` that remembers its creator, a ``Function`` that records its
inputs and outputs, the backward pass in generation order (a loop, not a
recursion), the four arithmetic operators and ``**``, and the ``Config``
switch behind ``no_grad``. Plain NumPy, no GPU, no Parameter, no layers.

Use it directly in the steps that come before the real engine::

    from dezero.core_simple import Variable, setup_variable
    setup_variable()           # give Variable its operators

What :mod:`dezero.core` adds on top, and why: gradients that are Variables
themselves, so a backward can be differentiated again (here they are plain
arrays; ``create_graph=True`` arrives in step 33); gradients summed back to
each input's shape when inputs of different shapes were broadcast (step 40;
here ``Variable(np.ones(3)) + Variable(np.array(1.0))`` computes, but the
gradient of the 0-d input comes back with shape (3,)); CuPy; clear errors for
bad inputs; and a heap instead of re-sorting a list. This module does not
import ``dezero.core``: its Variable is a different class, so do not mix the
two in one graph.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any, Iterator, List, Optional

import numpy as np

__all__ = [
    "Config",
    "using_config",
    "no_grad",
    "Variable",
    "Function",
    "as_array",
    "as_variable",
    "add",
    "sub",
    "rsub",
    "mul",
    "div",
    "rdiv",
    "neg",
    "pow",
    "setup_variable",
]


# =============================================================================
# Config: one switch, read by Function.__call__
# =============================================================================
class Config:
    """``enable_backprop``: whether calls are recorded for backward."""

    enable_backprop = True


@contextlib.contextmanager
def using_config(name: str, value) -> Iterator[None]:
    """Set ``Config.<name>`` to ``value`` inside a ``with`` block, and back afterwards."""
    old_value = getattr(Config, name)
    setattr(Config, name, value)
    try:
        yield
    finally:
        setattr(Config, name, old_value)


def no_grad():
    """``with no_grad():`` computes without recording anything for backward."""
    return using_config("enable_backprop", False)


# =============================================================================
# Variable
# =============================================================================
class Variable:
    """A NumPy array in a box, with its gradient and the Function that made it.

    Parameters
    ----------
    data : numpy.ndarray or None
    name : str, optional
        A label for printing and drawing.

    Raises
    ------
    TypeError
        If ``data`` is not a NumPy array (wrap scalars with ``np.array(1.0)``).
    """

    # ``ndarray * Variable`` must call Variable.__rmul__, not multiply elementwise.
    __array_priority__ = 200

    def __init__(self, data, name: Optional[str] = None):
        if data is not None and not isinstance(data, np.ndarray):
            raise TypeError(f"Variable(data): expected numpy.ndarray, got {type(data).__name__}")
        self.data: Any = data
        self.name = name
        self.grad: Optional[np.ndarray] = None
        self.creator: Optional[Function] = None
        self.generation = 0  # one more than its creator's: backward's order

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        if self.data is None:
            return "variable(None)"
        return "variable(" + str(self.data).replace("\n", "\n" + " " * 9) + ")"

    def set_creator(self, func: "Function") -> None:
        """Remember the Function that made this Variable, one generation later."""
        self.creator = func
        self.generation = func.generation + 1

    def cleargrad(self) -> None:
        """Forget the gradient (before a new backward pass)."""
        self.grad = None

    def backward(self, retain_grad: bool = False) -> None:
        """Fill ``.grad`` of every Variable behind this one (adding to what is there).

        Functions are taken newest generation first, so a Function runs only
        once all the gradients of its outputs have arrived. The gradients of
        intermediate Variables are dropped as soon as they have been used,
        unless ``retain_grad``.
        """
        if self.grad is None:
            self.grad = np.ones_like(self.data)

        funcs: List[Function] = []
        seen = set()

        def add_func(f: Function) -> None:
            if f not in seen:
                funcs.append(f)
                seen.add(f)
                funcs.sort(key=lambda func: func.generation)

        if self.creator is not None:
            add_func(self.creator)
        while funcs:
            f = funcs.pop()  # the newest generation
            gys = [output().grad for output in f.outputs]
            gxs = f.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(f.inputs, gxs):
                # A new array, never += : x.grad may be the very array another
                # Variable holds (Add hands gy to both of its inputs). as_array:
                # arithmetic on 0-d arrays gives NumPy scalars.
                x.grad = as_array(gx if x.grad is None else x.grad + gx)
                if x.creator is not None:
                    add_func(x.creator)
            if not retain_grad:
                for output in f.outputs:
                    output().grad = None


def as_array(x, like: Optional[np.ndarray] = None) -> np.ndarray:
    """A NumPy scalar or Python number as a 0-d array (of ``like``'s dtype when
    ``like``, a floating array, is given); arrays pass through."""
    if np.isscalar(x):
        return np.array(x, dtype=None if like is None else like.dtype)
    return x


def as_variable(obj) -> Variable:
    """Wrap an array in a Variable; a Variable passes through."""
    if isinstance(obj, Variable):
        return obj
    return Variable(obj)


# =============================================================================
# Function
# =============================================================================
class Function:
    """One operation: ``forward`` on arrays, ``backward`` on arrays (gradients).

    Calling a Function wraps its results in Variables and, when backprop is
    enabled, links them: outputs point at the Function (their creator), the
    Function keeps its inputs and weak references to its outputs (a strong one
    would make a cycle the garbage collector must break).
    """

    inputs: List[Variable]
    outputs: list
    generation = 0

    def __call__(self, *args):
        # A number next to a float32 array must not make the result float64
        # (NumPy would: np.array(2.0) is a float64 array), so it takes the
        # dtype of the first floating input.
        like = next((x.data for x in args if isinstance(x, Variable) and x.dtype.kind == "f"), None)
        inputs = [x if isinstance(x, Variable) else Variable(as_array(x, like)) for x in args]
        ys = self.forward(*[x.data for x in inputs])
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
        """Compute the outputs from the input arrays (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *gys):
        """Compute the input gradients from the output gradients (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__}.backward")


# =============================================================================
# Arithmetic: the Functions behind + - * / ** and unary -
# =============================================================================
class Add(Function):
    def forward(self, x0, x1):
        return x0 + x1

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    def forward(self, x0, x1):
        return x0 - x1

    def backward(self, gy):
        return gy, -gy


class Mul(Function):
    def forward(self, x0, x1):
        return x0 * x1

    def backward(self, gy):
        x0, x1 = self.inputs[0].data, self.inputs[1].data
        return gy * x1, gy * x0


class Div(Function):
    def forward(self, x0, x1):
        return x0 / x1

    def backward(self, gy):
        x0, x1 = self.inputs[0].data, self.inputs[1].data
        return gy / x1, gy * (-x0 / x1**2)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x**self.c

    def backward(self, gy):
        x = self.inputs[0].data
        return self.c * x ** (self.c - 1) * gy


def add(x0, x1) -> Variable:
    """``x0 + x1``; a number or array on either side is wrapped for you."""
    return Add()(x0, x1)


def sub(x0, x1) -> Variable:
    """``x0 - x1``."""
    return Sub()(x0, x1)


def rsub(x0, x1) -> Variable:
    """``x1 - x0``: Python calls ``x0.__rsub__(x1)`` for ``number - Variable``."""
    return Sub()(x1, x0)


def mul(x0, x1) -> Variable:
    """``x0 * x1``."""
    return Mul()(x0, x1)


def div(x0, x1) -> Variable:
    """``x0 / x1``."""
    return Div()(x0, x1)


def rdiv(x0, x1) -> Variable:
    """``x1 / x0``, for ``number / Variable``."""
    return Div()(x1, x0)


def neg(x) -> Variable:
    """``-x``."""
    return Neg()(x)


def pow(x, c) -> Variable:  # noqa: A001  (the name of the ** operator's function)
    """``x ** c`` for a constant exponent ``c`` (the exponent gets no gradient here)."""
    return Pow(c)(x)


def setup_variable() -> None:
    """Give :class:`Variable` its operators: ``+ - * / **`` and unary ``-``.

    ``x * 2`` calls ``x.__mul__(2)``; ``2 * x`` calls ``x.__rmul__(2)``, where
    the order of the operands matters (``2 - x`` is ``rsub(x, 2)``).
    """
    operators = {
        "__add__": add,
        "__radd__": add,
        "__mul__": mul,
        "__rmul__": mul,
        "__sub__": sub,
        "__rsub__": rsub,
        "__truediv__": div,
        "__rtruediv__": rdiv,
        "__neg__": neg,
        "__pow__": pow,
    }
    for name, function in operators.items():
        setattr(Variable, name, function)
