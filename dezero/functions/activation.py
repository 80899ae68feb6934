"""Activation functions: sigmoid, ReLU, leaky ReLU, softmax and log-softmax.

Each backward is written with differentiable ops on Variables, so every
activation can be differentiated twice. ``softmax_simple`` is the book's first
softmax (step 47): no Function of its own, only ``exp``, ``sum`` and ``/``, whose
backward passes make up its gradient.
"""

from __future__ import annotations

import numpy as np

from dezero import parallel
from dezero.backend import array_types, get_array_module
from dezero.core import Function, Variable, as_variable
from dezero.functions.array import sum
from dezero.functions.math import exp, tanh

__all__ = ["sigmoid", "relu", "leaky_relu", "softmax", "log_softmax", "softmax_simple", "sigmoid_simple"]


class Sigmoid(Function):
    def forward(self, x):
        xp = get_array_module(x)
        # 1 / (1 + exp(-x)) overflows exp for x << 0; the tanh form is bounded
        # for every x and gives the same value.
        return xp.tanh(x * 0.5) * 0.5 + 0.5

    def backward(self, gy):
        y = self.outputs[0]()
        return gy * y * (1 - y)


def sigmoid(x) -> Variable:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, elementwise; finite for any x.

    Parameters
    ----------
    x : Variable, array or scalar
        The input.

    Returns
    -------
    Variable
        Values in (0, 1), of x's shape and dtype.
    """
    return Sigmoid()(x)


def sigmoid_simple(x) -> Variable:
    """The logistic sigmoid as a composition of ops, the book's first sigmoid (step 43).

    No Function of its own: its gradient comes from the backward passes of the
    ops it is made of. Written as ``0.5 tanh(x / 2) + 0.5``, which equals
    ``1 / (1 + exp(-x))`` but never overflows (``exp(-x)`` would be inf for
    x < -710 and its gradient NaN). Same values and gradients as :func:`sigmoid`.

    Parameters
    ----------
    x : Variable or array

    Returns
    -------
    Variable
        Of x's shape and dtype.
    """
    return tanh(as_variable(x) * 0.5) * 0.5 + 0.5


class ReLU(Function):
    def forward(self, x):
        xp = get_array_module(x)
        try:
            # Split across threads on large CPU arrays (dezero.parallel).
            return parallel.elementwise(lambda x, out: xp.maximum(x, 0, out=out), xp.empty_like(x), x)
        except TypeError:  # NumPy's UFuncTypeError names no op (a try costs nothing until it raises)
            _check_numbers("relu", x, "iuf")
            raise

    def backward(self, gy):
        (x,) = self.inputs
        return ReLUGrad(x.data)(gy)


class ReLUGrad(Function):
    """``gy`` where the ReLU's input was positive, 0 elsewhere. The mask is a
    constant (ReLU is piecewise linear: its second derivative is zero almost
    everywhere), so this is a linear map of gy, and its own backward."""

    def __init__(self, x):
        self.x = x

    def forward(self, gy):
        xp = get_array_module(gy)
        return parallel.elementwise(lambda gy, x, out: xp.multiply(gy, x > 0, out=out), xp.empty_like(gy), gy, self.x)

    def backward(self, ggx):
        return ReLUGrad(self.x)(ggx)


def relu(x) -> Variable:
    """Rectified linear unit ``max(x, 0)``; the gradient at 0 is taken as 0.

    Parameters
    ----------
    x : Variable, array or scalar
        The input.

    Returns
    -------
    Variable
        ``max(x, 0)``, of x's shape and dtype.

    Raises
    ------
    TypeError
        If x does not hold numbers (a bool array).
    """
    return ReLU()(x)


class LeakyReLU(Function):
    def __init__(self, slope: float = 0.2):
        if isinstance(slope, Variable):
            slope = slope.data
        if isinstance(slope, array_types) and slope.size == 1:
            slope = slope.item()
        if not isinstance(slope, (int, float, np.integer, np.floating)):
            raise TypeError(f"leaky_relu: slope must be a real number, got {type(slope).__name__}")
        # A Python float: NumPy scalars and arrays would upcast a float32 x to float64.
        self.slope = float(slope)

    def forward(self, x):
        xp = get_array_module(x)
        return xp.where(x > 0, x, x * self.slope)

    def backward(self, gy):
        (x,) = self.inputs
        xp = get_array_module(x.data)
        mask = xp.where(x.data > 0, 1.0, self.slope).astype(gy.dtype)
        return gy * mask


def leaky_relu(x, slope: float = 0.2) -> Variable:
    """Leaky ReLU: ``x`` where x > 0, ``slope * x`` elsewhere.

    Parameters
    ----------
    x : Variable, array or scalar
        The input.
    slope : float
        The factor for negative inputs.

    Returns
    -------
    Variable
        Of x's shape and dtype.
    """
    return LeakyReLU(slope)(x)


def _check_numbers(op: str, x, kinds: str) -> None:
    """Refuse an array whose dtype kind is not in ``kinds`` ("f": floating,
    "iu": integers...), naming the op, rather than let NumPy fail on a ufunc."""
    if x.dtype.kind not in kinds:
        wanted = "floating-point numbers" if kinds == "f" else "real numbers"
        cast = "F.astype(x, np.float32)" if kinds == "f" else "F.astype(x, np.float32) or an integer dtype"
        raise TypeError(f"{op}: x must hold {wanted}, got dtype {x.dtype} (cast it first: {cast})")


def _check_axis(op: str, x, axis: int) -> int:
    """``axis`` as a non-negative int for an ``x`` (Variable or array) of at least one dimension."""
    if x.ndim == 0:
        raise ValueError(f"{op}: x must have at least 1 dimension, got a 0-d input")
    # NumPy integers count as ints (an axis computed with NumPy is one); bools do not.
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{op}: axis must be an int, got {type(axis).__name__} {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{op}: axis {axis!r} is out of range for x of shape {x.shape}")
    return int(axis) % x.ndim


class Softmax(Function):
    def __init__(self, axis: int = 1):
        self.axis = axis

    def forward(self, x):
        # Checked here too for the book's class, Softmax(axis)(x); softmax()
        # has checked already, with its own name.
        _check_numbers("Softmax", x, "f")
        self.axis = _check_axis("Softmax", x, self.axis)
        xp = get_array_module(x)
        # Shifting by the max changes nothing mathematically and keeps exp <= 1.
        y = x - x.max(axis=self.axis, keepdims=True)
        xp.exp(y, out=y)
        y /= y.sum(axis=self.axis, keepdims=True)
        return y

    def backward(self, gy):
        y = self.outputs[0]()
        gx = y * gy
        return gx - y * sum(gx, axis=self.axis, keepdims=True)


def softmax(x, axis: int = 1) -> Variable:
    """Softmax ``exp(x) / sum(exp(x))`` along ``axis``; overflow-free.

    Parameters
    ----------
    x : Variable or array
        Scores (logits), at least 1-D.
    axis : int
        The axis that sums to 1 (the classes; 1 for a batch of shape (N, C)).

    Returns
    -------
    Variable
        Probabilities of x's shape and dtype.

    Raises
    ------
    ValueError
        If ``axis`` is out of range for x.
    TypeError
        If x does not hold floating-point numbers.
    """
    x = as_variable(x)
    _check_numbers("softmax", x, "f")
    return Softmax(_check_axis("softmax", x, axis))(x)


def softmax_simple(x, axis: int = 1) -> Variable:
    """Softmax written as a composition of ops: ``exp(x) / sum(exp(x), axis)``.

    The book's first softmax (step 47): it has no Function of its own, so its
    gradient is whatever the backward passes of ``exp``, ``sum`` and ``/`` make
    of it; it gives the same values and gradients as :func:`softmax`, with
    more nodes and more memory. The row maximum is subtracted first, as a
    constant: softmax does not change when a constant is added along ``axis``,
    and ``exp`` then never overflows.

    Parameters
    ----------
    x : Variable or array
        Scores, at least 1-d.
    axis : int
        The axis that sums to 1.

    Returns
    -------
    Variable
        Of x's shape and dtype.

    Raises
    ------
    ValueError
        If x is 0-d or axis is out of range.
    TypeError
        If x does not hold floating-point numbers.
    """
    x = as_variable(x)
    _check_numbers("softmax_simple", x, "f")
    axis = _check_axis("softmax_simple", x, axis)
    y = exp(x - x.data.max(axis=axis, keepdims=True))
    return y / sum(y, axis=axis, keepdims=True)


def log_softmax_array(x, axis: int):
    """Raw-array log-softmax: the log-sum-exp trick, subtracting the max first.

    ``(x - max) - log(sum(exp(x - max)))`` rather than ``x - logsumexp(x)``:
    the same value, but the large max cancels exactly before the small log
    term is subtracted, which keeps float32 precise for large logits.
    """
    xp = get_array_module(x)
    y = x - x.max(axis=axis, keepdims=True)
    y -= xp.log(xp.exp(y).sum(axis=axis, keepdims=True))
    return y


class LogSoftmax(Function):
    def __init__(self, axis: int = 1):
        self.axis = axis

    def forward(self, x):
        _check_numbers("LogSoftmax", x, "f")  # for the class; log_softmax() checked already
        self.axis = _check_axis("LogSoftmax", x, self.axis)
        return log_softmax_array(x, self.axis)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy - exp(y) * sum(gy, axis=self.axis, keepdims=True)


def log_softmax(x, axis: int = 1) -> Variable:
    """``log(softmax(x))`` along ``axis``, computed with the log-sum-exp trick.

    Unlike ``log(softmax(x))`` it never takes the log of an underflowed 0, so
    it stays finite for logits of any size.

    Parameters
    ----------
    x : Variable or array
        Scores (logits), at least 1-D.
    axis : int
        The axis of the classes.

    Returns
    -------
    Variable
        Log-probabilities of x's shape and dtype.

    Raises
    ------
    ValueError
        If ``axis`` is out of range for x.
    TypeError
        If x does not hold floating-point numbers.
    """
    x = as_variable(x)
    _check_numbers("log_softmax", x, "f")
    return LogSoftmax(_check_axis("log_softmax", x, axis))(x)
