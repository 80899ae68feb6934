"""Convolution: im2col/col2im, conv2d, deconv2d (transposed convolution) and the
teaching version conv2d_simple.

The idea in one paragraph: ``im2col`` cuts every KH x KW window out of the
(padded) input and lays the windows side by side, so that a convolution becomes
ONE matrix product of the windows with the flattened filters. ``col2im`` is its
adjoint: it adds every window back to the place it was cut from (overlaps sum).
A transposed convolution is a matrix product followed by ``col2im``, and the two
are each other's backward pass::

    <conv2d(x, W), gy>  ==  <x, deconv2d(gy, W)>  ==  <W, Conv2DGradW(x, gy)>

Layouts: images are (N, C, H, W); conv2d filters are (OC, C, KH, KW); deconv2d
filters are (C_in, C_out, KH, KW) as in Chainer and PyTorch. Output sizes follow
``dezero.shapes.get_conv_outsize`` / ``get_deconv_outsize``; every kernel, stride,
pad and outsize argument is an int or an (height, width) pair.
"""

from __future__ import annotations

import numpy as np

from dezero import parallel
from dezero.functions import shapes
from dezero.backend import get_array_module
from dezero.core import Function, Variable, as_variable
from dezero.functions.array import broadcast_to, reshape, transpose
from dezero.functions.connection import linear

__all__ = ["im2col", "col2im", "conv2d", "deconv2d", "conv2d_simple"]


# =============================================================================
# Argument checks shared with pooling.py
# =============================================================================
def _check_4d(op: str, name: str, x, layout: str = "(N, C, H, W)") -> None:
    if x.ndim != 4:
        raise ValueError(f"{op}: {name} must be 4-D {layout}, got shape {tuple(x.shape)}")


def _pair_arg(op: str, name: str, value, minimum: int) -> tuple:
    """``value`` as an (h, w) pair of ints, each at least ``minimum``."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    # Only true integers: int() would quietly turn a 1.5 into 1.
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in items):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    try:
        p = shapes.pair(value)
    except (ValueError, TypeError):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}") from None
    if p[0] < minimum or p[1] < minimum:
        what = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {what}, got {value!r}")
    return p


def _check_kernel(op: str, W, layout: str) -> None:
    # A 0-sized kernel has no window to sweep: the size formula would still
    # give (H + 2P) // S + 1 outputs, all of them sums over nothing.
    if W.shape[2] < 1 or W.shape[3] < 1:
        raise ValueError(
            f"{op}: W has an empty kernel: (KH, KW) = {tuple(W.shape[2:])} in W of shape "
            f"{tuple(W.shape)} {layout}; KH and KW must be at least 1"
        )


def _out_size(op: str, in_hw: tuple, kernel: tuple, stride: tuple, pad: tuple) -> tuple:
    """(OH, OW) of a window sweep, or an error if the kernel does not fit the padded input."""
    oh = shapes.get_conv_outsize(in_hw[0], kernel[0], stride[0], pad[0])
    ow = shapes.get_conv_outsize(in_hw[1], kernel[1], stride[1], pad[1])
    if oh < 1 or ow < 1:
        padded = (in_hw[0] + 2 * pad[0], in_hw[1] + 2 * pad[1])
        raise ValueError(
            f"{op}: kernel {kernel} is larger than the padded input {padded} (input {tuple(in_hw)}, pad {pad})"
        )
    return oh, ow


def _shape_arg(op: str, name: str, value) -> tuple:
    """``value`` as an (N, C, H, W) tuple of non-negative ints."""
    try:
        items = tuple(value)
    except TypeError:  # not a sequence at all (None, an int)
        items = ()
    if (
        len(items) != 4
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in items)
        or min(items) < 0
    ):
        raise ValueError(f"{op}: {name} must be (N, C, H, W), four non-negative ints, got {value!r}")
    return tuple(int(v) for v in items)


def _col_shape(op: str, input_shape: tuple, kernel: tuple, stride: tuple, pad: tuple, to_matrix: bool) -> tuple:
    """The shape im2col gives for images of ``input_shape`` (and so the one col2im takes)."""
    n, c, h, w = input_shape
    oh, ow = _out_size(op, (h, w), kernel, stride, pad)
    return (n * oh * ow, c * kernel[0] * kernel[1]) if to_matrix else (n, c, kernel[0], kernel[1], oh, ow)


def _check_col(op: str, col, input_shape: tuple, kernel: tuple, stride: tuple, pad: tuple, expected: tuple) -> None:
    # Only the shape can tell a transposed or foreign col from the right one:
    # the reshape inside col2im would take any array of the right size.
    if tuple(col.shape) != expected:
        raise ValueError(
            f"{op}: col of shape {tuple(col.shape)} does not match input_shape {input_shape} "
            f"with kernel {kernel}, stride {stride}, pad {pad}: expected {expected}"
        )


def _check_bias_shape(op: str, b, n_out: int, W_shape: tuple) -> None:
    if b is not None and tuple(b.shape) != (n_out,):
        raise ValueError(f"{op}: b must have shape ({n_out},) to match W {tuple(W_shape)}, got {tuple(b.shape)}")


def _check_conv(op: str, x, W, b, stride: tuple, pad: tuple) -> tuple:
    """Check conv2d's operands (arrays or Variables; b may be None); returns (OH, OW).

    Both :func:`conv2d` and :class:`Conv2D`'s forward run it, each under its
    own name, so that the book's ``Conv2d(stride, pad)(x, W, b)`` refuses what
    the function refuses, with the same message.
    """
    _check_4d(op, "x", x)
    _check_4d(op, "W", W, "(OC, C, KH, KW)")
    _check_kernel(op, W, "(OC, C, KH, KW)")
    if x.shape[1] != W.shape[1]:
        raise ValueError(
            f"{op}: x has {x.shape[1]} channels but W expects {W.shape[1]} (x {tuple(x.shape)}, W {tuple(W.shape)})"
        )
    out_hw = _out_size(op, x.shape[2:], W.shape[2:], stride, pad)
    _check_bias_shape(op, b, W.shape[0], W.shape)
    return out_hw


def _check_deconv(op: str, x, W, b, stride: tuple, pad: tuple, outsize) -> tuple:
    """Check deconv2d's operands (arrays or Variables; b may be None, outsize a
    pair or None); returns the output size (OH, OW). Shared by :func:`deconv2d`
    and :class:`Deconv2D`'s forward."""
    _check_4d(op, "x", x)
    _check_4d(op, "W", W, "(C_in, C_out, KH, KW)")
    _check_kernel(op, W, "(C_in, C_out, KH, KW)")
    if x.shape[1] != W.shape[0]:
        raise ValueError(
            f"{op}: x has {x.shape[1]} channels but W expects {W.shape[0]} input "
            f"channels (x {tuple(x.shape)}, W {tuple(W.shape)} laid out as (C_in, C_out, KH, KW))"
        )
    _check_bias_shape(op, b, W.shape[1], W.shape)
    kernel, in_hw = tuple(W.shape[2:]), tuple(x.shape[2:])
    default = tuple(shapes.get_deconv_outsize(in_hw[d], kernel[d], stride[d], pad[d]) for d in (0, 1))
    if outsize is None:
        if default[0] < 1 or default[1] < 1:
            raise ValueError(
                f"{op}: the output would be empty: S*(I-1)+K-2P = {default} for input "
                f"{in_hw}, kernel {kernel}, stride {stride}, pad {pad}"
            )
        return default
    back = tuple(shapes.get_conv_outsize(outsize[d], kernel[d], stride[d], pad[d]) for d in (0, 1))
    if back != in_hw:
        raise ValueError(
            f"{op}: outsize {outsize} is inconsistent with the input {in_hw}: a "
            f"convolution with kernel {kernel}, stride {stride}, pad {pad} maps it "
            f"to {back}; valid sizes are {default} plus 0..S-1 per axis"
        )
    return tuple(outsize)


# =============================================================================
# Raw-array helpers (NumPy or CuPy)
# =============================================================================
def _pad(x, pad: tuple, value: float = 0.0):
    """Pad the two spatial axes of an (N, C, H, W) array with ``value`` on both sides."""
    ph, pw = pad
    if ph == 0 and pw == 0:
        return x
    xp = get_array_module(x)
    n, c, h, w = x.shape
    out = xp.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph : ph + h, pw : pw + w] = x
    return out


def _windows(x, kernel: tuple, stride: tuple, pad: tuple, pad_value: float = 0.0):
    """A 6-D VIEW (N, C, KH, KW, OH, OW) of the padded input:
    ``view[n, c, i, j, y, x] == x_pad[n, c, y*SY + i, x*SX + j]``.

    No data is copied: stepping along OH moves SY rows in memory, stepping along
    KH moves one row, so both are just strides over the same buffer. Windows
    overlap, so the view is only ever read, never written.
    """
    xp = get_array_module(x)
    (kh, kw), (sy, sx) = kernel, stride
    oh = shapes.get_conv_outsize(x.shape[2], kh, sy, pad[0])
    ow = shapes.get_conv_outsize(x.shape[3], kw, sx, pad[1])
    x = _pad(x, pad, pad_value)
    s_n, s_c, s_h, s_w = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, shape=(x.shape[0], x.shape[1], kh, kw, oh, ow), strides=(s_n, s_c, s_h, s_w, s_h * sy, s_w * sx)
    )


def _col2im(col, img_shape: tuple, kernel: tuple, stride: tuple, pad: tuple, out=None):
    """Add every window of ``col`` back where it was cut from (the adjoint of ``_windows``).

    ``col`` means (N, C, KH, KW, OH, OW) but may have any strides (a transposed
    view is fine). One strided slice-add per kernel offset (i, j): window
    position (y, x) lands on padded row y*SY + i, column x*SX + j.
    The result goes into ``out`` when given (any (N, C, H, W) array, e.g. one
    slice of a larger batch), else into a new array.
    """
    xp = get_array_module(col)
    n, c, h, w = img_shape
    (kh, kw), (sy, sx), (ph, pw) = kernel, stride, pad
    oh, ow = col.shape[4], col.shape[5]
    img = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=col.dtype)
    for i in range(kh):
        for j in range(kw):
            img[:, :, i : i + sy * oh : sy, j : j + sx * ow : sx] += col[:, :, i, j]
    if ph or pw:
        img = img[:, :, ph : ph + h, pw : pw + w]
    if out is None:
        return xp.ascontiguousarray(img)
    out[...] = img
    return out


def _im2col(x, kernel: tuple, stride: tuple, pad: tuple, to_matrix: bool, pad_value: float = 0.0):
    """im2col on checked arguments (pairs, a 4-D x the kernel fits)."""
    view = _windows(x, kernel, stride, pad, pad_value)
    # .copy() even where a view would do (1x1 kernels): the result must never
    # share memory with x.
    if to_matrix:
        n, c, kh, kw, oh, ow = view.shape
        return view.transpose(0, 4, 5, 1, 2, 3).copy().reshape(n * oh * ow, c * kh * kw)
    return view.copy()


def _col2im_any(col, img_shape: tuple, kernel: tuple, stride: tuple, pad: tuple, to_matrix: bool):
    """col2im on checked arguments: ``col`` has the shape im2col gives for ``img_shape``."""
    n, c, h, w = img_shape
    if to_matrix:
        oh = shapes.get_conv_outsize(h, kernel[0], stride[0], pad[0])
        ow = shapes.get_conv_outsize(w, kernel[1], stride[1], pad[1])
        col = col.reshape(n, oh, ow, c, kernel[0], kernel[1]).transpose(0, 3, 4, 5, 1, 2)
    return _col2im(col, img_shape, kernel, stride, pad)


def im2col_array(x, kernel_size, stride=1, pad=0, to_matrix: bool = True, pad_value: float = 0.0):
    """Raw-array im2col: every window of ``x`` laid out as a row (or an axis).

    Parameters
    ----------
    x : array of shape (N, C, H, W)
        NumPy or CuPy.
    kernel_size, stride, pad : int or pair of ints
        The window geometry, as for :func:`conv2d`.
    to_matrix : bool
        Return (N*OH*OW, C*KH*KW), one window per row; else (N, C, KH, KW, OH, OW).
    pad_value : float
        The value of the padding.

    Returns
    -------
    array
        A new array (never a view of ``x``).

    Raises
    ------
    ValueError
        As :func:`im2col` does, for arguments that describe no windows.
    """
    op = "im2col_array"
    _check_4d(op, "x", x)
    kernel = _pair_arg(op, "kernel_size", kernel_size, 1)
    stride = _pair_arg(op, "stride", stride, 1)
    pad = _pair_arg(op, "pad", pad, 0)
    _out_size(op, x.shape[2:], kernel, stride, pad)
    return _im2col(x, kernel, stride, pad, to_matrix, pad_value)


def col2im_array(col, img_shape, kernel_size, stride=1, pad=0, to_matrix: bool = True):
    """Raw-array col2im, the adjoint of :func:`im2col_array`: windows are summed
    back into an image (overlapping windows add up).

    Parameters
    ----------
    col : array
        As :func:`im2col_array` returns it for ``to_matrix``.
    img_shape : tuple
        The image shape (N, C, H, W).
    kernel_size, stride, pad : int or pair of ints
        The window geometry.
    to_matrix : bool
        Whether ``col`` is the matrix form.

    Returns
    -------
    array
        Of ``img_shape``.

    Raises
    ------
    ValueError
        As :func:`col2im` does, for arguments that describe no windows or a
        ``col`` of another shape than im2col gives for them.
    """
    op = "col2im_array"
    img_shape = _shape_arg(op, "img_shape", img_shape)
    kernel = _pair_arg(op, "kernel_size", kernel_size, 1)
    stride = _pair_arg(op, "stride", stride, 1)
    pad = _pair_arg(op, "pad", pad, 0)
    expected = _col_shape(op, img_shape, kernel, stride, pad, to_matrix)
    _check_col(op, col, img_shape, kernel, stride, pad, expected)
    return _col2im_any(col, img_shape, kernel, stride, pad, to_matrix)


# Columns of at most this many elements (1 MiB of float32) are cut out and
# multiplied a few samples at a time: the copy then stays in the core's cache
# for the product that reads it. Cutting out a whole batch's columns at once
# (KH*KW times the input's size) and multiplying them in one product streamed
# them through main memory twice and was slower, besides taking the memory.
CHUNK_ELEMENTS = 1 << 18


def _chunks(start: int, stop: int, per_sample: int, xp):
    """(lo, hi) bounds cutting samples ``start:stop`` into chunks of at most
    CHUNK_ELEMENTS elements of ``per_sample`` each (at least one sample); one
    chunk on the GPU, where one large kernel beats many small ones."""
    if xp is not np:
        return [(start, stop)]
    step = max(1, CHUNK_ELEMENTS // max(1, per_sample))
    return [(lo, min(lo + step, stop)) for lo in range(start, stop, step)]


# =============================================================================
# im2col / col2im as Functions
# =============================================================================
class Im2col(Function):
    """Differentiable im2col, as a Function of the images (see :func:`im2col`).

    The book's ``Im2col``, with its arguments, and the same checks as
    :func:`im2col` (made here, so that both ways of calling get them).

    Parameters
    ----------
    kernel_size, stride, pad : int or (int, int)
        The window geometry.
    to_matrix : bool
        Output (N*OH*OW, C*KH*KW), one window per row; else (N, C, KH, KW, OH, OW).
    pad_value : float
        The value of the padding: max pooling pads with -inf (the padded cells
        are cut off again by the backward pass, so it never matters for the
        gradient).
    """

    def __init__(self, kernel_size, stride, pad, to_matrix, pad_value=0.0):
        op = "Im2col"
        self.kernel_size = _pair_arg(op, "kernel_size", kernel_size, 1)
        self.stride = _pair_arg(op, "stride", stride, 1)
        self.pad = _pair_arg(op, "pad", pad, 0)
        self.to_matrix = to_matrix
        self.pad_value = pad_value

    def forward(self, x):
        _check_4d("Im2col", "x", x)
        _out_size("Im2col", x.shape[2:], self.kernel_size, self.stride, self.pad)
        self.input_shape = x.shape
        return _im2col(x, self.kernel_size, self.stride, self.pad, self.to_matrix, self.pad_value)

    def backward(self, gy):
        # The classes, not the functions: the geometry is checked already, and
        # the Function checks the shapes it is called on.
        return Col2im(self.input_shape, self.kernel_size, self.stride, self.pad, self.to_matrix)(gy)


class Col2im(Function):
    """Differentiable col2im, the adjoint of :class:`Im2col` (see :func:`col2im`).

    The book's ``Col2im``, with its arguments, and the same checks as
    :func:`col2im` (made here, so that both ways of calling get them).

    Parameters
    ----------
    input_shape : tuple of int
        (N, C, H, W), the shape of the images the windows were cut from.
    kernel_size, stride, pad : int or (int, int)
        The window geometry.
    to_matrix : bool
        Whether the windows come as (N*OH*OW, C*KH*KW) rows; else (N, C, KH, KW, OH, OW).
    """

    def __init__(self, input_shape, kernel_size, stride, pad, to_matrix):
        op = "Col2im"
        self.input_shape = _shape_arg(op, "input_shape", input_shape)
        self.kernel_size = _pair_arg(op, "kernel_size", kernel_size, 1)
        self.stride = _pair_arg(op, "stride", stride, 1)
        self.pad = _pair_arg(op, "pad", pad, 0)
        self.to_matrix = to_matrix
        self._col_shape = _col_shape(op, self.input_shape, self.kernel_size, self.stride, self.pad, to_matrix)

    def forward(self, col):
        _check_col("Col2im", col, self.input_shape, self.kernel_size, self.stride, self.pad, self._col_shape)
        return _col2im_any(col, self.input_shape, self.kernel_size, self.stride, self.pad, self.to_matrix)

    def backward(self, gx):
        return Im2col(self.kernel_size, self.stride, self.pad, self.to_matrix)(gx)


def im2col(x, kernel_size, stride=1, pad=0, to_matrix: bool = True) -> Variable:
    """Cut every kernel-sized window out of a batch of images.

    Parameters
    ----------
    x : Variable or array, shape (N, C, H, W)
    kernel_size, stride, pad : int or (int, int)
        Window size, step between windows, zero padding on each side.
    to_matrix : bool
        True: a matrix (N*OH*OW, C*KH*KW) with one window per row.
        False: the 6-D array (N, C, KH, KW, OH, OW).

    Returns
    -------
    Variable
        The windows, laid out as ``to_matrix`` says.

    Notes
    -----
    Its gradient is :func:`col2im` (and the other way round): the two are exact adjoints.
    """
    x = as_variable(x)
    _check_4d("im2col", "x", x)
    kernel = _pair_arg("im2col", "kernel_size", kernel_size, 1)
    stride = _pair_arg("im2col", "stride", stride, 1)
    pad = _pair_arg("im2col", "pad", pad, 0)
    _out_size("im2col", x.shape[2:], kernel, stride, pad)
    return Im2col(kernel, stride, pad, to_matrix)(x)


def col2im(col, input_shape, kernel_size, stride=1, pad=0, to_matrix: bool = True) -> Variable:
    """Sum windows back into images of ``input_shape`` (N, C, H, W); overlaps add up.

    ``col`` has the layout :func:`im2col` produces for that shape and
    ``to_matrix`` setting. This is the adjoint (the gradient) of :func:`im2col`.

    Parameters
    ----------
    col : Variable or array
        Windows as :func:`im2col` lays them out.
    input_shape : tuple of 4 ints
        (N, C, H, W) of the images.
    kernel_size, stride, pad : int or (int, int)
        As for :func:`im2col`.
    to_matrix : bool
        Whether ``col`` is the (N*OH*OW, C*KH*KW) matrix or the 6-D array.

    Returns
    -------
    Variable
        Images of ``input_shape``.

    Raises
    ------
    ValueError
        If ``col``'s shape does not fit the other arguments.
    """
    op = "col2im"
    col = as_variable(col)
    input_shape = _shape_arg(op, "input_shape", input_shape)
    kernel = _pair_arg(op, "kernel_size", kernel_size, 1)
    stride = _pair_arg(op, "stride", stride, 1)
    pad = _pair_arg(op, "pad", pad, 0)
    _check_col(op, col, input_shape, kernel, stride, pad, _col_shape(op, input_shape, kernel, stride, pad, to_matrix))
    return Col2im(input_shape, kernel, stride, pad, to_matrix)(col)


# =============================================================================
# conv2d
# =============================================================================
class Conv2D(Function):
    """y[n, o] = sum_c correlate(x_pad[n, c], W[o, c]) + b[o], as GEMMs on the windows.

    Called on (x, W, b), b may be None (no bias). The book's ``Conv2d``, with
    its arguments; its forward checks the shapes as :func:`conv2d` does.

    Parameters
    ----------
    stride, pad : int or (int, int)
        Step between windows and zero padding on each side.
    """

    optional_inputs = (2,)  # b=None: no bias
    # (KH, KW) of the filter of the last call, for Conv2DGradW(self).
    kernel_size: "tuple | None" = None

    def __init__(self, stride=1, pad=0):
        self.stride = _pair_arg("Conv2D", "stride", stride, 1)
        self.pad = _pair_arg("Conv2D", "pad", pad, 0)

    def forward(self, x, W, b):
        _check_conv("Conv2D", x, W, b, self.stride, self.pad)
        # Kept rather than read from self.inputs by Conv2DGradW(self): a call
        # under no_grad records no inputs.
        self.kernel_size = tuple(W.shape[2:])
        return _conv2d_array(x, W, b, self.stride, self.pad)

    def backward(self, gy):
        x, W, b = self.inputs
        # The input batch of a network needs no gradient: skip a whole deconvolution.
        # The classes, not the functions, which would check the arguments once more.
        no_bias = Variable(None)
        gx = Deconv2D(self.stride, self.pad, x.shape[2:])(gy, W, no_bias) if x.requires_grad else None
        gW = Conv2DGradW(self)(x, gy) if W.requires_grad else None
        gb = _BiasGrad()(gy) if b.data is not None and b.requires_grad else None
        return gx, gW, gb


def _conv2d_array(x, W, b, stride: tuple, pad: tuple):
    """Raw-array convolution: the batch's slices side by side on the CPU's cores
    (see :mod:`dezero.parallel`), each slice a few samples at a time: im2col
    into a small buffer, then one product per sample written straight into its
    place in y."""
    xp = get_array_module(x)
    oc, c, kh, kw = W.shape
    n = x.shape[0]
    oh = shapes.get_conv_outsize(x.shape[2], kh, stride[0], pad[0])
    ow = shapes.get_conv_outsize(x.shape[3], kw, stride[1], pad[1])
    y = xp.empty((n, oc, oh, ow), dtype=xp.result_type(x.dtype, W.dtype))
    k = c * kh * kw
    W_mat = W.reshape(oc, k)
    rows = k
    if b is not None:
        # The bias joins the product as one more column of W against a row of
        # ones under the windows: no separate pass over y to add it.
        W_mat = xp.concatenate([W_mat, b.reshape(oc, 1)], axis=1)
        rows = k + 1

    def convolve(start: int, stop: int) -> None:
        windows = _windows(x[start:stop], (kh, kw), stride, pad)  # (S, C, KH, KW, OH, OW), a view
        col = xp.empty(0)
        for lo, hi in _chunks(start, stop, rows * oh * ow, xp):
            if col.shape[0] != hi - lo:
                col = xp.empty((hi - lo, rows, oh * ow), dtype=x.dtype)
                col[:, k:] = 1
            col[:, :k].reshape(windows[lo - start : hi - start].shape)[...] = windows[lo - start : hi - start]
            # (OC, C*KH*KW [+1]) @ (C*KH*KW [+1], OH*OW) for each sample: the
            # (N, OC, OH, OW) layout comes out with no transposing copy.
            xp.matmul(W_mat, col, out=y[lo:hi].reshape(hi - lo, oc, oh * ow))

    parallel.for_each_slice(convolve, n, c * kh * kw * n * oh * ow + y.size, xp)
    return y


class Conv2DGradW(Function):
    """The filter gradient of a convolution, as a Function of (x, gy):

        gW[o, c, i, j] = sum_{n, y, x} gy[n, o, y, x] * x_pad[n, c, y*SY + i, x*SX + j]

    It is bilinear in (x, gy), so its own backward is a transposed convolution
    (for x) and a convolution (for gy) with the incoming filter gradient.

    Parameters
    ----------
    conv2d : Conv2D or Deconv2D
        The convolution whose filter gradient this is, already called: its
        filter gives the kernel size, and its stride and pad are taken (the
        book's signature; a deconvolution's filter gradient is that of the
        convolution it is the transpose of, with x and gy swapped).
    """

    def __init__(self, conv2d: "Conv2D | Deconv2D"):
        if not isinstance(conv2d, (Conv2D, Deconv2D)):
            raise TypeError(
                f"Conv2DGradW: conv2d must be the Conv2D or Deconv2D whose filter gradient "
                f"is wanted, got {type(conv2d).__name__}"
            )
        if conv2d.kernel_size is None:
            raise ValueError(
                f"Conv2DGradW: the {type(conv2d).__name__} given has not been called yet; "
                "call it on (x, W, b) first: the kernel size comes from its W"
            )
        self.kernel = conv2d.kernel_size
        self.stride, self.pad = conv2d.stride, conv2d.pad

    def forward(self, x, gy):
        op = "Conv2DGradW"
        _check_4d(op, "x", x)
        _check_4d(op, "gy", gy)
        oh, ow = _out_size(op, x.shape[2:], self.kernel, self.stride, self.pad)
        if gy.shape[0] != x.shape[0] or gy.shape[2:] != (oh, ow):
            raise ValueError(
                f"{op}: gy of shape {gy.shape} does not fit x of shape {x.shape}: the "
                f"convolution with kernel {self.kernel}, stride {self.stride}, pad {self.pad} "
                f"gives ({x.shape[0]}, OC, {oh}, {ow})"
            )
        xp = get_array_module(x)
        n, c = x.shape[:2]
        oc = gy.shape[1]
        kh, kw = self.kernel
        k = c * kh * kw
        if n == 0:
            # An empty batch adds up no terms: the gradient is zero (as in
            # PyTorch), and slice_sum below would have no chunk to start from.
            return xp.zeros((oc, c, kh, kw), dtype=xp.result_type(x.dtype, gy.dtype))

        def slice_sum(start: int, stop: int):
            """This slice's share of the sum over (n, y, x), as an (OC, C*KH*KW) matrix."""
            # The windows are cut out again rather than kept from the forward
            # pass: a copy that stays in cache costs less than writing all of
            # them to memory and reading them back, and keeps KH*KW times x's
            # size of memory free between forward and backward.
            windows = _windows(x[start:stop], self.kernel, self.stride, self.pad)
            total, col = None, None
            for lo, hi in _chunks(start, stop, k * oh * ow, xp):
                if col is None or col.shape[0] != hi - lo:
                    col = xp.empty((hi - lo, c, kh, kw, oh, ow), dtype=x.dtype)
                col[...] = windows[lo - start : hi - start]
                # (OC, OH*OW) @ (OH*OW, C*KH*KW) for each sample, then summed.
                part = xp.matmul(
                    gy[lo:hi].reshape(hi - lo, oc, oh * ow), col.reshape(hi - lo, k, oh * ow).transpose(0, 2, 1)
                )
                part = part[0] if hi - lo == 1 else part.sum(axis=0)
                if total is None:
                    total = part
                else:
                    total += part
            return total

        sums = parallel.for_each_slice(slice_sum, n, k * n * oh * ow + gy.size, xp)
        gW = sums[0]
        for other in sums[1:]:
            gW += other
        return gW.reshape(oc, c, kh, kw)

    def backward(self, ggW):
        x, gy = self.inputs
        no_bias = Variable(None)
        gx = Deconv2D(self.stride, self.pad, x.shape[2:])(gy, ggW, no_bias) if x.requires_grad else None
        ggy = Conv2D(self.stride, self.pad)(x, ggW, no_bias) if gy.requires_grad else None
        return gx, ggy


class _BiasGrad(Function):
    """The bias gradient of a convolution: gy (N, C, H, W) summed over all but
    the channel axis, the batch's slices summed side by side. Its backward
    spreads each channel's value over the shape of gy again."""

    def forward(self, gy):
        xp = get_array_module(gy)
        self.shape = gy.shape
        sums = parallel.for_each_slice(lambda start, stop: gy[start:stop].sum(axis=(0, 2, 3)), gy.shape[0], gy.size, xp)
        total = sums[0]
        for other in sums[1:]:
            total += other
        return total

    def backward(self, ggb):
        return broadcast_to(reshape(ggb, (1, -1, 1, 1)), self.shape)


def _conv_args(op: str, x, W, b, stride, pad):
    """Validate conv2d-style arguments; returns (x, W, b, stride, pad, (OH, OW))."""
    x, W = as_variable(x), as_variable(W)
    b = Variable(None) if b is None else as_variable(b)
    stride = _pair_arg(op, "stride", stride, 1)
    pad = _pair_arg(op, "pad", pad, 0)
    out_hw = _check_conv(op, x, W, None if b.data is None else b, stride, pad)
    return x, W, b, stride, pad, out_hw


def conv2d(x, W, b=None, stride=1, pad=0) -> Variable:
    """2-D convolution (cross-correlation, as in every deep learning framework).

    Parameters
    ----------
    x : Variable or array, shape (N, C, H, W)
    W : Variable or array, shape (OC, C, KH, KW)
    b : Variable or array of shape (OC,), optional
    stride, pad : int or (int, int)
        Step between windows and zero padding on each side.

    Returns
    -------
    Variable of shape (N, OC, OH, OW) with OH = (H + 2*PH - KH) // SH + 1 (same for OW).
    """
    x, W, b, stride, pad, _ = _conv_args("conv2d", x, W, b, stride, pad)
    return Conv2D(stride, pad)(x, W, b)


# =============================================================================
# deconv2d (transposed convolution)
# =============================================================================
class Deconv2D(Function):
    """The transpose (adjoint) of conv2d: every input pixel spreads a weighted
    (C_out, KH, KW) patch over the output; overlapping patches add up.

    Called on (x, W, b), b may be None (no bias). The book's ``Deconv2d``,
    with its arguments; its forward checks the shapes as :func:`deconv2d` does.

    Parameters
    ----------
    stride, pad : int or (int, int)
        As for the convolution this is the transpose of.
    outsize : int or (int, int), optional
        Output (OH, OW); None: S*(H - 1) + K - 2P, worked out from the input
        when called.
    """

    optional_inputs = (2,)  # b=None: no bias
    # (KH, KW) of the filter of the last call, for Conv2DGradW(self).
    kernel_size: "tuple | None" = None

    def __init__(self, stride=1, pad=0, outsize=None):
        self.stride = _pair_arg("Deconv2D", "stride", stride, 1)
        self.pad = _pair_arg("Deconv2D", "pad", pad, 0)
        self.outsize = None if outsize is None else _pair_arg("Deconv2D", "outsize", outsize, 1)

    def forward(self, x, W, b):
        outsize = _check_deconv("Deconv2D", x, W, b, self.stride, self.pad, self.outsize)
        # Kept: an exporter reads the size that this call made, and
        # Conv2DGradW(self) the kernel size (a call under no_grad records no inputs).
        self.outsize, self.kernel_size = outsize, tuple(W.shape[2:])
        xp = get_array_module(x)
        c_in, c_out, kh, kw = W.shape
        n, _, h, w = x.shape
        y = xp.empty((n, c_out) + outsize, dtype=xp.result_type(x.dtype, W.dtype))
        W_t = W.reshape(c_in, -1).T
        k = c_out * kh * kw

        def spread(start: int, stop: int) -> None:
            # A few samples at a time, so that the patches stay in cache for col2im.
            for lo, hi in _chunks(start, stop, k * h * w, xp):
                # All patches of a sample with one GEMM: (C_out*KH*KW, C_in) @ (C_in, H*W).
                col = xp.matmul(W_t, x[lo:hi].reshape(hi - lo, c_in, h * w))
                y_chunk = _col2im(
                    col.reshape(hi - lo, c_out, kh, kw, h, w),
                    (hi - lo, c_out) + outsize,
                    (kh, kw),
                    self.stride,
                    self.pad,
                    out=y[lo:hi],
                )
                if b is not None:
                    y_chunk += b.reshape(1, -1, 1, 1)

        def spread_rows(start: int, stop: int) -> None:
            # With stride 1 the patch of input pixel (r, s) covers rows r..r+KH-1
            # and columns s..s+KW-1 of the uncropped output, which is
            # (H+KH-1, W+KW-1). Lay both the input and that output out flat
            # with rows of the same width W+KW-1 (the input's extra columns
            # zero): kernel offset (i, j) of every patch then lands i*width + j
            # further on, and col2im is one contiguous add per offset instead
            # of one short strided add per output row. The zero columns make
            # zero patches, so where they land does not matter.
            width = w + kw - 1
            length = h * width
            grid = img = xp.empty(0)
            for lo, hi in _chunks(start, stop, k * length, xp):
                if grid.shape[0] != hi - lo:
                    grid = xp.zeros((hi - lo, c_in, h, width), dtype=x.dtype)
                    # One spare row: the last offset's add runs KW-1 past the image.
                    img = xp.empty((hi - lo, c_out, h + kh, width), dtype=y.dtype)
                grid[:, :, :, :w] = x[lo:hi]
                col = xp.matmul(W_t, grid.reshape(hi - lo, c_in, length)).reshape(hi - lo, c_out, kh * kw, length)
                flat = img.reshape(hi - lo, c_out, -1)
                flat[:, :, :length] = col[:, :, 0]
                flat[:, :, length:] = 0
                for offset in range(1, kh * kw):
                    start_at = (offset // kw) * width + offset % kw
                    flat[:, :, start_at : start_at + length] += col[:, :, offset]
                cropped = img[:, :, ph : ph + oh, pw : pw + ow]
                if b is None:
                    y[lo:hi] = cropped
                else:
                    xp.add(cropped, b.reshape(1, -1, 1, 1), out=y[lo:hi])

        (ph, pw), (oh, ow) = self.pad, outsize
        work = spread_rows if self.stride == (1, 1) else spread
        parallel.for_each_slice(work, n, k * n * h * w + y.size, xp)
        return y

    def backward(self, gy):
        x, W, b = self.inputs
        gx = Conv2D(self.stride, self.pad)(gy, W, Variable(None)) if x.requires_grad else None
        # deconv2d(x, W) is conv2d's input gradient for an input gy, so W's
        # gradient is conv2d's filter gradient with gy as the input.
        gW = Conv2DGradW(self)(gy, x) if W.requires_grad else None
        gb = _BiasGrad()(gy) if b.data is not None and b.requires_grad else None
        return gx, gW, gb


def deconv2d(x, W, b=None, stride=1, pad=0, outsize=None) -> Variable:
    """2-D transposed convolution ("deconvolution"), the adjoint of :func:`conv2d`.

    Parameters
    ----------
    x : Variable or array, shape (N, C_in, H, W)
    W : Variable or array, shape (C_in, C_out, KH, KW) (Chainer/PyTorch layout)
    b : Variable or array of shape (C_out,), optional
    stride, pad : int or (int, int)
    outsize : int or (int, int), optional
        Output (OH, OW). Default S*(H - 1) + K - 2P; a convolution with the same
        kernel, stride and pad maps several sizes to H, so a larger one (up to
        S - 1 more, like PyTorch's output_padding) may be asked for.

    Returns
    -------
    Variable of shape (N, C_out, OH, OW).
    """
    op = "deconv2d"
    x, W = as_variable(x), as_variable(W)
    b = Variable(None) if b is None else as_variable(b)
    stride = _pair_arg(op, "stride", stride, 1)
    pad = _pair_arg(op, "pad", pad, 0)
    if outsize is not None:
        outsize = _pair_arg(op, "outsize", outsize, 1)
    outsize = _check_deconv(op, x, W, None if b.data is None else b, stride, pad, outsize)
    return Deconv2D(stride, pad, outsize)(x, W, b)


# =============================================================================
# The teaching version
# =============================================================================
def conv2d_simple(x, W, b=None, stride=1, pad=0) -> Variable:
    """conv2d written with differentiable building blocks only (im2col, a matrix
    product, reshape and transpose): slower and hungrier than :func:`conv2d`,
    but its backward comes for free. Same arguments and result as conv2d.

    Parameters
    ----------
    x : Variable or array
        Images (N, C, H, W).
    W : Variable or array
        Kernels (OC, C, KH, KW).
    b : Variable or array, optional
        Biases (OC,).
    stride, pad : int or (int, int)
        Step between windows and zero padding on each side.

    Returns
    -------
    Variable
        Of shape (N, OC, OH, OW), the same values as :func:`conv2d`.
    """
    x, W, b, stride, pad, (oh, ow) = _conv_args("conv2d_simple", x, W, b, stride, pad)
    n = x.shape[0]
    oc, c, kh, kw = W.shape
    col = im2col(x, (kh, kw), stride, pad, to_matrix=True)  # (N*OH*OW, C*KH*KW)
    W_mat = transpose(reshape(W, (oc, -1)))  # (C*KH*KW, OC)
    y = linear(col, W_mat, None if b.data is None else b)  # (N*OH*OW, OC)
    return transpose(reshape(y, (n, oh, ow, oc)), (0, 3, 1, 2))
