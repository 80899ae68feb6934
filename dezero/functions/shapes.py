"""Shape arithmetic the ops share: the adjoint of broadcasting, the shape a
reduction's gradient needs, and convolution output sizes. Raw arrays and ints
only; nothing here builds a graph."""

from __future__ import annotations

import numpy as np

__all__ = ["sum_to", "reshape_sum_backward", "pair", "get_conv_outsize", "get_deconv_outsize"]


# =============================================================================
# Broadcasting helpers used by backward passes
# =============================================================================
def sum_to(x, shape: tuple):
    """Sum the array ``x`` down to ``shape`` (the adjoint of broadcasting to x.shape).

    Parameters
    ----------
    x : array
        A raw NumPy or CuPy array.
    shape : tuple of int
        A shape that broadcasts to ``x.shape``.

    Returns
    -------
    array
        Of ``shape``.
    """
    shape = tuple(shape)
    if x.shape == shape:
        return x
    ndim = len(shape)
    lead = x.ndim - ndim
    if lead < 0:
        raise ValueError(f"sum_to: cannot sum an array of shape {x.shape} to the larger rank shape {shape}")
    lead_axes = tuple(range(lead))
    axes = tuple(i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1)
    for i, s in enumerate(shape):
        if s != 1 and x.shape[i + lead] != s:
            raise ValueError(f"sum_to: shape {shape} is not broadcastable to {x.shape}")
    y = x.sum(lead_axes + axes, keepdims=True)
    if lead > 0:
        y = y.reshape(y.shape[lead:])
    return y


def reshape_sum_backward(gy, x_shape: tuple, axis, keepdims: bool):
    """Reshape the gradient of a sum so that it broadcasts back to ``x_shape``.

    Parameters
    ----------
    gy : Variable
        The gradient of the sum's output.
    x_shape : tuple of int
        The shape of the sum's input.
    axis : int, tuple of ints or None
        The axes that were summed.
    keepdims : bool
        Whether the sum kept them.

    Returns
    -------
    Variable
        ``gy`` with length-1 axes where x had the summed ones.
    """
    ndim = len(x_shape)
    if axis is None:
        axes = None
    elif not isinstance(axis, tuple):
        axes = (axis,)
    else:
        axes = axis
    if not (ndim == 0 or axes is None or keepdims):
        actual_axes = sorted(a if a >= 0 else a + ndim for a in axes)
        shape = list(gy.shape)
        for a in actual_axes:
            shape.insert(a, 1)
    elif axes is None and not keepdims:
        shape = [1] * ndim
    else:
        shape = gy.shape
    return gy.reshape(tuple(shape))


# =============================================================================
# Convolution sizes
# =============================================================================
def pair(x) -> tuple:
    """Return ``(x, x)`` for an int, ``x`` for a pair; anything else is an error.

    Parameters
    ----------
    x : int or pair of ints
        A size given once for both axes, or per axis.

    Returns
    -------
    tuple of two ints

    Raises
    ------
    ValueError
        For anything else.
    """
    if isinstance(x, (int, np.integer)):
        return (int(x), int(x))
    if isinstance(x, (tuple, list)) and len(x) == 2:
        return (int(x[0]), int(x[1]))
    raise ValueError(f"pair: expected an int or a pair of ints, got {x!r}")


def get_conv_outsize(input_size: int, kernel_size: int, stride: int, pad: int) -> int:
    """Output length of a convolution: (I + 2P - K) // S + 1.

    Parameters
    ----------
    input_size : int
        I, the input length.
    kernel_size, stride, pad : int
        K, S and P.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``stride`` is not positive (a window that never moves).
    """
    if stride < 1:
        raise ValueError(f"get_conv_outsize: stride must be positive, got {stride}")
    return (input_size + pad * 2 - kernel_size) // stride + 1


def get_deconv_outsize(size: int, k: int, s: int, p: int) -> int:
    """Output length of a transposed convolution: S (I - 1) + K - 2P.

    Parameters
    ----------
    size : int
        I, the input length.
    k, s, p : int
        Kernel size, stride and padding.

    Returns
    -------
    int
    """
    return s * (size - 1) + k - 2 * p
