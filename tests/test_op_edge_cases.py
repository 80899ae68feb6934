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


def test_transpose_of_a_0d_input_accepts_no_axes_and_refuses_axis_0():
    x = Variable(np.array(5.0))
    np.testing.assert_array_equal(F.transpose(x, ()).data, 5.0)
    with pytest.raises(ValueError, match=r"transpose: axes \(0,\) are not a permutation of the 0 axes"):
        F.transpose(x, (0,))


@pytest.mark.parametrize("axes", [(0, 3), (0, 0), (1,), (2, 0, 1)])
def test_transpose_refuses_axes_that_are_not_a_permutation(axes):
    with pytest.raises(ValueError, match="transpose: axes .* are not a permutation of the 2 axes"):
        F.transpose(np.zeros((2, 3)), axes)


def test_transpose_with_negative_axes_matches_numpy_and_inverts_in_backward():
    x = Variable(np.arange(24.0).reshape(2, 3, 4))
    y = F.transpose(x, (-1, 0, -2))
    np.testing.assert_array_equal(y.data, np.transpose(x.data, (-1, 0, -2)))
    w = np.random.RandomState(0).randn(*y.shape)
    F.sum(y * w).backward()
    np.testing.assert_array_equal(x.grad.data, np.transpose(w, (1, 2, 0)))


@pytest.mark.parametrize("shape, axis", [((0, 3), 0), ((2, 0), 1), ((0,), None), ((2, 0, 3), (0, 1))])
def test_mean_over_no_elements_is_nan_with_a_warning_as_in_numpy(shape, axis):
    x = Variable(np.zeros(shape))
    with pytest.warns(RuntimeWarning, match="mean: mean of an empty slice"):
        y = F.mean(x, axis=axis)
    with pytest.warns(RuntimeWarning):
        expected = np.mean(x.data, axis=axis)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.data, expected)  # NaN where NumPy has NaN
    F.sum(y).backward()
    assert x.grad.shape == shape


def test_mean_over_a_nonempty_axis_of_an_empty_input_does_not_warn():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.mean(np.zeros((0, 3)), axis=1)
    assert y.shape == (0,)


# =============================================================================
# Activations
# =============================================================================


