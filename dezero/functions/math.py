"""Arithmetic and elementwise math. Binary ops broadcast like NumPy and reduce
their gradients back to each input's shape with ``sum_to``."""

from __future__ import annotations

import numpy as np

from dezero.backend import get_array_module
from dezero.core import Function, Variable, _SCALAR_TYPES
from dezero.functions.array import sum_to

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "square", "sqrt", "exp", "log", "sin", "cos", "tanh"]


def _python_scalar(c):
    # A Python scalar is "weak" under NumPy's promotion rules: it adopts the
    # array's dtype, where a NumPy float64 scalar would upcast float32.
    return c.item() if isinstance(c, np.generic) else c


def _like(y, x):
    """``y`` in the dtype of a floating ``x``. NumPy 1.x promotes a 0-d float32
    array combined with a Python float to float64 (value-based casting); NumPy 2
    keeps float32 already, and then this is one dtype comparison."""
    if y.dtype != x.dtype and x.dtype.kind in "fc":
        return y.astype(x.dtype)
    return y


def _is_scalar(x) -> bool:
    return isinstance(x, _SCALAR_TYPES)


class Add(Function):
    def forward(self, x0, x1):
        self.x0_shape, self.x1_shape = x0.shape, x1.shape
        return x0 + x1

    def backward(self, gy):
        gx0, gx1 = gy, gy
        if self.x0_shape != self.x1_shape:
            gx0, gx1 = sum_to(gx0, self.x0_shape), sum_to(gx1, self.x1_shape)
        return gx0, gx1


class AddConstant(Function):
    """x + c for a Python scalar c: no Variable and no gradient for the constant."""

    def __init__(self, c):
        self.c = _python_scalar(c)

    def forward(self, x):
        return _like(x + self.c, x)

    def backward(self, gy):
        return gy


def add(x0, x1) -> Variable:
    """Elementwise ``x0 + x1`` with broadcasting.

    Parameters
    ----------
    x0, x1 : Variable, array or scalar
        The operands; they broadcast against each other like NumPy arrays. A
        scalar takes the other operand's dtype (float32 stays float32).

    Returns
    -------
    Variable
        ``x0 + x1``, of the broadcast shape.
    """
    if _is_scalar(x1):
        return AddConstant(x1)(x0)
    if _is_scalar(x0):
        return AddConstant(x0)(x1)
    return Add()(x0, x1)


class Sub(Function):
    def forward(self, x0, x1):
        self.x0_shape, self.x1_shape = x0.shape, x1.shape
        return x0 - x1

    def backward(self, gy):
        gx0, gx1 = gy, -gy
        if self.x0_shape != self.x1_shape:
            gx0, gx1 = sum_to(gx0, self.x0_shape), sum_to(gx1, self.x1_shape)
        return gx0, gx1


class SubConstant(Function):
    """x - c for a Python scalar c. Not x + (-c): -c may not fit x's dtype
    (``uint8 - 1`` is 255 in NumPy, but -1 is no uint8)."""

    def __init__(self, c):
        self.c = _python_scalar(c)

    def forward(self, x):
        return _like(x - self.c, x)

    def backward(self, gy):
        return gy


def sub(x0, x1) -> Variable:
    """Elementwise ``x0 - x1`` with broadcasting.

    Parameters
    ----------
    x0, x1 : Variable, array or scalar
        The operands; they broadcast against each other like NumPy arrays. A
        scalar takes the other operand's dtype (float32 stays float32).

    Returns
    -------
    Variable
        ``x0 - x1``, of the broadcast shape.
    """
    if _is_scalar(x1):
        return SubConstant(x1)(x0)
    return Sub()(x0, x1)


class Mul(Function):
    def forward(self, x0, x1):
        return x0 * x1

    def backward(self, gy):
        x0, x1 = self.inputs
        gx0 = sum_to(gy * x1, x0.shape) if x0.requires_grad else None
        gx1 = sum_to(gy * x0, x1.shape) if x1.requires_grad else None
        return gx0, gx1


class MulConstant(Function):
    """x * c for a Python scalar c."""

    def __init__(self, c):
        self.c = _python_scalar(c)

    def forward(self, x):
        return _like(x * self.c, x)

    def backward(self, gy):
        return gy * self.c


def mul(x0, x1) -> Variable:
    """Elementwise ``x0 * x1`` with broadcasting.

    Parameters
    ----------
    x0, x1 : Variable, array or scalar
        The operands; they broadcast against each other like NumPy arrays. A
        scalar takes the other operand's dtype (float32 stays float32).

    Returns
    -------
    Variable
        ``x0 * x1``, of the broadcast shape.
    """
    if _is_scalar(x1):
        return MulConstant(x1)(x0)
    if _is_scalar(x0):
        return MulConstant(x0)(x1)
    return Mul()(x0, x1)


class Div(Function):
    def forward(self, x0, x1):
        return x0 / x1

    def backward(self, gy):
        x0, x1 = self.inputs
        gx0 = sum_to(gy / x1, x0.shape) if x0.requires_grad else None
        gx1 = sum_to(gy * (-x0 / (x1 * x1)), x1.shape) if x1.requires_grad else None
        return gx0, gx1


def div(x0, x1) -> Variable:
    """Elementwise ``x0 / x1`` with broadcasting.

    Parameters
    ----------
    x0, x1 : Variable, array or scalar
        The operands; they broadcast against each other like NumPy arrays. A
        scalar takes the other operand's dtype (float32 stays float32).

    Returns
    -------
    Variable
        ``x0 / x1``, of the broadcast shape.
    """
    return Div()(x0, x1)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


def neg(x) -> Variable:
    """Elementwise ``-x``.

    Parameters
    ----------
    x : Variable, array or scalar
        The input.

    Returns
    -------
    Variable
        ``-x``, of x's shape and dtype.
    """
    return Neg()(x)


class Pow(Function):
    """x ** c for a constant scalar exponent c."""

    def __init__(self, c):
        self.c = _python_scalar(c)

    def forward(self, x):
        try:
            return _like(x**self.c, x)
        except ValueError:
            _refuse_negative_integer_power("Pow", x, self.c)
            raise

    def backward(self, gy):
        (x,) = self.inputs
        c = self.c
        if c == 0:  # x ** 0 is constant; 0 * x ** -1 would be nan at x = 0
            return gy * 0  # an int 0: an integer gradient stays an exact integer
        return gy * (c * x ** (c - 1))


def _refuse_negative_integer_power(op: str, x, c) -> None:
    """NumPy's ValueError for an integer base raised to a negative integer
    power names no op and no dtype: say which, and what to do (PyTorch refuses
    it too; a float result would break the rule that integers stay integers)."""
    xp = get_array_module(x)
    if isinstance(c, int):
        exponent = f"the negative power {c}"
    else:
        exponent = f"negative powers (an exponent of dtype {c.dtype})"
        if c.dtype.kind not in "iu":
            return
    if x.dtype.kind in "iu" and bool(xp.any(xp.asarray(c) < 0)):
        raise ValueError(
            f"{op}: an integer base ({x.dtype}) to {exponent} is no integer (NumPy and PyTorch "
            "refuse it too); cast the base to floating point first (F.astype(x, np.float64) ** c)"
        ) from None


class Power(Function):
    """x0 ** x1 where the exponent is an array too (differentiable in both)."""

    def forward(self, x0, x1):
        try:
            return x0**x1
        except ValueError:
            _refuse_negative_integer_power("Power", x0, x1)
            raise

    def backward(self, gy):
        x0, x1 = self.inputs
        y = self.outputs[0]()
        gx0 = gx1 = None
        if x0.requires_grad:
            xp = get_array_module(x0.data)
            if x0.dtype.kind in "iu" and x1.dtype.kind in "iu":
                # Integers: x0 ** -1 at a zero exponent is no integer (NumPy
                # refuses it), and the term is 0 there anyway (x1 = 0): shift the
                # exponent to 0 wherever x1 is 0. (The gradient with respect to
                # x1 is floating, so it never reaches an integer x1.)
                shift = (x1.data == 0).astype(x1.dtype)
            else:
                # At a zero base with a zero exponent the term is 0 * 0 ** -1 = nan,
                # though x0 ** 0 is constant there: shifting the exponent to 0 at
                # those points alone gives the 0. Elsewhere the exponent stays
                # x1 - 1, so the derivative of this gradient with respect to x1
                # (x0 ** (x1 - 1) at x1 = 0) is right too.
                shift = xp.logical_and(x0.data == 0, x1.data == 0).astype(x0.dtype)
            gx0 = sum_to(gy * x1 * x0 ** (x1 - 1 + shift), x0.shape)
        if x1.requires_grad:
            # d/dx1 = y log(x0), defined for a positive base; at a zero base y
            # is 0 too, and log(0 + 1) = 0 keeps -inf * 0 out.
            zero_base = (x0.data == 0).astype(x0.dtype)
            gx1 = sum_to(gy * y * log(x0 + zero_base), x1.shape)
        return gx0, gx1


def pow(x, c) -> Variable:  # noqa: A001  (mirrors the ** operator)
    """Elementwise ``x ** c``; ``c`` may be a scalar, an array or a Variable.

    Parameters
    ----------
    x : Variable, array or scalar
        The base.
    c : scalar, array or Variable
        The exponent. A Python number is a constant (the common case, ``x ** 2``);
        a Variable exponent gets a gradient too, ``x ** c * log(x)``.

    Returns
    -------
    Variable
        ``x ** c``, of the broadcast shape. Integers to integer powers stay
        integers, with exact integer gradients.

    Raises
    ------
    ValueError
        For an integer base and a negative integer exponent, as NumPy and
        PyTorch do: the result is no integer (cast the base to float first).
    """
    if _is_scalar(c):
        return Pow(c)(x)
    return Power()(x, c)


def square(x) -> Variable:
    """Elementwise ``x ** 2``.

    Parameters
    ----------
    x : Variable, array or scalar
        The input.

    Returns
    -------
    Variable
        ``x * x``, of x's shape and dtype.
    """
    return Pow(2)(x)


class Sqrt(Function):
    def forward(self, x):
        return get_array_module(x).sqrt(x)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy / (2 * y)


def sqrt(x) -> Variable:
    """Elementwise square root.

    Parameters
    ----------
    x : Variable, array or scalar
        The input (non-negative).

    Returns
    -------
    Variable
        The square root, of x's shape and dtype.
    """
    return Sqrt()(x)


class Exp(Function):
    def forward(self, x):
        return get_array_module(x).exp(x)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy * y


def exp(x) -> Variable:
    """Elementwise e ** x.

    Parameters
    ----------
    x : Variable, array or scalar
        The input.

    Returns
    -------
    Variable
        ``e ** x``, of x's shape and dtype.
    """
    return Exp()(x)


class Log(Function):
    def forward(self, x):
        return get_array_module(x).log(x)

    def backward(self, gy):
        (x,) = self.inputs
        return gy / x


def log(x) -> Variable:
    """Elementwise natural logarithm.

    Parameters
    ----------
    x : Variable, array or scalar
        The input (positive).

    Returns
    -------
    Variable
        The natural logarithm, of x's shape and dtype.
    """
    return Log()(x)


class Sin(Function):
    def forward(self, x):
        return get_array_module(x).sin(x)

    def backward(self, gy):
        (x,) = self.inputs
        return gy * cos(x)


def sin(x) -> Variable:
    """Elementwise sine.

    Parameters
    ----------
    x : Variable, array or scalar
        The input (radians).

    Returns
    -------
    Variable
        ``sin(x)``, of x's shape and dtype.
    """
    return Sin()(x)


class Cos(Function):
    def forward(self, x):
        return get_array_module(x).cos(x)

    def backward(self, gy):
        (x,) = self.inputs
        return gy * -sin(x)


def cos(x) -> Variable:
    """Elementwise cosine.

    Parameters
    ----------
    x : Variable, array or scalar
        The input (radians).

    Returns
    -------
    Variable
        ``cos(x)``, of x's shape and dtype.
    """
    return Cos()(x)


class Tanh(Function):
    def forward(self, x):
        return get_array_module(x).tanh(x)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy * (1 - y * y)


def tanh(x) -> Variable:
    """Elementwise hyperbolic tangent.

    Parameters
    ----------
    x : Variable, array or scalar
        The input.

    Returns
    -------
    Variable
        ``tanh(x)``, in (-1, 1), of x's shape and dtype.
    """
    return Tanh()(x)
