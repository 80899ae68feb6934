"""Ops at the edges of their domain: arguments NumPy and PyTorch accept (int
shapes, NumPy-integer axes, array bounds), inputs that are empty, integer or
NaN, and the clear errors for what no framework accepts.

Grouped by subject: shapes and reductions, activations, pooling, batch
normalization, convolution.
"""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable

torch = pytest.importorskip("torch")


# =============================================================================
# Shapes and reductions
# =============================================================================
def test_broadcast_to_and_sum_to_accept_an_int_shape_as_numpy_does():
    x = Variable(np.array([2.0]))
    y = F.broadcast_to(x, 3)
    np.testing.assert_array_equal(y.data, np.broadcast_to(x.data, 3))
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [3.0])
    z = F.sum_to(Variable(np.arange(3.0)), 1)
    np.testing.assert_array_equal(z.data, [3.0])


def test_broadcast_to_an_incompatible_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(2,\) to \(3,\)"):
        F.broadcast_to(np.ones(2), 3)


# =============================================================================
# Activations
# =============================================================================


