"""Differentiable functions. ``import dezero.functions as F`` exposes them all;
the submodules group them by kind, as the layout of the package shows.

Loading this package also gives :class:`~dezero.core.Variable` its operators
and array methods (:func:`setup_variable`): they are functions of this package,
and ``dezero.core`` sits below it and cannot import it.
"""

from typing import TYPE_CHECKING

from dezero import habits
from dezero.core import Variable
from dezero.functions.array import *  # noqa: F401,F403
from dezero.functions.math import *  # noqa: F401,F403
from dezero.functions.connection import *  # noqa: F401,F403
from dezero.functions.activation import *  # noqa: F401,F403
from dezero.functions.loss import *  # noqa: F401,F403
from dezero.functions.noise import *  # noqa: F401,F403
from dezero.functions.normalization import *  # noqa: F401,F403
from dezero.functions.conv import *  # noqa: F401,F403
from dezero.functions.pooling import *  # noqa: F401,F403

# The book's functions.py also holds the Function classes, and code written
# for it calls them as F.Sin()(x), F.Softmax()(x)... They are attributes of
# this package, imported by name, but stay out of the submodules' __all__:
# those list the functions, and the tests that give every function a case
# (tests/op_harness.py, tests/test_torch_parity.py) read them. A class skips
# the argument checks that its function makes.
from dezero.functions.math import Cos, Exp, Log, Sin, Tanh  # noqa: F401
from dezero.functions.array import (  # noqa: F401
    BroadcastTo,
    Clip,
    GetItem,
    GetItemGrad,
    MatMul,
    Max,
    Min,
    Reshape,
    Sum,
    SumTo,
    Transpose,
)
from dezero.functions.connection import Linear  # noqa: F401
from dezero.functions.activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax  # noqa: F401
from dezero.functions.loss import MeanSquaredError, SoftmaxCrossEntropy  # noqa: F401
from dezero.functions.normalization import BatchNorm  # noqa: F401

from dezero.functions import activation as _activation
from dezero.functions import array as _array
from dezero.functions import math as _math

# PyTorch's `dim=` and `keepdim=` get an error naming `axis=` and `keepdims=`.
# Wrapped here, where users meet them as F.softmax..., so calls between the
# submodules skip the wrapper.
softmax = habits.renamed_keywords(_activation.softmax)
log_softmax = habits.renamed_keywords(_activation.log_softmax)
expand_dims = habits.renamed_keywords(_array.expand_dims)
sum = habits.renamed_keywords(_array.sum)
mean = habits.renamed_keywords(_array.mean)
average = habits.renamed_keywords(_array.average)
max = habits.renamed_keywords(_array.max)
min = habits.renamed_keywords(_array.min)

if not TYPE_CHECKING:  # a module __getattr__ would make type checkers accept any F.<name>

    def __getattr__(name: str):
        """``F.cross_entropy`` and other PyTorch names: say which dezero function it is."""
        hint = habits.FUNCTION_NAMES.get(name)
        message = f"module 'dezero.functions' has no attribute {name!r}"
        raise AttributeError(message + (f": {hint}" if hint else ""))


# The book's dezero spells it this way (functions.py, and its tests call it):
# the same function under the misspelt name, so that code runs unchanged.
batch_nrom = batch_norm  # noqa: F405


# =============================================================================
# Variable's operators and methods
# =============================================================================
def _reshape_method(self, *shape) -> Variable:
    """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``, as NumPy accepts both."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return _array.reshape(self, tuple(shape[0]))
    return _array.reshape(self, shape)


def _transpose_method(self, *axes) -> Variable:
    """``x.transpose()``, ``x.transpose(1, 0)`` or ``x.transpose((1, 0))``."""
    if len(axes) == 0:
        return _array.transpose(self, None)
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        return _array.transpose(self, axes[0])
    return _array.transpose(self, axes)


def _reduction_method(function):
    def method(self, axis=None, keepdims: bool = False) -> Variable:
        return function(self, axis, keepdims)

    method.__name__ = function.__name__
    # The function's own docstring would document an ``x`` argument the method does not take.
    method.__doc__ = (
        f"``x.{function.__name__}(axis=None, keepdims=False)``: the same as "
        f":func:`dezero.functions.{function.__name__}` of this Variable (see there)."
    )
    return habits.renamed_keywords(method)


def _reflected(function):
    """``other <op> x`` for Variable x: the same function, operands swapped back."""

    def method(self, other) -> Variable:
        return function(other, self)

    method.__name__ = f"r{function.__name__}"
    return method


# The book's names for the reflected operators. Not in __all__ (the list of
# functions the op harness and the PyTorch comparisons cover): they are sub and
# div with the operands swapped, and are tested as such.
def rsub(x0, x1) -> Variable:
    """``x1 - x0``, the book's name for the reflected subtraction: ``2 - x``
    calls ``x.__rsub__(2)``, which is ``rsub(x, 2)``.

    Parameters
    ----------
    x0, x1 : Variable, array or scalar
        The operands, the subtrahend first.

    Returns
    -------
    Variable
        ``x1 - x0``.
    """
    return _math.sub(x1, x0)


def rdiv(x0, x1) -> Variable:
    """``x1 / x0``, the book's name for the reflected division: ``2 / x`` is
    ``rdiv(x, 2)``.

    Parameters
    ----------
    x0, x1 : Variable, array or scalar
        The operands, the divisor first.

    Returns
    -------
    Variable
        ``x1 / x0``.
    """
    return _math.div(x1, x0)


def setup_variable() -> None:
    """Attach the operators (``+ - * / ** @ -x x[i]``) and the array methods
    (``reshape``, ``transpose``, ``T``, ``sum``, ``mean``, ``max``, ``min``,
    ``astype``, ``dot``, ``matmul``) to :class:`~dezero.core.Variable`.

    Runs once when ``dezero.functions`` is first imported (so by ``import
    dezero``); calling it again changes nothing. The book's DeZero has the same
    function, under the same name.
    """
    methods = {
        "__add__": _math.add,
        "__radd__": _reflected(_math.add),
        "__sub__": _math.sub,
        "__rsub__": rsub,
        "__mul__": _math.mul,
        "__rmul__": _reflected(_math.mul),
        "__truediv__": _math.div,
        "__rtruediv__": rdiv,
        "__neg__": _math.neg,
        "__pow__": _math.pow,
        "__rpow__": _reflected(_math.pow),
        "__matmul__": _array.matmul,
        "__rmatmul__": _reflected(_array.matmul),
        "__getitem__": _array.get_item,
        "reshape": _reshape_method,
        "transpose": _transpose_method,
        "T": property(_array.transpose, doc="The transpose (all axes reversed)."),
        "sum": _reduction_method(_array.sum),
        "mean": _reduction_method(_array.mean),
        "max": _reduction_method(_array.max),
        "min": _reduction_method(_array.min),
        "astype": _array.astype,
        "dot": _array.matmul,
        "matmul": _array.matmul,
    }
    for name, method in methods.items():
        setattr(Variable, name, method)


setup_variable()
