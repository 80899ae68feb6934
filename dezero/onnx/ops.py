"""One exporter per dezero Function class: the table ``EXPORTERS``.

Each exporter is called as ``exporter(g, f, *xs)`` with the GraphBuilder
``g``, the traced Function ``f`` (whose attributes, set in its ``__init__`` and
``forward``, say what it computed: a reshape's target shape, a convolution's
stride and pad...) and the graph tensors of its inputs (None for an absent
optional input such as a missing bias). It appends ONNX nodes to ``g`` and
returns the tensor of the Function's output, with its symbolic shape.

Semantics follow the ONNX operator documentation (``onnx.defs.get_schema``);
the comments note where dezero and ONNX differ and how that is bridged.

Dtypes: an exporter gets its inputs already cast to the dtype of the traced
output, the one NumPy computed in (see :func:`exports`), and each node it adds
is checked by the GraphBuilder against the dtypes its operator runs on
(:mod:`dezero.onnx.dtypes`). Where an operator lacks a dtype, an exporter may
write an equivalent one instead (``Max`` with 0 for ``Relu`` of unsigned
integers, ``MatMul`` for an integer ``Gemm``); otherwise the builder computes
it exactly in a wider dtype, or refuses it.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np

from dezero.backend import array_types, as_numpy
from dezero.functions import activation as _act
from dezero.functions import array as _arr
from dezero.functions import connection as _conn
from dezero.functions import conv as _conv
from dezero.functions import math as _math
from dezero.functions import normalization as _norm
from dezero.functions import shapes as _shapes

# By class, not as `functions.pooling`: that name is the pooling() function.
from dezero.functions.pooling import AveragePooling2D, Pooling2D
from dezero.onnx.builder import Batch, ExportError, GraphBuilder, Tensor, show

__all__ = ["EXPORTERS", "graph_inputs"]

EXPORTERS: dict = {}

INT64_MIN = np.iinfo(np.int64).min


def exports(*classes, keep_dtypes: bool = False) -> Callable:
    """Register the decorated function as the exporter of ``classes``.

    NumPy computes an operation on mixed dtypes in the dtype of its result
    (uint8 @ float32 in float32, float32 + float64 in float64, the sum of int32
    in int64): so, unless ``keep_dtypes``, the exporter gets its inputs cast to
    the dtype of the traced output, and ONNX computes in that dtype too.
    """

    def register(fn):
        exporter = fn if keep_dtypes else _in_output_dtype(fn)
        for cls in classes:
            EXPORTERS[cls] = exporter
        return fn

    return register


def _in_output_dtype(fn) -> Callable:
    @functools.wraps(fn)
    def exporter(g, f, *xs):
        dtype = _out_dtype(f)
        return fn(g, f, *(None if x is None else g.cast(x, dtype) for x in xs))

    return exporter


def graph_inputs(f) -> list:
    """The Variables a Function reads: its inputs, plus the ids of an embedding
    lookup, which reach it as an index rather than as an input.

    Parameters
    ----------
    f : Function
        A traced Function.

    Returns
    -------
    list of Variable
    """
    inputs = list(f.inputs)
    if isinstance(f, _conn.EmbedID) and f.ids_source is not None:
        inputs.append(f.ids_source)
    return inputs


def _out(f, i: int = 0) -> tuple:
    """The shape of the Function's i-th output, as traced."""
    return f.outputs[i]().shape


def _out_dtype(f, i: int = 0):
    return f.outputs[i]().dtype


def _pair(values) -> list:
    return [int(v) for v in values]


def _pads(pad) -> list:
    # ONNX lists all begins, then all ends; dezero pads both sides alike.
    return _pair(pad) + _pair(pad)


def _batch_first(x: Tensor, f) -> tuple:
    """Output shape of an op that keeps the batch axis 0 and fixes the rest."""
    return (x.shape[0],) + tuple(_out(f)[1:])


def _scaled(d, m: int):
    """A dimension ``m`` times as large: a batch of N rows becomes one of m*N."""
    return Batch(d.k * m) if isinstance(d, Batch) else d * m


def _reshape_to(g, x: Tensor, dims: tuple) -> Tensor:
    """A Reshape to the symbolic ``dims``: -1 on the batch axis, which ONNX derives."""
    return g.op("Reshape", [x, g.ints([-1 if isinstance(d, Batch) else d for d in dims], "shape")], dims)


def _fixed_axes(op: str, x: Tensor, axes: tuple) -> None:
    """Refuse a batch-sized axis where the op needs a size fixed by the trace."""
    for a in axes:
        if isinstance(x.shape[a], Batch):
            raise ExportError(
                f"{op}: axis {a} of {show(x.shape)} holds the batch, but the window geometry fixes "
                "its size at the traced one; export with dynamic_batch=False"
            )


# =============================================================================
# Elementwise math
# =============================================================================
_UNARY = {
    _math.Sqrt: "Sqrt",
    _math.Exp: "Exp",
    _math.Log: "Log",
    _math.Sin: "Sin",
    _math.Cos: "Cos",
    _math.Tanh: "Tanh",
    _act.Sigmoid: "Sigmoid",
}


@exports(*_UNARY)
def _unary(g: GraphBuilder, f, x):
    return g.op(_UNARY[type(f)], [x], x.shape)


@exports(_math.Neg)
def _neg(g, f, x):
    if g.runs("Neg", x.dtype):
        return g.op("Neg", [x], x.shape)
    # ONNX's Neg takes signed types only; 0 - x wraps around as NumPy's -x does (uint8 -1 is 255).
    return g.op("Sub", [g.constant(0, x.dtype, "zero"), x], x.shape)


@exports(_act.ReLU)
def _relu(g, f, x):
    if g.runs("Relu", x.dtype):
        return g.op("Relu", [x], x.shape)
    # Relu has no unsigned types in ONNX and no int16 or int64 kernel in ONNX Runtime.
    return g.op("Max", [x, g.constant(0, x.dtype, "zero")], x.shape)


_BINARY = {_math.Add: "Add", _math.Sub: "Sub", _math.Mul: "Mul", _math.Div: "Div", _math.Power: "Pow"}


@exports(*_BINARY)
def _binary(g, f, x0, x1):
    # Both operands come in the result's dtype, as NumPy computes them (the
    # exponent of a float32 ** int8 too).
    return g.op(_BINARY[type(f)], [x0, x1], g.broadcast(type(f).__name__, x0.shape, x1.shape))


def _with_scalar(g, f, op: str, x, c):
    return g.op(op, [x, g.constant(c, x.dtype)], x.shape)


@exports(_math.AddConstant)
def _add_constant(g, f, x):
    return _with_scalar(g, f, "Add", x, f.c)


@exports(_math.SubConstant)
def _sub_constant(g, f, x):
    # Sub, not Add of -c: -c may not fit an unsigned dtype, and ONNX's Sub
    # wraps around as NumPy does (uint8 0 - 1 is 255).
    return _with_scalar(g, f, "Sub", x, f.c)


@exports(_math.MulConstant)
def _mul_constant(g, f, x):
    # mean() is sum() * (1 / count). Written as ReduceMean, the count is not
    # baked in, which matters when the batch axis is among the reduced ones.
    total = f.inputs[0].creator
    if isinstance(total, _arr.Sum) and x.dtype.kind == "f":
        source = g.tensor(total.inputs[0])
        axes = _reduced_axes(total.axis, len(source.shape))
        # The mean of floats, or of integers (summed exactly, then scaled in float64).
        if f.c == 1.0 / math.prod(total.x_shape[a] for a in axes) and (
            source.dtype == x.dtype or source.dtype.kind in "biu"
        ):
            return _reduce(g, "ReduceMean", g.cast(source, x.dtype), axes, total.keepdims)
    return _with_scalar(g, f, "Mul", x, f.c)


@exports(_math.Pow)
def _pow(g, f, x):
    # An integer exponent is written as int64, which ONNX Runtime's Pow takes
    # with any base (an exponent of the base's uint64 it does not).
    integral = isinstance(f.c, int) and x.dtype.kind in "biu" and abs(f.c) < 2**63
    return g.op("Pow", [x, g.constant(f.c, np.int64 if integral else x.dtype)], x.shape)


@exports(_act.LeakyReLU)
def _leaky_relu(g, f, x):
    if x.dtype == np.float32:  # alpha is a float32 attribute: NumPy's float32 x * slope
        return g.op("LeakyRelu", [x], x.shape, alpha=float(f.slope))
    # dezero's where(x > 0, x, x * slope), the slope in x's dtype (LeakyRelu
    # would multiply a float64 by a float32 slope, and has no float64 kernel in
    # ONNX Runtime at most opsets).
    positive = g.op("Greater", [x, g.constant(0, x.dtype, "zero")], x.shape, np.bool_)
    sloped = g.op("Mul", [x, g.constant(f.slope, x.dtype, "slope")], x.shape)
    return g.op("Where", [positive, x, sloped], x.shape, x.dtype)


@exports(_act.Softmax)
def _softmax(g, f, x):
    # Since opset 13 Softmax normalises along `axis` only, as dezero does.
    return g.op("Softmax", [x], x.shape, axis=int(f.axis))


@exports(_act.LogSoftmax)
def _log_softmax(g, f, x):
    return g.op("LogSoftmax", [x], x.shape, axis=int(f.axis))


def _no_bound(b, dtype) -> bool:
    """An infinite bound, or an int outside an integer dtype (NumPy refuses
    one that would clip everything, so it is one that clips nothing)."""
    if isinstance(b, array_types):
        return False
    if dtype.kind in "biu" and isinstance(b, int):
        info = np.iinfo(dtype)
        return not info.min <= b <= info.max
    return math.isinf(b)


@exports(_arr.Clip)
def _clip(g, f, x):
    bounds = [None if _no_bound(b, x.dtype) else b for b in (f.x_min, f.x_max)]
    if not any(isinstance(b, array_types) for b in bounds):
        # No bound is left out (integer tensors cannot hold inf).
        return g.op("Clip", [x] + [None if b is None else g.constant(b, x.dtype) for b in bounds], x.shape)
    # Clip takes scalar bounds only: an array bound is a Max (x_min) or a Min
    # (x_max), of the bound in x's dtype as dezero took it.
    y = x
    for b, op in zip(bounds, ("Max", "Min")):
        if b is not None:
            value = b
            if isinstance(b, array_types):
                # As Clip._bounds takes it: in x's dtype when x is floating, as it is otherwise.
                value = as_numpy(b)
                if f.inputs[0].dtype.kind in "fc":
                    value = value.astype(f.inputs[0].dtype)
            bound = g.constant(value, x.dtype, "bound")
            y = g.op(op, [y, bound], g.broadcast("clip", y.shape, bound.shape))
    return y


@exports(_arr.AsType, keep_dtypes=True)
def _astype(g, f, x):
    return g.op("Cast", [x], x.shape, f.dtype, to=f.dtype)


# =============================================================================
# Shapes and reductions
# =============================================================================
@exports(_arr.Reshape)
def _reshape(g, f, x):
    dims = g.reshape_dims("reshape", x.shape, _out(f))
    # At most one axis is batch-sized: -1 there lets ONNX compute it.
    target = [-1 if isinstance(d, Batch) else d for d in dims]
    return g.op("Reshape", [x, g.ints(target, "shape")], dims)


@exports(_arr.Transpose)
def _transpose(g, f, x):
    ndim = len(x.shape)
    perm = list(range(ndim))[::-1] if f.axes is None else [a % ndim for a in f.axes]
    return g.op("Transpose", [x], tuple(x.shape[a] for a in perm), perm=perm)


def _reduced_axes(axis, ndim: int) -> tuple:
    # Sum.forward normalises its axis to a sorted tuple; None means all of them.
    return tuple(range(ndim)) if axis is None else tuple(axis)


def _reduce(g, op: str, x, axes: tuple, keepdims: bool):
    if not axes:  # a 0-d input: nothing to reduce (empty axes would mean "all" in ONNX)
        return g.op("Identity", [x], x.shape)
    shape = tuple(1 if a in axes else d for a, d in enumerate(x.shape) if keepdims or a not in axes)
    if op == "ReduceSum" or g.opset >= 18:  # axes became an input in opset 13 (sum), 18 (the others)
        return g.op(op, [x, g.ints(axes, "axes")], shape, keepdims=int(keepdims))
    return g.op(op, [x], shape, axes=list(axes), keepdims=int(keepdims))


@exports(_arr.Sum)
def _sum(g, f, x):
    return _reduce(g, "ReduceSum", x, _reduced_axes(f.axis, len(x.shape)), f.keepdims)


@exports(_arr.Max, _arr.Min)
def _extremum(g, f, x):
    return _reduce(g, "ReduceMax" if isinstance(f, _arr.Max) else "ReduceMin", x, f.axes, f.keepdims)


@exports(_arr.SumTo)
def _sum_to(g, f, x):
    lead = len(x.shape) - len(f.shape)
    kept = [lead + i for i, s in enumerate(f.shape) if s == 1 and x.shape[lead + i] != 1]
    y = _reduce(g, "ReduceSum", x, tuple(kept), True) if kept else x
    if lead:
        y = _reduce(g, "ReduceSum", y, tuple(range(lead)), False)
    return y if y is not x else g.op("Identity", [x], x.shape)


@exports(_arr.BroadcastTo)
def _broadcast_to(g, f, x):
    lead = len(f.shape) - len(x.shape)
    dims = tuple(
        x.shape[i - lead] if i >= lead and isinstance(x.shape[i - lead], Batch) else s for i, s in enumerate(f.shape)
    )
    # Expand broadcasts both ways, so a 1 leaves a batch axis of x as it is.
    target = [1 if isinstance(d, Batch) else d for d in dims]
    return g.op("Expand", [x, g.ints(target, "shape")], dims)


@exports(_arr.GetItem)
def _get_item(g, f, x):
    """Basic indexing: slices become one Slice, ints Gathers of a scalar index
    (which drop the axis, as NumPy does), None an Unsqueeze."""
    if _arr.is_advanced_index(f.slices):
        # Name the offending item, not the tuple that holds it (x[:, idx]).
        given = f.slices if isinstance(f.slices, tuple) else (f.slices,)
        position = next(i for i, s in enumerate(given) if _arr.is_advanced_index((s,)))
        raise ExportError(
            "get_item: only basic indexing (ints, slices, None, ...) is exported, "
            f"not an index array (a {type(given[position]).__name__} at position {position} of the index)"
        )
    ndim = len(x.shape)
    items = list(f.slices) if isinstance(f.slices, tuple) else [f.slices]
    named = sum(1 for s in items if s is not None and s is not Ellipsis)
    if any(s is Ellipsis for s in items):
        at = next(i for i, s in enumerate(items) if s is Ellipsis)
        items[at : at + 1] = [slice(None)] * (ndim - named)
    else:  # axes no item names are taken whole
        items += [slice(None)] * (ndim - named)

    sliced = list(x.shape)  # the shape after the Slice node
    final: list = []  # the output shape; None marks a new axis
    bounds, picks = [], []
    axis = 0
    for s in items:
        if s is None:
            final.append(None)
            continue
        dim = x.shape[axis]
        if isinstance(s, slice):
            if isinstance(dim, Batch):
                if s != slice(None) and s != slice(0, None) and s != slice(None, None, 1):
                    raise ExportError(
                        f"get_item: the slice {s} of axis {axis} of {show(x.shape)}, the batch "
                        "axis, has a size ONNX cannot derive from the batch size; export "
                        "with dynamic_batch=False"
                    )
            else:
                start, stop, step = s.indices(dim)
                sliced[axis] = len(range(start, stop, step))
                if sliced[axis] == 0:
                    raise ExportError(f"get_item: the slice {s} of axis {axis} of {show(x.shape)} is empty")
                if (start, stop, step) != (0, dim, 1):
                    # Going backwards past index 0 is INT64_MIN: -1 would mean the last element.
                    bounds.append((axis, start, INT64_MIN if step < 0 and stop < 0 else stop, step))
            final.append(sliced[axis])
        else:
            # A batch axis keeps a negative index: Gather counts it from the end, as NumPy does.
            picks.append((axis, int(s) if isinstance(dim, Batch) else int(s) % dim))
        axis += 1

    y = x
    if bounds:
        axes, starts, ends, steps = zip(*bounds)
        y = g.op(
            "Slice",
            [y, g.ints(starts, "starts"), g.ints(ends, "ends"), g.ints(axes, "axes"), g.ints(steps, "steps")],
            sliced,
        )
    for a, index in sorted(picks, reverse=True):  # highest first: the others keep their positions
        y = g.op("Gather", [y, g.constant(np.int64(index), name="index")], y.shape[:a] + y.shape[a + 1 :], axis=a)
    new_axes = [i for i, d in enumerate(final) if d is None]
    if new_axes:
        y = g.op("Unsqueeze", [y, g.ints(new_axes, "axes")], tuple(1 if d is None else d for d in final))
    return y if y is not x else g.op("Identity", [x], x.shape)


@exports(_arr.MatMul)
def _matmul(g, f, a, b):
    batch = g.broadcast("matmul", a.shape[:-2], b.shape[:-2])
    return g.op("MatMul", [a, b], batch + (a.shape[-2], b.shape[-1]))


# =============================================================================
# Layers' functions
# =============================================================================
@exports(_conn.Linear)
def _linear(g, f, x, W, b):
    shape = (x.shape[0], W.shape[1])
    if g.runs("Gemm", x.dtype):
        return g.op("Gemm", [x, W, b], shape)
    # ONNX Runtime's Gemm takes floats only; integers go through MatMul, which wraps around as NumPy does.
    y = g.op("MatMul", [x, W], shape)
    return y if b is None else g.op("Add", [y, b], g.broadcast("linear", shape, b.shape))


@exports(_conn.EmbedID, keep_dtypes=True)
def _embed_id(g, f, W, ids):
    if ids.dtype not in (np.int32, np.int64):  # Gather takes int32 or int64 indices only
        ids = g.cast(ids, np.int64)
    return g.op("Gather", [W, ids], ids.shape + (W.shape[1],), axis=0)


@exports(_conv.Im2col)
def _im2col(g, f, x):
    """Every window offset (i, j) is one strided Slice of the padded input,
    (N, C, OH, OW); the KH*KW of them stacked give (N, C, KH, KW, OH, OW).
    Only data moves, so any dtype and any padding value (max pooling's -inf)
    come through unchanged, where a convolution with one-hot kernels would
    turn -inf into NaN."""
    _fixed_axes("im2col", x, (2, 3))
    (kh, kw), (sy, sx), (ph, pw) = f.kernel_size, f.stride, f.pad
    n, c, h, w = x.shape
    oh, ow = _shapes.get_conv_outsize(h, kh, sy, ph), _shapes.get_conv_outsize(w, kw, sx, pw)
    if ph or pw:
        # Pad fills with zeros unless given a value.
        fill = [g.constant(f.pad_value, x.dtype, "pad_value")] if f.pad_value != 0 else []
        x = g.op("Pad", [x, g.ints([0, 0, ph, pw] * 2, "pads")] + fill, (n, c, h + 2 * ph, w + 2 * pw))
    pieces = [
        g.op(
            "Slice",
            [
                x,
                g.ints([i, j], "starts"),
                g.ints([i + sy * (oh - 1) + 1, j + sx * (ow - 1) + 1], "ends"),
                g.ints([2, 3], "axes"),
                g.ints([sy, sx], "steps"),
            ],
            (n, c, oh, ow),
        )
        for i in range(kh)
        for j in range(kw)
    ]
    # Concatenated along the rows, offset (i, j) is the (i*KW + j)-th block of
    # OH rows: the row-major order of (KH, KW, OH), so a Reshape splits them.
    rows = pieces[0] if len(pieces) == 1 else g.op("Concat", pieces, (n, c, kh * kw * oh, ow), axis=2)
    y = _reshape_to(g, rows, (n, c, kh, kw, oh, ow))
    if not f.to_matrix:
        return y
    y = g.op("Transpose", [y], (n, oh, ow, c, kh, kw), perm=[0, 4, 5, 1, 2, 3])
    return _reshape_to(g, y, (_scaled(n, oh * ow), _scaled(c, kh * kw)))


def _divided(op: str, d, m: int, shape: tuple):
    """A dimension ``m`` times smaller: the batch axis of an (N*OH*OW, ...) matrix gives N."""
    if not isinstance(d, Batch):
        return d // m
    if d.k % m:
        raise ExportError(
            f"{op}: the batch axis of {show(shape)} holds {d!r} rows, which is not a multiple "
            f"of the {m} windows of each image, so the number of images cannot follow the "
            "batch size; export with dynamic_batch=False"
        )
    return Batch(d.k // m)


@exports(_conv.Col2im)
def _col2im(g, f, col):
    """Each window offset (i, j) is spread out to its rows and columns of the
    image (zeros between them for a stride over 1, padded to the offset), and
    the KH*KW canvases are added up, in the order dezero adds them. Add, Pad
    and Reshape take any numeric dtype, where ConvTranspose takes floats only."""
    (kh, kw), (sy, sx), (ph, pw) = f.kernel_size, f.stride, f.pad
    _, _, h, w = f.input_shape
    oh, ow = _shapes.get_conv_outsize(h, kh, sy, ph), _shapes.get_conv_outsize(w, kw, sx, pw)
    if f.to_matrix:
        n = _divided("col2im", col.shape[0], oh * ow, col.shape)
        c = _divided("col2im", col.shape[1], kh * kw, col.shape)
        col = _reshape_to(g, col, (n, oh, ow, c, kh, kw))
        col = g.op("Transpose", [col], (n, c, kh, kw, oh, ow), perm=[0, 3, 4, 5, 1, 2])
    else:
        _fixed_axes("col2im", col, (2, 3, 4, 5))
        n, c = col.shape[:2]
    # Offset i puts window row y on padded image row y*SY + i, below
    # (OH - 1)*SY + KH <= H + 2*PH + SY - 1. A canvas of OH*SY + KH - 1 rows
    # holds every offset, and (since OH*SY + KH > H + 2*PH) the image's rows
    # PH..PH+H too; the same goes for the columns.
    total = None
    for i in range(kh):
        for j in range(kw):
            piece = g.op(
                "Slice",
                [col, g.ints([i, j], "starts"), g.ints([i + 1, j + 1], "ends"), g.ints([2, 3], "axes")],
                (n, c, 1, 1, oh, ow),
            )
            piece = _reshape_to(g, piece, (n, c, oh, 1, ow, 1))
            if sy > 1 or sx > 1:  # SY-1 zero rows after each window row, SX-1 zero columns
                pads = [0] * 6 + [0, 0, 0, sy - 1, 0, sx - 1]
                piece = g.op("Pad", [piece, g.ints(pads, "pads")], (n, c, oh, sy, ow, sx))
            piece = _reshape_to(g, piece, (n, c, oh * sy, ow * sx))
            if kh > 1 or kw > 1:
                pads = [0, 0, i, j, 0, 0, kh - 1 - i, kw - 1 - j]
                piece = g.op("Pad", [piece, g.ints(pads, "pads")], (n, c, oh * sy + kh - 1, ow * sx + kw - 1))
            total = piece if total is None else g.op("Add", [total, piece], piece.shape)
    assert total is not None  # KH and KW are at least 1
    return g.op(
        "Slice",
        [total, g.ints([ph, pw], "starts"), g.ints([ph + h, pw + w], "ends"), g.ints([2, 3], "axes")],
        (n, c, h, w),
    )


@exports(_conv.Conv2D)
def _conv2d(g, f, x, W, b):
    return g.op(
        "Conv",
        [x, W, b],
        _batch_first(x, f),
        kernel_shape=_pair(W.shape[2:]),
        strides=_pair(f.stride),
        pads=_pads(f.pad),
    )


@exports(_conv.Deconv2D)
def _deconv2d(g, f, x, W, b):
    kernel = W.shape[2:]
    # dezero asks for the output size; ONNX for the extra rows and columns
    # beyond the smallest one, S*(H-1) + K - 2P.
    smallest = [f.stride[d] * (x.shape[2 + d] - 1) + kernel[d] - 2 * f.pad[d] for d in (0, 1)]
    extra = [f.outsize[d] - smallest[d] for d in (0, 1)]
    return g.op(
        "ConvTranspose",
        [x, W, b],
        _batch_first(x, f),
        kernel_shape=_pair(kernel),
        strides=_pair(f.stride),
        pads=_pads(f.pad),
        output_padding=extra,
    )


@exports(Pooling2D)
def _max_pooling(g, f, x):
    # dezero pads with -inf, and ONNX's MaxPool ignores the padding: the same.
    return g.op(
        "MaxPool",
        [x],
        _batch_first(x, f),
        kernel_shape=_pair(f.win.kernel),
        strides=_pair(f.win.stride),
        pads=_pads(f.win.pad),
    )


@exports(AveragePooling2D)
def _average_pooling(g, f, x):
    # dezero divides by KH*KW, padded zeros included.
    return g.op(
        "AveragePool",
        [x],
        _batch_first(x, f),
        kernel_shape=_pair(f.win.kernel),
        strides=_pair(f.win.stride),
        pads=_pads(f.win.pad),
        count_include_pad=1,
    )


@exports(_norm.FixedBatchNorm, keep_dtypes=True)
def _batch_norm(g, f, x, gamma, beta):
    prefix = g.scope_of(f)
    out = _out_dtype(f)
    if x.dtype == gamma.dtype == beta.dtype == f.var.dtype == out:
        mean = g.constant(f.mu.reshape(-1), x.dtype, prefix + "avg_mean")
        var = g.constant(f.var.reshape(-1), x.dtype, prefix + "avg_var")
        return g.op("BatchNormalization", [x, gamma, beta, mean, var], x.shape, epsilon=float(f.eps))
    # Mixed dtypes, as dezero computes them: x normalised in its own dtype by
    # the statistics in that dtype (1/sqrt(var + eps) was taken in the
    # statistics' own), then the affine map in NumPy's promoted types.
    shape = (1, x.shape[1]) + (1,) * (len(x.shape) - 2)
    mean = g.constant(f.mu.reshape(shape), x.dtype, prefix + "avg_mean")
    inv_std = g.constant(f.inv_std.reshape(shape), x.dtype, prefix + "inv_std")
    x_hat = g.op("Mul", [g.op("Sub", [x, mean], x.shape), inv_std], x.shape)
    gamma, beta = (g.op("Reshape", [p, g.ints(shape, "shape")], shape) for p in (gamma, beta))
    scaled_dtype = np.result_type(gamma.dtype, x.dtype)
    scaled = g.op("Mul", [g.cast(gamma, scaled_dtype), g.cast(x_hat, scaled_dtype)], x.shape)
    return g.op("Add", [g.cast(scaled, out), g.cast(beta, out)], x.shape)
