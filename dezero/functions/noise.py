"""Stochastic regularisers: dropout."""

from __future__ import annotations

from numbers import Real

from dezero.backend import get_array_module
from dezero.core import Config, Function, Variable, as_variable

__all__ = ["dropout"]


class Dropout(Function):
    def __init__(self, dropout_ratio: float):
        self.dropout_ratio = dropout_ratio

    def forward(self, x):
        xp = get_array_module(x)
        keep = xp.random.random_sample(x.shape) >= self.dropout_ratio
        # Inverted dropout: survivors are scaled up now, so the expected value
        # is unchanged and test mode needs no rescaling. The scaled mask is all
        # the backward needs.
        self.mask = keep.astype(x.dtype) * (1.0 / (1.0 - self.dropout_ratio))
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask


def dropout(x, dropout_ratio: float = 0.5) -> Variable:
    """Zero each element with probability ``dropout_ratio`` and scale the rest
    by ``1 / (1 - dropout_ratio)``, in training mode (``dezero.Config.train``).

    Under ``dezero.test_mode()`` it is the identity and returns ``x`` itself
    (as a Variable). The mask is drawn from ``xp.random`` (seed it with
    ``numpy.random.seed`` or ``cupy.random.seed`` for reproducible runs).

    Parameters
    ----------
    x : Variable or array
        The input.
    dropout_ratio : float
        The probability of zeroing an element, in [0, 1).

    Returns
    -------
    Variable
        Of x's shape and dtype.
    """
    if isinstance(dropout_ratio, bool) or not isinstance(dropout_ratio, Real) or not 0.0 <= dropout_ratio < 1.0:
        raise ValueError(f"dropout: dropout_ratio must be a number in [0, 1), got {dropout_ratio!r}")
    x = as_variable(x)
    if not Config.train:
        return x
    # A Python float: a NumPy float64 ratio would upcast a float32 x.
    return Dropout(float(dropout_ratio))(x)
