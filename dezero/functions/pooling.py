"""Pooling: max pooling (``pooling``, alias ``max_pooling``), its teaching version
``pooling_simple``, and ``average_pooling``.

Both kinds slide a KH x KW window over every channel of an (N, C, H, W) batch,
with the same size rule as convolution (``dezero.shapes.get_conv_outsize``).
Max pooling remembers which element of each window won; its backward routes
the gradient to that element, and the backward of *that* gathers with the same
indexes, so second derivatives work too.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from dezero import parallel
from dezero.backend import get_array_module
from dezero.core import Function, Variable, as_variable
from dezero.functions.array import max as _max
from dezero.functions.array import reshape, transpose
from dezero.functions.conv import Im2col, _check_4d, _out_size, _pair_arg, _windows

__all__ = ["pooling", "max_pooling", "pooling_simple", "average_pooling"]


class _Window(NamedTuple):
    kernel: tuple
    stride: tuple
    pad: tuple


def _pool_args(op: str, x, kernel_size, stride, pad):
    x = as_variable(x)
    _check_4d(op, "x", x)
    kernel = _pair_arg(op, "kernel_size", kernel_size, 1)
    stride = _pair_arg(op, "stride", stride, 1)
    pad = _pair_arg(op, "pad", pad, 0)
    _out_size(op, x.shape[2:], kernel, stride, pad)
    return x, _Window(kernel, stride, pad)


def _lowest(op: str, dtype):
    """The padding a max never picks: -inf for floats, the smallest value of an
    integer dtype (-inf cast to an integer would be 0, which beats negatives)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return -float("inf")
    if dtype.kind in "iu":
        return int(np.iinfo(dtype).min)
    if dtype.kind == "b":
        return False
    raise TypeError(f"{op}: x must be a real number array, got dtype {dtype}")


def _check_float(op: str, x) -> None:
    # An average of integers is not an integer (PyTorch refuses them too), and
    # NumPy would only fail deep inside, casting the mean back in place.
    if x.dtype.kind != "f":
        raise TypeError(
            f"{op}: x must be a floating-point array, got dtype {x.dtype} "
            f"(shape {tuple(x.shape)}); cast it first, e.g. x.astype(np.float32)"
        )


def _replayed(op: str, mpool2d, needs_input_shape: bool) -> None:
    """Check that ``mpool2d`` is a max pooling (or one of its gradients) that
    has run, so that it holds the winners' indexes to replay."""
    if not isinstance(mpool2d, (Pooling2D, Pooling2DGrad, Pooling2DWithIndexes)):
        raise TypeError(
            f"{op}: mpool2d must be the max pooling (Pooling2D, or a Pooling2DGrad or "
            f"Pooling2DWithIndexes of one) whose choices are replayed, got {type(mpool2d).__name__}"
        )
    if getattr(mpool2d, "indexes", None) is None or (needs_input_shape and not hasattr(mpool2d, "input_shape")):
        raise ValueError(
            f"{op}: the {type(mpool2d).__name__} given has not been called yet; call it on x "
            "first: the elements to replay are the ones its forward pass picked"
        )


def _check_pad(op: str, win: _Window) -> None:
    # PyTorch's rule for both max and average pooling: pad <= kernel // 2 on
    # each axis. With a larger pad the border windows are more than half
    # padding, and from pad = kernel on some hold padding only: -inf out of a
    # max pooling, a 0 out of an average pooling that looks like data.
    if win.pad[0] > win.kernel[0] // 2 or win.pad[1] > win.kernel[1] // 2:
        raise ValueError(
            f"{op}: pad {win.pad} must be at most half the kernel {win.kernel} (as in PyTorch), "
            "or the windows at the border would be mostly or only padding"
        )


def _window_slice(win: _Window, i: int, j: int, out_hw: tuple) -> tuple:
    """Index of the cells of a padded image that offset (i, j) of every window touches."""
    (sy, sx), (oh, ow) = win.stride, out_hw
    return (slice(None), slice(None), slice(i, i + sy * oh, sy), slice(j, j + sx * ow, sx))


def _crop(img, pad: tuple):
    ph, pw = pad
    if ph == 0 and pw == 0:
        return img
    xp = get_array_module(img)
    return xp.ascontiguousarray(img[:, :, ph : img.shape[2] - ph, pw : img.shape[3] - pw])


# =============================================================================
# Max pooling
# =============================================================================
def _point_at_nans(xp, cols, y, indexes) -> None:
    """A window holding NaN outputs NaN (xp.maximum propagates it), but no
    comparison with NaN is true, so the max loop left its index on an ordinary
    element. Send the gradient to the first NaN instead, as ``F.max`` does
    (PyTorch's max pooling sends it to a NaN too). Writes ``indexes`` in place."""
    nan_out = xp.isnan(y)
    # NaNs are rare: on the CPU look once and skip the pass over the windows.
    # On the GPU looking would stall on a host sync, so always fix.
    if xp is np and not nan_out.any():
        return
    # int8, not bool: not every backend's argmax takes booleans.
    first_nan = xp.argmax(xp.isnan(cols).astype(xp.int8), axis=0).astype(indexes.dtype)
    indexes[...] = xp.where(nan_out, first_nan, indexes)


def _window(op: str, kernel_size, stride, pad) -> _Window:
    return _Window(
        _pair_arg(op, "kernel_size", kernel_size, 1), _pair_arg(op, "stride", stride, 1), _pair_arg(op, "pad", pad, 0)
    )


class Pooling2D(Function):
    """Max pooling (see :func:`pooling`); the book's ``Pooling``, with its
    arguments and the same checks.

    Parameters
    ----------
    kernel_size, stride, pad : int or (int, int)
        Window size, step between windows, padding on each side (-inf, at
        most half the kernel).
    """

    # Declared for the type checker: the three classes read them from each other.
    win: _Window
    indexes: Any

    def __init__(self, kernel_size, stride=1, pad=0):
        self.win = _window("Pooling2D", kernel_size, stride, pad)
        _check_pad("Pooling2D", self.win)

    def forward(self, x):
        _check_4d("Pooling2D", "x", x)
        oh, ow = _out_size("Pooling2D", x.shape[2:], *self.win)
        lowest = _lowest("Pooling2D", x.dtype)
        xp = get_array_module(x)
        kh, kw = self.win.kernel
        self.input_shape = x.shape
        n, c = x.shape[:2]
        y = xp.empty((n, c, oh, ow), dtype=x.dtype)
        self.indexes = xp.empty(y.shape, dtype=xp.int8 if kh * kw <= 127 else xp.int32)

        def pool(start: int, stop: int) -> None:
            view = _windows(x[start:stop], self.win.kernel, self.win.stride, self.win.pad, pad_value=lowest)
            # One copy puts each kernel offset's values in a contiguous block, so
            # the loop below runs on long contiguous arrays (fast) instead of
            # strided ones.
            cols = xp.ascontiguousarray(view.transpose(2, 3, 0, 1, 4, 5))
            cols = cols.reshape((kh * kw,) + cols.shape[2:])  # (KH*KW, n, C, OH, OW)
            y_block, indexes = y[start:stop], self.indexes[start:stop]
            y_block[...] = cols[0]
            indexes[...] = 0
            for k in range(1, kh * kw):
                # Only a strictly larger value takes over, so on a tie the earlier
                # offset keeps the win. k only grows, so "set the index to k where
                # it won" is a maximum (branch-free, unlike a masked assignment).
                won = cols[k] > y_block
                xp.maximum(y_block, cols[k], out=y_block)
                xp.maximum(indexes, won.astype(indexes.dtype) * k, out=indexes)
            if y_block.dtype.kind == "f":
                _point_at_nans(xp, cols, y_block, indexes)

        parallel.for_each_slice(pool, n, x.size * 2, xp)
        return y

    def backward(self, gy):
        return Pooling2DGrad(self)(gy)


class Pooling2DGrad(Function):
    """Route each window's gradient to the element that won the forward max
    (windows that overlap add their contributions).

    Parameters
    ----------
    mpool2d : Pooling2D or Pooling2DWithIndexes
        The max pooling whose choices are replayed, already called (the
        book's signature): its window, the winners' indexes and the shape of
        its input are taken.
    """

    # Declared for the type checker: the three classes read them from each other.
    win: _Window
    indexes: Any

    def __init__(self, mpool2d: "Pooling2D | Pooling2DWithIndexes"):
        _replayed("Pooling2DGrad", mpool2d, needs_input_shape=True)
        self.win, self.indexes, self.input_shape = mpool2d.win, mpool2d.indexes, mpool2d.input_shape

    def forward(self, gy):
        if gy.shape != self.indexes.shape:
            raise ValueError(
                f"Pooling2DGrad: gy of shape {gy.shape} does not match the output of the max "
                f"pooling, {self.indexes.shape}"
            )
        xp = get_array_module(gy)
        (kh, kw), (sy, sx), (ph, pw) = self.win
        n, c, h, w = self.input_shape
        gx = xp.empty((n, c, h, w), dtype=gy.dtype)
        # gy * hit is branch-free and several times faster than where(hit, gy, 0)
        # on the CPU; it differs only where gy holds inf or NaN (inf * 0 = NaN).
        # On the GPU both are one memory-bound kernel, and checking for inf would
        # cost a host sync in every backward pass, so the GPU always takes where.
        finite = xp is np and bool(xp.isfinite(gy).all())
        overlapping = sy < kh or sx < kw

        def route(start: int, stop: int) -> None:
            gy_block, indexes = gy[start:stop], self.indexes[start:stop]
            if ph or pw:
                padded = xp.zeros((stop - start, c, h + 2 * ph, w + 2 * pw), dtype=gy.dtype)
            else:
                padded = gx[start:stop]
                padded[...] = 0
            for k in range(kh * kw):
                i, j = divmod(k, kw)
                hit = indexes == k
                cells = padded[_window_slice(self.win, i, j, gy.shape[2:])]
                if not finite:
                    cells += xp.where(hit, gy_block, 0)
                elif overlapping:
                    cells += gy_block * hit
                else:  # every cell belongs to at most one window: write, don't add
                    xp.multiply(gy_block, hit, out=cells)
            if ph or pw:
                gx[start:stop] = padded[:, :, ph : ph + h, pw : pw + w]

        parallel.for_each_slice(route, n, gx.size * 2, xp)
        return gx

    def backward(self, ggx):
        return Pooling2DWithIndexes(self)(ggx)


class Pooling2DWithIndexes(Function):
    """Pick from every window of x the element a max pooling has chosen before:
    a linear map of x whose adjoint is :class:`Pooling2DGrad`.

    Parameters
    ----------
    mpool2d : Pooling2D or Pooling2DGrad
        The max pooling whose choices are replayed, already called (the
        book's signature): its window and the winners' indexes are taken.
    """

    # Declared for the type checker: the three classes read them from each other.
    win: _Window
    indexes: Any

    def __init__(self, mpool2d: "Pooling2D | Pooling2DGrad"):
        _replayed("Pooling2DWithIndexes", mpool2d, needs_input_shape=False)
        self.win, self.indexes = mpool2d.win, mpool2d.indexes

    def forward(self, x):
        op = "Pooling2DWithIndexes"
        _check_4d(op, "x", x)
        windows = tuple(x.shape[:2]) + _out_size(op, x.shape[2:], *self.win)
        # The windows of x must be the ones the max pooling chose in (take_along_axis
        # would broadcast a batch of 1 against the indexes instead of refusing it).
        if windows != self.indexes.shape:
            raise ValueError(
                f"{op}: x of shape {x.shape} has windows {windows}, but the max pooling "
                f"chose in windows {self.indexes.shape}"
            )
        xp = get_array_module(x)
        self.input_shape = x.shape
        view = _windows(x, self.win.kernel, self.win.stride, self.win.pad)  # the pad is never picked
        n, c, kh, kw, oh, ow = view.shape
        cols = view.transpose(0, 1, 4, 5, 2, 3).reshape(n, c, oh, ow, kh * kw)
        picked = xp.take_along_axis(cols, self.indexes[..., None].astype(xp.intp), axis=-1)
        return picked[..., 0]

    def backward(self, gy):
        return Pooling2DGrad(self)(gy)


def pooling(x, kernel_size, stride=1, pad=0) -> Variable:
    """2-D max pooling over every channel.

    Parameters
    ----------
    x : Variable or array, shape (N, C, H, W)
    kernel_size, stride, pad : int or (int, int)
        Window size, step between windows, padding on each side. The padding is
        -inf (the smallest value of an integer dtype), so it never wins a max;
        pad may be at most half the kernel.

    Returns
    -------
    Variable
        Of shape (N, C, OH, OW), OH = (H + 2*PH - KH) // SH + 1.

    Notes
    -----
    Ties: the whole gradient of a window goes to ONE element, the first maximal
    one in row-major order within the window (the one ``argmax`` picks). A
    window holding NaN outputs NaN and sends its gradient to its first NaN.
    """
    x, win = _pool_args("pooling", x, kernel_size, stride, pad)
    _check_pad("pooling", win)
    _lowest("pooling", x.dtype)
    return Pooling2D(*win)(x)


max_pooling = pooling


def pooling_simple(x, kernel_size, stride=1, pad=0) -> Variable:
    """Max pooling from differentiable building blocks only (im2col, max,
    reshape, transpose): the teaching version of :func:`pooling`, with the same
    arguments, result and tie rule.

    Parameters
    ----------
    x : Variable or array
        Images (N, C, H, W).
    kernel_size, stride, pad : int or (int, int)
        Window size, step between windows, padding on each side.

    Returns
    -------
    Variable
        Of shape (N, C, OH, OW), the maximum of each window.
    """
    x, win = _pool_args("pooling_simple", x, kernel_size, stride, pad)
    _check_pad("pooling_simple", win)
    n, c, h, w = x.shape
    (kh, kw), (oh, ow) = win.kernel, _out_size("pooling_simple", (h, w), *win)
    col = Im2col(win.kernel, win.stride, win.pad, True, pad_value=_lowest("pooling_simple", x.dtype))(x)
    col = reshape(col, (-1, kh * kw))  # one window of one channel per row
    y = _max(col, axis=1)
    return transpose(reshape(y, (n, oh, ow, c)), (0, 3, 1, 2))


# =============================================================================
# Average pooling
# =============================================================================
class AveragePooling2D(Function):
    """Average pooling (see :func:`average_pooling`); the book's
    ``AveragePooling``, with its arguments and the same checks (floating-point
    x only).

    Parameters
    ----------
    kernel_size, stride, pad : int or (int, int)
        Window size, step between windows, zero padding on each side (at
        most half the kernel).
    """

    def __init__(self, kernel_size, stride=1, pad=0):
        self.win = _window("AveragePooling2D", kernel_size, stride, pad)
        _check_pad("AveragePooling2D", self.win)

    def forward(self, x):
        _check_4d("AveragePooling2D", "x", x)
        _out_size("AveragePooling2D", x.shape[2:], *self.win)
        _check_float("AveragePooling2D", x)
        self.input_shape = x.shape
        view = _windows(x, self.win.kernel, self.win.stride, self.win.pad)
        kh, kw = self.win.kernel
        y = view[:, :, 0, 0].copy()
        for k in range(1, kh * kw):
            y += view[:, :, k // kw, k % kw]
        y *= 1.0 / (kh * kw)
        return y

    def backward(self, gy):
        return AveragePooling2DGrad(self.win, self.input_shape)(gy)


class AveragePooling2DGrad(Function):
    """Spread each window's gradient evenly (1 / (KH*KW)) over its cells."""

    def __init__(self, win: _Window, input_shape):
        self.win, self.input_shape = win, input_shape

    def forward(self, gy):
        xp = get_array_module(gy)
        (kh, kw), (ph, pw) = self.win.kernel, self.win.pad
        n, c, h, w = self.input_shape
        share = gy * (1.0 / (kh * kw))
        gx = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=gy.dtype)
        for i in range(kh):
            for j in range(kw):
                gx[_window_slice(self.win, i, j, gy.shape[2:])] += share
        return _crop(gx, self.win.pad)

    def backward(self, ggx):
        return AveragePooling2D(*self.win)(ggx)


def average_pooling(x, kernel_size, stride=1, pad=0) -> Variable:
    """2-D average pooling over every channel.

    Parameters
    ----------
    x : Variable or array, shape (N, C, H, W)
    kernel_size, stride, pad : int or (int, int)
        Window size, step between windows (1 unless given, not the kernel
        size), zero padding on each side (at most half the kernel, as in
        PyTorch and as for :func:`pooling`).

    Returns
    -------
    Variable
        Of shape (N, C, OH, OW), the mean of each window.

    Notes
    -----
    The padding is zeros and every window is divided by KH*KW, padded cells
    included (Chainer's behaviour, PyTorch's ``count_include_pad=True``), so a
    border window that is half padding averages in those zeros.

    Raises
    ------
    ValueError
        For a pad over half the kernel, among other bad arguments.
    TypeError
        If x is not floating point: an average of integers is not an integer
        (PyTorch refuses them too); cast first, e.g. ``x.astype(np.float32)``.
    """
    x, win = _pool_args("average_pooling", x, kernel_size, stride, pad)
    _check_pad("average_pooling", win)
    _check_float("average_pooling", x)
    return AveragePooling2D(*win)(x)
