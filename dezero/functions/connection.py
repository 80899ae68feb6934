"""Layers' workhorses: fully connected (linear) and embedding lookups."""
from __future__ import annotations

from dezero.core import Function, Variable, as_variable
from dezero.functions.array import matmul, sum_to

__all__ = ["linear"]


class Linear(Function):
    def forward(self, x, W, b):
        y = x @ W
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, W, b = self.inputs
        gb = None if b.data is None else sum_to(gy, b.shape)
        gx = matmul(gy, W.T)
        gW = matmul(x.T, gy)
        return gx, gW, gb


def linear(x, W, b=None) -> Variable:
    """Affine map ``x @ W + b`` for a batch ``x`` of shape (N, in) and W of shape (in, out)."""
    x, W = as_variable(x), as_variable(W)
    if x.ndim != 2 or W.ndim != 2:
        raise ValueError(f"linear: x must be 2-D (N, in_size) and W 2-D (in_size, out_size), "
                         f"got x {x.shape} and W {W.shape}")
    if x.shape[1] != W.shape[0]:
        raise ValueError(f"linear: x of shape {x.shape} and W of shape {W.shape} are not aligned "
                         f"({x.shape[1]} != {W.shape[0]})")
    if b is None:
        return Linear()(x, W, Variable(None))
    b = as_variable(b)
    if b.shape != (W.shape[1],):
        raise ValueError(f"linear: b must have shape ({W.shape[1]},) to match W {W.shape}, got {b.shape}")
    return Linear()(x, W, b)
