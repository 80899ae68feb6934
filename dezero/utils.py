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
    get_conv_outsize, get_deconv_outsize, pair, reshape_sum_backward, sum_to,
)
from dezero.gradient_check import (  # noqa: F401
    GradientCheckError, double_gradient_check, gradient_check, numerical_grad,
)
from dezero.visualize import get_dot_graph, plot_dot_graph, show_graph  # noqa: F401


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
def _raw(x):
    return x.data if isinstance(x, Variable) else x


def array_equal(a, b) -> bool:
    """True if two arrays or Variables (NumPy or CuPy) are equal in shape and values.

    Parameters
    ----------
    a, b : Variable or array
        NumPy or CuPy.

    Returns
    -------
    bool
    """
    return bool(np.array_equal(as_numpy(_raw(a)), as_numpy(_raw(b))))


def array_allclose(a, b, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """True if two arrays or Variables (NumPy or CuPy) are elementwise close.

    Parameters
    ----------
    a, b : Variable or array
        NumPy or CuPy.
    rtol, atol : float
        As for ``numpy.allclose``.

    Returns
    -------
    bool
        False also when the shapes differ.
    """
    a, b = as_numpy(_raw(a)), as_numpy(_raw(b))
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))
