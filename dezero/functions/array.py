"""Shape and reduction ops: reshape, transpose, indexing, sums, broadcasting,
max/min, clip, matmul and dtype casts."""

from __future__ import annotations

import builtins
import math
import warnings

import numpy as np

from dezero import parallel
from dezero.functions import shapes
from dezero.backend import array_types, get_array_module
from dezero.core import Function, Variable, as_variable, as_variables

__all__ = [
    "reshape",
    "transpose",
    "get_item",
    "expand_dims",
    "flatten",
    "broadcast_to",
    "sum_to",
    "sum",
    "mean",
    "average",
    "max",
    "min",
    "clip",
    "matmul",
    "astype",
]


def _normalize_axis(axis, ndim: int, op: str):
    """Return ``axis`` as a sorted tuple of non-negative ints (None: every axis)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalized = []
    # A 0-d input counts as 1-D here, so it takes axis 0 and -1, as in PyTorch.
    bound = builtins.max(ndim, 1)
    for a in axes:
        if not -bound <= a < bound:
            raise ValueError(f"{op}: axis {a} is out of range for an input of {ndim} dimensions")
        normalized.append(int(a) % bound)
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
            raise ValueError(
                f"reshape: cannot reshape an input of shape {x.shape} (size {x.size}) into shape {self.shape}"
            ) from None

    def backward(self, gy):
        return reshape(gy, self.x_shape)


def reshape(x, shape) -> Variable:
    """Return ``x`` with a new shape (one dimension may be -1).

    Parameters
    ----------
    x : Variable or array
        The input.
    shape : tuple of int
        The new shape, with as many elements as x; one entry may be -1.

    Returns
    -------
    Variable
        The same values in the new shape.
    """
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if isinstance(x, Variable) and x.shape == shape:
        return x
    return Reshape(shape)(x)


def _permutation(axes: tuple, shape: tuple) -> tuple:
    """``axes`` with negative entries resolved, or an error unless it permutes ``len(shape)`` axes."""
    ndim = len(shape)
    if (
        len(axes) != ndim
        or not all(-ndim <= a < ndim for a in axes)
        or sorted(int(a) % ndim for a in axes) != list(range(ndim))
    ):
        raise ValueError(
            f"transpose: axes {axes} are not a permutation of the {ndim} axes of an input of shape {shape}"
        )
    return tuple(int(a) % ndim for a in axes)


class Transpose(Function):
    def __init__(self, axes=None):
        self.axes = None if axes is None else tuple(axes)

    def forward(self, x):
        if self.axes is not None:
            self.axes = _permutation(self.axes, x.shape)
        return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return transpose(gy)
        inverse = tuple(int(i) for i in np.argsort(self.axes))
        return transpose(gy, inverse)


def transpose(x, axes=None) -> Variable:
    """Permute the axes of ``x`` (reverse them when ``axes`` is None).

    Parameters
    ----------
    x : Variable or array
        The input.
    axes : sequence of int, optional
        A permutation of x's axes.

    Returns
    -------
    Variable
        x with its axes permuted.
    """
    return Transpose(axes)(x)


def expand_dims(x, axis: int) -> Variable:
    """Insert an axis of length 1 at position ``axis``.

    Parameters
    ----------
    x : Variable or array
        The input.
    axis : int
        Where the new axis goes, counted in the result (negative counts from the end).

    Returns
    -------
    Variable
        x with one more axis.

    Raises
    ------
    ValueError
        If ``axis`` is out of range.
    """
    x = as_variable(x)
    ndim = x.ndim + 1
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"expand_dims: axis {axis} is out of range for an input of shape {x.shape} (valid: {-ndim} to {ndim - 1})"
        )
    shape = list(x.shape)
    shape.insert(axis % ndim, 1)
    return reshape(x, tuple(shape))


def flatten(x) -> Variable:
    """Flatten every axis but the first (batch) axis: (N, ...) -> (N, M).

    Parameters
    ----------
    x : Variable or array
        At least 1-D; axis 0 is the batch.

    Returns
    -------
    Variable
        Of shape (N, M), M the product of the other sizes.
    """
    x = as_variable(x)
    return reshape(x, (x.shape[0], -1))


# --- indexing --------------------------------------------------------------------------
def is_advanced_index(slices) -> bool:
    """True when ``slices`` uses NumPy's advanced indexing (index arrays, lists):
    then an element may be picked more than once."""
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
            raise IndexError(
                f"get_item: index {self.slices!r} is invalid for an input of shape {x.shape}: {e}"
            ) from None

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
        if is_advanced_index(self.slices):
            xp.add.at(gx, self.slices, gy)
        else:  # basic indexing never repeats an element
            gx[self.slices] = gy
        return gx

    def backward(self, ggx):
        return get_item(ggx, self.slices)


def get_item(x, slices) -> Variable:
    """``x[slices]``: ints, slices, Ellipsis, None, integer/boolean arrays.

    Parameters
    ----------
    x : Variable or array
        The input.
    slices
        Anything NumPy indexing accepts; integer arrays may be Variables.

    Returns
    -------
    Variable
        ``x[slices]``. Its gradient adds up repeated indices.
    """
    return GetItem(_index_data(slices))(x)


# --- broadcasting and sums ------------------------------------------------------------
def _shape_arg(shape) -> tuple:
    """A shape given as an int (``3``, as NumPy accepts) or a sequence, as a tuple of ints."""
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


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
    """Broadcast ``x`` to ``shape`` following NumPy's rules.

    Parameters
    ----------
    x : Variable or array
        The input.
    shape : int or tuple of int
        The target shape (an int is a 1-D shape, as in ``np.broadcast_to``).

    Returns
    -------
    Variable
        x repeated to ``shape``; the gradient sums back (:func:`sum_to`).
    """
    shape = _shape_arg(shape)
    if isinstance(x, Variable) and x.shape == shape:
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
    """Sum ``x`` down to ``shape``: the adjoint of ``broadcast_to``.

    Parameters
    ----------
    x : Variable or array
        The input.
    shape : int or tuple of int
        A shape x broadcasts from.

    Returns
    -------
    Variable
        Of ``shape``: x summed over the broadcast axes.
    """
    shape = _shape_arg(shape)
    if isinstance(x, Variable) and x.shape == shape:
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
    """Sum over ``axis`` (an int, a tuple, or None for all).

    Parameters
    ----------
    x : Variable or array
        The input.
    axis : int, tuple of ints or None
        The axes to reduce; None reduces all of them.
    keepdims : bool
        Keep the reduced axes with length 1 (so the result broadcasts against x).

    Returns
    -------
    Variable
        The sums, of x's dtype.
    """
    return Sum(axis, keepdims)(x)


def mean(x, axis=None, keepdims: bool = False) -> Variable:
    """Arithmetic mean over ``axis``.

    The mean over no elements (an axis of length 0) is NaN, with a
    RuntimeWarning, as in NumPy (PyTorch gives NaN silently).

    Parameters
    ----------
    x : Variable or array
        The input.
    axis : int, tuple of ints or None
        The axes to reduce; None reduces all of them.
    keepdims : bool
        Keep the reduced axes with length 1 (so the result broadcasts against x).

    Returns
    -------
    Variable
        The means, of x's dtype.
    """
    x = as_variable(x)
    axes = _normalize_axis(axis, x.ndim, "mean")
    count = 1
    for a in axes:
        count *= x.shape[a]
    if count == 0:
        warnings.warn(
            f"mean: mean of an empty slice (axis {axis} of an input of shape {x.shape}) is NaN",
            RuntimeWarning,
            stacklevel=2,
        )
        # Added, not multiplied: the value is NaN either way (the sum of nothing
        # is 0), but a NaN factor would reach the backward too, and the
        # derivative of the (empty) gradient with respect to the upstream one
        # must be 0, as in PyTorch, not NaN.
        return sum(x, axis, keepdims) + math.nan
    return sum(x, axis, keepdims) * (1.0 / count)


average = mean


# --- max / min ------------------------------------------------------------------------------
class _Extremum(Function):
    """Shared by Max and Min. A tie sends the whole gradient to one element: the
    first one in C order among the reduced axes (the one ``argmax``/``argmin`` picks)."""

    name = ""

    def __init__(self, axis=None, keepdims: bool = False):
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
        flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
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
    """Maximum over ``axis``; on a tie the gradient goes to the first maximal element.

    Parameters
    ----------
    x : Variable or array
        The input.
    axis : int, tuple of ints or None
        The axes to reduce; None reduces all of them.
    keepdims : bool
        Keep the reduced axes with length 1 (so the result broadcasts against x).

    Returns
    -------
    Variable
        The maxima, of x's dtype.
    """
    return Max(axis, keepdims)(x)


def min(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Minimum over ``axis``; on a tie the gradient goes to the first minimal element.

    Parameters
    ----------
    x : Variable or array
        The input.
    axis : int, tuple of ints or None
        The axes to reduce; None reduces all of them.
    keepdims : bool
        Keep the reduced axes with length 1 (so the result broadcasts against x).

    Returns
    -------
    Variable
        The minima, of x's dtype.
    """
    return Min(axis, keepdims)(x)


class Clip(Function):
    """``clip(x, x_min, x_max)``; the book's class, ``Clip(x_min, x_max)(x)``.

    The bounds are checked here, so the class and :func:`clip` refuse the
    same arguments.
    """

    def __init__(self, x_min, x_max):
        if x_min is None and x_max is None:
            raise ValueError("clip: give x_min, x_max or both")
        x_min, x_max = _clip_bound("x_min", x_min), _clip_bound("x_max", x_max)
        # A missing bound is an infinite one (the ONNX exporter reads it so);
        # forward leaves it out rather than compare integers with it.
        self.x_min = -math.inf if x_min is None else x_min
        self.x_max = math.inf if x_max is None else x_max
        try:
            crossed = self.x_min > self.x_max
        except ValueError:
            raise ValueError(
                f"clip: x_min of shape {np.shape(self.x_min)} and x_max of shape {np.shape(self.x_max)} "
                "cannot be broadcast together"
            ) from None
        if crossed if isinstance(crossed, bool) else bool(crossed.any()):
            raise ValueError(
                f"clip: x_min ({self.x_min}) is larger than x_max ({self.x_max})"
                + ("" if isinstance(crossed, bool) else " at some positions")
            )

    def _bounds(self, x) -> list:
        # Array bounds go to x's backend, and to x's dtype when x is floating
        # (float64 bounds must not turn a float32 x into float64; an integer x
        # keeps float bounds as they are, as a float scalar bound is).
        xp = get_array_module(x)
        bounds = []
        for name, b in (("x_min", self.x_min), ("x_max", self.x_max)):
            if isinstance(b, array_types):
                try:
                    fits = np.broadcast_shapes(b.shape, x.shape) == x.shape
                except ValueError:
                    fits = False
                if not fits:
                    raise ValueError(f"clip: {name} of shape {b.shape} does not broadcast to the shape {x.shape} of x")
                b = xp.asarray(b, dtype=x.dtype if x.dtype.kind in "fc" else None)
            bounds.append(b)
        return bounds

    def forward(self, x):
        x_min, x_max = self._bounds(x)
        xp = get_array_module(x)
        # One-sided: an infinite bound would turn an integer x into floats.
        no_min = isinstance(x_min, float) and x_min == -math.inf
        no_max = isinstance(x_max, float) and x_max == math.inf
        if no_min and not no_max:
            return xp.minimum(x, x_max)
        if no_max and not no_min:
            return xp.maximum(x, x_min)
        return xp.clip(x, x_min, x_max)

    def backward(self, gy):
        (x,) = self.inputs
        x_min, x_max = self._bounds(x.data)
        # The gradient passes where the input is inside [x_min, x_max], ends included.
        inside = (x.data >= x_min) & (x.data <= x_max)
        return gy * inside.astype(gy.dtype)


def _clip_bound(name: str, bound):
    """A bound as None, a Python scalar or an array (checked against x in forward).
    A NumPy scalar becomes a Python one: it would upcast a float32 x to float64."""
    if isinstance(bound, Variable):
        bound = bound.data
    if isinstance(bound, np.generic) and bound.dtype.kind in "biuf":
        return bound.item()  # before the test below: np.float64 is a float
    if bound is None or isinstance(bound, (int, float)):
        return bound
    if isinstance(bound, array_types) and bound.dtype.kind in "biuf":
        return bound.item() if bound.ndim == 0 else bound
    kind = f"{type(bound).__name__} of dtype {bound.dtype}" if hasattr(bound, "dtype") else type(bound).__name__
    raise TypeError(f"clip: {name} must be a number, an array or None, got {kind}")


def clip(x, x_min=None, x_max=None) -> Variable:
    """Clamp ``x`` elementwise into ``[x_min, x_max]``, as ``np.clip`` and ``torch.clamp``.

    Parameters
    ----------
    x : Variable or array
        The input.
    x_min, x_max : number, array, Variable or None
        The bounds; None is no bound on that side. An array bound is taken
        elementwise and must broadcast to x's shape. Bounds are constants: no
        gradient flows to them.

    Returns
    -------
    Variable
        Of x's shape and dtype. Its gradient passes where
        ``x_min <= x <= x_max`` (ends included) and is 0 elsewhere.

    Raises
    ------
    ValueError
        If both bounds are None, an array bound does not broadcast to x, or
        ``x_min > x_max`` somewhere.
    """
    return Clip(x_min, x_max)(x)


# --- matrix product ---------------------------------------------------------------------
class MatMul(Function):
    def forward(self, x, W):
        if x.ndim == 0 or W.ndim == 0:
            raise ValueError(f"MatMul: operands must have at least 1 dimension, got shapes {x.shape} and {W.shape}")
        k_w = W.shape[0 if W.ndim == 1 else -2]
        if x.shape[-1] != k_w:
            raise ValueError(f"MatMul: shapes {x.shape} and {W.shape} are not aligned ({x.shape[-1]} != {k_w})")
        return parallel.matmul(x, W)

    def backward(self, gy):
        x, W = self.inputs
        if x.ndim == 1 or W.ndim == 1:
            # The book's class called on vectors (matmul() reshapes them before
            # calling it): a vector is a matrix of one row (x) or one column (W).
            x2 = reshape(x, (1, -1)) if x.ndim == 1 else x
            W2 = reshape(W, (-1, 1)) if W.ndim == 1 else W
            batch = np.broadcast_shapes(x2.shape[:-2], W2.shape[:-2])
            gy2 = reshape(gy, batch + (x2.shape[-2], W2.shape[-1]))
            gx = reshape(sum_to(matmul(gy2, _swap_last(W2)), x2.shape), x.shape) if x.requires_grad else None
            gW = reshape(sum_to(matmul(_swap_last(x2), gy2), W2.shape), W.shape) if W.requires_grad else None
            return gx, gW
        # sum_to: batch dimensions may have been broadcast
        gx = sum_to(matmul(gy, _swap_last(W)), x.shape) if x.requires_grad else None
        gW = sum_to(matmul(_swap_last(x), gy), W.shape) if W.requires_grad else None
        return gx, gW


def _swap_last(x):
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return transpose(x, axes)


def matmul(a, b) -> Variable:
    """Matrix product ``a @ b`` (1-D operands as vectors, leading axes as batches).

    Parameters
    ----------
    a, b : Variable or array
        Operands whose inner sizes agree, as for ``numpy.matmul``.

    Returns
    -------
    Variable
        ``a @ b``.

    Raises
    ------
    ValueError
        If the inner sizes differ (the message gives both shapes).
    """
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
        if self.x_dtype.kind in "iu":
            if gy.dtype.kind not in "iu":
                return None  # a floating gradient is never truncated into an integer input
            if not np.can_cast(gy.dtype, self.x_dtype, "safe"):
                # Nor wrapped around: int8 -> int64, times 1000, has the gradient
                # 1000, kept exact in int64 (see Variable's Notes).
                return gy
        return astype(gy, self.x_dtype)


def astype(x, dtype) -> Variable:
    """Cast to ``dtype``; the gradient is cast back to the input's dtype.

    A cast of floating values to an integer or bool dtype cuts the graph (the
    result is a constant). An integer input cast to a floating dtype takes no
    gradient through the cast: it would have to be truncated. Casts between
    integer dtypes pass their exact integer gradients: cast back when the
    input's dtype holds them safely, else kept in their wider dtype (an int8
    input cast to int64 and multiplied by 1000 gets the int64 gradient 1000).

    Parameters
    ----------
    x : Variable or array
        The input.
    dtype : numpy dtype
        The new dtype.

    Returns
    -------
    Variable
        x in ``dtype`` (x itself, as a Variable, when it already has it).
    """
    if isinstance(x, Variable) and x.dtype == np.dtype(dtype):
        return x
    return AsType(dtype)(x)
