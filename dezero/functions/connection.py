"""Layers' workhorses: fully connected (linear) and embedding lookups."""

from __future__ import annotations

import numpy as np

from dezero import parallel
from dezero.backend import array_types, get_array_module
from dezero.core import Function, Variable, as_variable, as_variables
from dezero.functions.array import GetItem, matmul, sum_to

__all__ = ["linear", "linear_simple", "embed_id"]


class Linear(Function):
    optional_inputs = (2,)  # b=None: no bias

    def forward(self, x, W, b):
        y = parallel.matmul(x, W)
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, W, b = self.inputs
        gb = sum_to(gy, b.shape) if b.data is not None and b.requires_grad else None
        # A network's input batch needs no gradient: skipping it saves a whole GEMM.
        gx = matmul(gy, W.T) if x.requires_grad else None
        gW = matmul(x.T, gy) if W.requires_grad else None
        return gx, gW, gb


def linear(x, W, b=None) -> Variable:
    """Affine map ``x @ W + b`` for a batch ``x`` of shape (N, in) and W of shape (in, out).

    Parameters
    ----------
    x : Variable or array
        Of shape (N, in).
    W : Variable or array
        Of shape (in, out).
    b : Variable or array, optional
        Of shape (out,).

    Returns
    -------
    Variable
        Of shape (N, out).
    """
    x, W = as_variables(x, W, op="linear")  # a list x takes W's dtype
    if x.ndim != 2 or W.ndim != 2:
        raise ValueError(
            f"linear: x must be 2-D (N, in_size) and W 2-D (in_size, out_size), got x {x.shape} and W {W.shape}"
        )
    if x.shape[1] != W.shape[0]:
        raise ValueError(
            f"linear: x of shape {x.shape} and W of shape {W.shape} are not aligned ({x.shape[1]} != {W.shape[0]})"
        )
    if b is None:
        return Linear()(x, W, Variable(None))
    b = as_variable(b)
    if b.shape != (W.shape[1],):
        raise ValueError(f"linear: b must have shape ({W.shape[1]},) to match W {W.shape}, got {b.shape}")
    return Linear()(x, W, b)


class EmbedID(GetItem):
    """``W[ids]``: a GetItem that also keeps the Variable the ids came from.

    The ids reach the lookup as an index, not as an input, so without it a
    graph walker (the ONNX exporter) could not tell where they were computed.
    """

    def __init__(self, ids_source: Variable):
        super().__init__(ids_source.data)
        self.ids_source = ids_source


def linear_simple(x, W, b=None) -> Variable:
    """``x @ W + b`` as two ops, ``matmul`` then ``+``: the book's first linear map (step 43).

    Same values and gradients as :func:`linear`, which does the same in one
    Function (one node, and no intermediate ``x @ W`` kept alive for backward).

    Parameters
    ----------
    x : Variable or array of shape (N, in_size)
    W : Variable or array of shape (in_size, out_size)
    b : Variable or array of shape (out_size,), optional

    Returns
    -------
    Variable
        Of shape (N, out_size).

    Raises
    ------
    ValueError
        If the shapes do not fit, as for :func:`linear`.
    """
    x, W = as_variables(x, W, op="linear_simple")  # a list x takes W's dtype
    if x.ndim != 2 or W.ndim != 2 or x.shape[1] != W.shape[0]:
        raise ValueError(
            f"linear_simple: x must be (N, in_size) and W (in_size, out_size), got x {x.shape} and W {W.shape}"
        )
    y = matmul(x, W)
    if b is None:
        return y
    b = as_variable(b)
    if b.shape != (W.shape[1],):
        raise ValueError(f"linear_simple: b must have shape ({W.shape[1]},) to match W {W.shape}, got {b.shape}")
    return y + b


def embed_id(x, W) -> Variable:
    """Embedding lookup ``W[x]``: one row of W per integer id.

    Parameters
    ----------
    x : integer array or Variable of any shape
        Ids in ``[0, vocab)``.
    W : Variable or array of shape (vocab, dim)

    Returns
    -------
    Variable of shape ``x.shape + (dim,)``. In the backward the rows of an id
    that occurs several times accumulate (a scatter-add, see ``get_item``).
    """
    ids = x.data if isinstance(x, Variable) else x
    W = as_variable(W)
    if isinstance(ids, (list, tuple)):  # a list of ids stays integer, on W's backend
        # An empty list would make a float64 array: no ids is an empty integer array.
        ids = np.zeros(0, dtype=np.int64) if len(ids) == 0 else as_variable(ids).data
        ids = get_array_module(W.data).asarray(ids)
    if not isinstance(ids, array_types) or ids.dtype.kind not in "iu":
        kind = ids.dtype if isinstance(ids, array_types) else type(ids).__name__
        raise TypeError(f"embed_id: x must be an integer array of ids, got {kind}")
    if W.ndim != 2:
        raise ValueError(f"embed_id: W must be 2-D (vocab, dim), got shape {W.shape}")
    if type(ids) is not type(W.data):
        raise TypeError("embed_id: x and W live on different devices")
    vocab = W.shape[0]
    # Negative ids would silently wrap around to the end of the table (and on
    # CuPy too large ones as well). One host sync per call on the GPU.
    if ids.size > 0 and bool(((ids < 0) | (ids >= vocab)).any()):
        lo, hi = int(ids.min()), int(ids.max())
        bad = lo if lo < 0 else hi
        raise IndexError(f"embed_id: id {bad} is out of range [0, {vocab}) for W of shape {W.shape}")
    source = x if isinstance(x, Variable) else Variable(ids, requires_grad=False)
    return EmbedID(source)(W)
