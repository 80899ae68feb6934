"""Shape and reduction ops: reshape, transpose, indexing, sums, broadcasting,
max/min, clip, matmul and dtype casts."""
from __future__ import annotations

import builtins
import math

import numpy as np

from dezero.functions import shapes
from dezero.backend import get_array_module
from dezero.core import Function, Variable, as_variable, as_variables

__all__ = ["reshape", "transpose", "get_item", "expand_dims", "flatten", "broadcast_to",
           "sum_to", "sum", "mean", "average", "max", "min", "clip", "matmul", "astype"]


def _normalize_axis(axis, ndim: int, op: str):
    """Return ``axis`` as a sorted tuple of non-negative ints (None: every axis)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalized = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for an input of {ndim} dimensions")
        normalized.append(int(a) % builtins.max(ndim, 1))
    if ndim == 0:  # axis 0 (or -1) of a 0-d array: nothing to reduce, as in PyTorch
        return ()
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(normalized))


# --- reshape / transpose ---------------------------------------------------------------
class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape an input of shape {x.shape} "
                             f"(size {x.size}) into shape {self.shape}") from None

    def backward(self, gy):
        return reshape(gy, self.x_shape)


def reshape(x, shape) -> Variable:
    """Return ``x`` with a new shape (one dimension may be -1)."""
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if isinstance(x, Variable) and x.shape == shape:
        return x
    return Reshape(shape)(x)


class Transpose(Function):
    def __init__(self, axes=None):
        self.axes = None if axes is None else tuple(axes)

    def forward(self, x):
        if self.axes is not None and sorted(a % x.ndim for a in self.axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {self.axes} are not a permutation of the "
                             f"{x.ndim} axes of an input of shape {x.shape}")
        return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return transpose(gy)
        inverse = tuple(np.argsort([a % len(self.axes) for a in self.axes]))
        return transpose(gy, inverse)


def transpose(x, axes=None) -> Variable:
    """Permute the axes of ``x`` (reverse them when ``axes`` is None)."""
    return Transpose(axes)(x)


def expand_dims(x, axis: int) -> Variable:
    """Insert an axis of length 1 at position ``axis``."""
    x = as_variable(x)
    ndim = x.ndim + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"expand_dims: axis {axis} is out of range for an input of shape {x.shape} "
                         f"(valid: {-ndim} to {ndim - 1})")
    shape = list(x.shape)
    shape.insert(axis % ndim, 1)
    return reshape(x, tuple(shape))


def flatten(x) -> Variable:
    """Flatten every axis but the first (batch) axis: (N, ...) -> (N, M)."""
    x = as_variable(x)
    return reshape(x, (x.shape[0], -1))


# --- indexing --------------------------------------------------------------------------
def _is_advanced_index(slices) -> bool:
    # Whitelist the basic kinds: anything else (arrays, lists, nested tuples)
    # is NumPy's advanced indexing, which may repeat elements.
    items = slices if isinstance(slices, tuple) else (slices,)
    return not all(s is None or s is Ellipsis or isinstance(s, (int, np.integer, slice)) for s in items)


def _index_data(slices):
    """Indices may be given as Variables; use their arrays."""
    if isinstance(slices, Variable):
        return slices.data
    if isinstance(slices, tuple):
        return tuple(s.data if isinstance(s, Variable) else s for s in slices)
    return slices


class GetItem(Function):
    def __init__(self, slices):
        self.slices = slices

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x[self.slices]
        except IndexError as e:
            raise IndexError(f"get_item: index {self.slices!r} is invalid for an input of "
                             f"shape {x.shape}: {e}") from None

    def backward(self, gy):
        return GetItemGrad(self.slices, self.x_shape)(gy)


class GetItemGrad(Function):
    """Scatter ``gy`` back into zeros of the input's shape; repeated indices accumulate."""

    def __init__(self, slices, in_shape):
        self.slices = slices
        self.in_shape = in_shape

    def forward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.in_shape, dtype=gy.dtype)
        if _is_advanced_index(self.slices):
            xp.add.at(gx, self.slices, gy)
        else:  # basic indexing never repeats an element
            gx[self.slices] = gy
        return gx

    def backward(self, ggx):
        return get_item(ggx, self.slices)


def get_item(x, slices) -> Variable:
    """``x[slices]``: ints, slices, Ellipsis, None, integer/boolean arrays."""
    return GetItem(_index_data(slices))(x)


# --- broadcasting and sums ------------------------------------------------------------
class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        xp = get_array_module(x)
        try:
            return xp.broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {self.shape}") from None

    def backward(self, gy):
        return sum_to(gy, self.x_shape)


def broadcast_to(x, shape) -> Variable:
    """Broadcast ``x`` to ``shape`` following NumPy's rules."""
    if isinstance(x, Variable) and x.shape == tuple(shape):
        return x
    return BroadcastTo(shape)(x)


class SumTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        return shapes.sum_to(x, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.x_shape)


def sum_to(x, shape) -> Variable:
    """Sum ``x`` down to ``shape``: the adjoint of ``broadcast_to``."""
    if isinstance(x, Variable) and x.shape == tuple(shape):
        return x
    return SumTo(shape)(x)


class Sum(Function):
    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        self.x_shape = x.shape
        self.axis = _normalize_axis(self.axis, x.ndim, "sum") if self.axis is not None else None
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        gy = shapes.reshape_sum_backward(gy, self.x_shape, self.axis, self.keepdims)
        return broadcast_to(gy, self.x_shape)


def sum(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Sum over ``axis`` (an int, a tuple, or None for all)."""
    return Sum(axis, keepdims)(x)


def mean(x, axis=None, keepdims: bool = False) -> Variable:
    """Arithmetic mean over ``axis``."""
    x = as_variable(x)
    axes = _normalize_axis(axis, x.ndim, "mean")
    count = 1
    for a in axes:
        count *= x.shape[a]
    return sum(x, axis, keepdims) * (1.0 / count)


average = mean


# --- max / min ------------------------------------------------------------------------------
class _Extremum(Function):
    """Shared by Max and Min. A tie sends the whole gradient to one element: the
    first one in C order among the reduced axes (the one ``argmax``/``argmin`` picks)."""

    name = ""

    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims

    def _reduce(self, x, axis, keepdims):
        raise NotImplementedError

    def _arg(self, xp, x, axis):
        raise NotImplementedError

    def forward(self, x):
        if x.size == 0:
            raise ValueError(f"{self.name}: zero-size input of shape {x.shape}")
        self.axes = _normalize_axis(self.axis, x.ndim, self.name)
        return self._reduce(x, self.axes, self.keepdims)

    def _winner_mask(self, x):
        xp = get_array_module(x)
        kept = [a for a in range(x.ndim) if a not in self.axes]
        moved = x.transpose(kept + list(self.axes))
        flat = moved.reshape(moved.shape[:len(kept)] + (-1,))
        winner = self._arg(xp, flat, -1)
        mask = (xp.arange(flat.shape[-1]) == winner[..., None]).astype(x.dtype)
        mask = mask.reshape(moved.shape)
        return mask.transpose(tuple(np.argsort(kept + list(self.axes))))

    def backward(self, gy):
        (x,) = self.inputs
        mask = self._winner_mask(x.data)
        gy = shapes.reshape_sum_backward(gy, x.shape, self.axes, self.keepdims)
        return broadcast_to(gy, x.shape) * mask


class Max(_Extremum):
    name = "max"

    def _reduce(self, x, axis, keepdims):
        return x.max(axis=axis, keepdims=keepdims)

    def _arg(self, xp, x, axis):
        return xp.argmax(x, axis=axis)


class Min(_Extremum):
    name = "min"

    def _reduce(self, x, axis, keepdims):
        return x.min(axis=axis, keepdims=keepdims)

    def _arg(self, xp, x, axis):
        return xp.argmin(x, axis=axis)


def max(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Maximum over ``axis``; on a tie the gradient goes to the first maximal element."""
    return Max(axis, keepdims)(x)


def min(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Minimum over ``axis``; on a tie the gradient goes to the first minimal element."""
    return Min(axis, keepdims)(x)


class Clip(Function):
    def __init__(self, x_min, x_max):
        self.x_min, self.x_max = x_min, x_max

    def forward(self, x):
        return get_array_module(x).clip(x, self.x_min, self.x_max)

    def backward(self, gy):
        (x,) = self.inputs
        # The gradient passes where the input is inside [x_min, x_max], ends included.
        inside = (x.data >= self.x_min) & (x.data <= self.x_max)
        return gy * inside.astype(gy.dtype)


def clip(x, x_min=None, x_max=None) -> Variable:
    """Clamp ``x`` elementwise into ``[x_min, x_max]``; a bound of None is no bound."""
    if x_min is None and x_max is None:
        raise ValueError("clip: give x_min, x_max or both")
    # NumPy scalar bounds would upcast float32 to float64 under NumPy 2.
    x_min, x_max = [b.item() if isinstance(b, np.generic) else b for b in (x_min, x_max)]
    x_min = -math.inf if x_min is None else x_min
    x_max = math.inf if x_max is None else x_max
    if x_min > x_max:
        raise ValueError(f"clip: x_min ({x_min}) is larger than x_max ({x_max})")
    return Clip(x_min, x_max)(x)


# --- matrix product ---------------------------------------------------------------------
class MatMul(Function):
    def forward(self, x, W):
        return x @ W

    def backward(self, gy):
        x, W = self.inputs
        # sum_to: batch dimensions may have been broadcast
        gx = sum_to(matmul(gy, _swap_last(W)), x.shape) if x.requires_grad else None
        gW = sum_to(matmul(_swap_last(x), gy), W.shape) if W.requires_grad else None
        return gx, gW


def _swap_last(x):
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return transpose(x, axes)


def matmul(a, b) -> Variable:
    """Matrix product ``a @ b`` (1-D operands as vectors, leading axes as batches)."""
    a, b = as_variables(a, b, op="matmul")  # a list operand takes the other's dtype
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
        k_b = b.shape[0 if b.ndim == 1 else -2]
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({a.shape[-1]} != {k_b})")
    if a.ndim == 1 and b.ndim == 1:
        return sum(a * b)
    if a.ndim == 1:
        return reshape(MatMul()(reshape(a, (1, -1)), b), b.shape[:-2] + b.shape[-1:])
    if b.ndim == 1:
        return reshape(MatMul()(a, reshape(b, (-1, 1))), a.shape[:-1])
    return MatMul()(a, b)


# --- dtype --------------------------------------------------------------------------------
class AsType(Function):
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype, copy=False)

    def backward(self, gy):
        return astype(gy, self.x_dtype)


def astype(x, dtype) -> Variable:
    """Cast to ``dtype``; the gradient is cast back to the input's dtype.

    A cast to an integer or bool dtype cuts the graph (the result is a
    constant), as only floating and complex Variables have gradients.
    """
    if isinstance(x, Variable) and x.dtype == np.dtype(dtype):
        return x
    return AsType(dtype)(x)
