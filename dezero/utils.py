"""The helper names of the book's ``dezero.utils``, in one place.

Each lives where it belongs and is re-exported here, so code written for the
book keeps working: the shape helpers in :mod:`dezero.functions.shapes`,
gradient checking in :mod:`dezero.gradient_check`, the graph drawer in
:mod:`dezero.visualize` and the download cache in :mod:`dezero.files`.
"""

from __future__ import annotations

import numpy as np

from dezero.backend import as_numpy, get_array_module
from dezero.core import Variable
from dezero.files import cache_dir, get_file  # noqa: F401
from dezero.functions.shapes import (  # noqa: F401
    get_conv_outsize,
    get_deconv_outsize,
    pair,
    reshape_sum_backward,
    sum_to,
)
from dezero.gradient_check import (  # noqa: F401
    GradientCheckError,
    double_gradient_check,
    gradient_check,
    numerical_grad,
)
from dezero.visualize import get_dot_graph, plot_dot_graph, show_graph  # noqa: F401


def max_backward_shape(x, axis) -> list:
    """The shape of ``max(x, axis)`` with the reduced axes kept as 1s, the shape
    in which its gradient broadcasts back over ``x``.

    Parameters
    ----------
    x : array or Variable
    axis : None, int or tuple of ints
        The reduced axes (None: all); negative axes count from the end.

    Returns
    -------
    list of int
    """
    if axis is None:
        axes = set(range(x.ndim))
    else:
        axes = {a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
    return [1 if i in axes else n for i, n in enumerate(x.shape)]


def logsumexp(x, axis=1):
    """``log(sum(exp(x), axis, keepdims=True))`` computed without overflow.

    Parameters
    ----------
    x : array
        A raw NumPy or CuPy array (not a Variable).
    axis : int
        The axis to reduce.

    Returns
    -------
    array
        With that axis kept as length 1.
    """
    xp = get_array_module(x)
    m = x.max(axis=axis, keepdims=True)
    y = x - m
    xp.exp(y, out=y)
    s = y.sum(axis=axis, keepdims=True)
    xp.log(s, out=s)
    m += s
    return m


# =============================================================================
# Array comparison (NumPy or CuPy)
# =============================================================================
def _host(x) -> np.ndarray:
    """The values of an array, Variable or scalar, as a NumPy array."""
    return as_numpy(x.data if isinstance(x, Variable) else x)


def array_equal(a, b) -> bool:
    """Whether two arrays, Variables or scalars (NumPy or CuPy) have the same
    shape and the same values: ``numpy.array_equal`` after moving both to NumPy.

    Parameters
    ----------
    a, b : array, Variable or scalar

    Returns
    -------
    bool
    """
    return bool(np.array_equal(_host(a), _host(b)))


def array_allclose(a, b, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Whether two arrays, Variables or scalars (NumPy or CuPy) are elementwise
    close: ``numpy.allclose`` after moving both to NumPy, so shapes broadcast as
    NumPy's do ((1, 2) against (2,), an array against a scalar); shapes that
    cannot broadcast are not close.

    Parameters
    ----------
    a, b : array, Variable or scalar
    rtol, atol : float
        ``|a - b| <= atol + rtol * |b|`` elementwise (the book's defaults).

    Returns
    -------
    bool
    """
    a, b = _host(a), _host(b)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return False
    return bool(np.allclose(a, b, rtol=rtol, atol=atol))
