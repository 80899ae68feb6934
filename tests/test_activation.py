"""sigmoid, relu, leaky_relu, softmax, log_softmax: forward against NumPy closed
forms, backward and double backward against numerical gradients."""
import warnings

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero.backend import as_numpy
from dezero.utils import double_gradient_check, gradient_check
from tests.conftest import tolerances

SHAPES = [(1,), (5,), (2, 3), (2, 3, 2)]


def _away_from_zero(rng, shape, dtype):
    """Random values with |x| >= 0.1, so no finite difference straddles a kink."""
    x = rng.uniform(0.1, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return x.astype(dtype)


# --- sigmoid ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
def test_sigmoid_forward(xp, dtype, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    y = F.sigmoid(xp.asarray(x))
    assert y.dtype == dtype and y.shape == shape
    expected = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(as_numpy(y.data), expected, rtol=rtol)


@pytest.mark.parametrize("shape", SHAPES)
def test_sigmoid_backward(dtype, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    assert gradient_check(F.sigmoid, x, **tolerances(dtype))
    assert double_gradient_check(F.sigmoid, x, **tolerances(dtype))


def test_sigmoid_extreme_values_no_warning(dtype):
    x = dezero.Variable(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any overflow RuntimeWarning fails the test
        y = F.sigmoid(x)
        y.backward()
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad.data))
    assert y.data[0] == 0.0 and y.data[-1] == 1.0 and y.data[2] == 0.5
    assert x.grad.dtype == dtype
    assert x.grad.data[0] == 0.0 and x.grad.data[2] == 0.25


# --- relu / leaky_relu ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_forward_backward(dtype, shape):
    x = _away_from_zero(np.random.default_rng(2), shape, dtype)
    y = F.relu(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.data, np.maximum(x, 0))
    assert gradient_check(F.relu, x, **tolerances(dtype))
    # Piecewise linear: the second derivative is zero, and the check must agree.
    assert double_gradient_check(F.relu, x, **tolerances(dtype))


def test_relu_gradient_is_mask(xp):
    x = dezero.Variable(xp.asarray([-2.0, -0.0, 0.0, 3.0, 0.5]))
    gy = xp.asarray([1.0, 2.0, 3.0, 4.0, 5.0])
    gx = dezero.grad(F.relu(x), x, grad_outputs=gy)
    np.testing.assert_array_equal(as_numpy(gx.data), [0.0, 0.0, 0.0, 4.0, 5.0])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", [0.2, 0.01])
def test_leaky_relu(dtype, shape, slope):
    x = _away_from_zero(np.random.default_rng(3), shape, dtype)
    y = F.leaky_relu(x, slope=slope)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, np.where(x > 0, x, slope * x), rtol=1e-6)
    assert gradient_check(lambda v: F.leaky_relu(v, slope), x, **tolerances(dtype))
    assert double_gradient_check(lambda v: F.leaky_relu(v, slope), x, **tolerances(dtype))


def test_leaky_relu_default_slope_and_float64_scalar_keeps_float32():
    x = np.array([-1.0, 2.0], dtype=np.float32)
    np.testing.assert_allclose(F.leaky_relu(x).data, [-0.2, 2.0], rtol=1e-6)
    y = F.leaky_relu(x, np.float64(0.3))
    assert y.dtype == np.float32
    xv = dezero.Variable(x)
    F.leaky_relu(xv, np.float64(0.3)).backward()
    assert xv.grad.dtype == np.float32
    np.testing.assert_allclose(xv.grad.data, [0.3, 1.0], rtol=1e-6)


# --- softmax / log_softmax --------------------------------------------------------------
SOFTMAX_CASES = [
    ((1, 4), 1),      # batch of 1
    ((3, 4), 1),
    ((3, 4), 0),
    ((3, 4), -1),
    ((2, 3, 2), 1),
    ((2, 3, 2), 2),
    ((5,), 0),
]


def _np_softmax(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("shape,axis", SOFTMAX_CASES)
def test_softmax_forward(xp, dtype, shape, axis):
    x = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    y = F.softmax(xp.asarray(x), axis=axis)
    assert y.dtype == dtype and y.shape == shape
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(as_numpy(y.data), _np_softmax(x, axis), rtol=rtol)


@pytest.mark.parametrize("shape,axis", SOFTMAX_CASES)
def test_log_softmax_forward(xp, dtype, shape, axis):
    x = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    y = F.log_softmax(xp.asarray(x), axis=axis)
    assert y.dtype == dtype and y.shape == shape
    x64 = x.astype(np.float64)
    expected = x64 - np.log(np.exp(x64).sum(axis=axis, keepdims=True))
    rtol, atol = (1e-5, 1e-6) if dtype == np.float32 else (1e-12, 1e-14)
    np.testing.assert_allclose(as_numpy(y.data), expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape,axis", SOFTMAX_CASES)
@pytest.mark.parametrize("op", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_backward_and_double(dtype, shape, axis, op):
    x = np.random.default_rng(6).standard_normal(shape).astype(dtype)
    f = lambda v: op(v, axis=axis)  # noqa: E731
    assert gradient_check(f, x, **tolerances(dtype))
    assert double_gradient_check(f, x, **tolerances(dtype))


@pytest.mark.parametrize("op", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_grads_are_float32(op):
    x = dezero.Variable(np.random.default_rng(7).standard_normal((2, 3)).astype(np.float32))
    y = op(x)
    y.backward(grad=np.ones((2, 3), dtype=np.float32) * np.arange(3, dtype=np.float32))
    assert x.grad.dtype == np.float32


def test_softmax_huge_logits_finite(dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.softmax(x)
        ly = F.log_softmax(x)
    np.testing.assert_allclose(y.data, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    np.testing.assert_allclose(ly.data, [[0.0, -1000.0, -2000.0], [-np.log(3.0)] * 3], rtol=1e-6)
    assert np.all(np.isfinite(ly.data))


@pytest.mark.parametrize("op", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_bad_axis(op):
    name = op.__name__
    with pytest.raises(ValueError, match=rf"{name}: axis 2 is out of range for x of shape \(3, 4\)"):
        op(np.zeros((3, 4)), axis=2)
    with pytest.raises(ValueError, match=f"{name}: x must have at least 1 dimension"):
        op(np.array(1.0), axis=0)


# --- against PyTorch ---------------------------------------------------------------------------
def test_log_softmax_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(8).standard_normal((4, 5)) * 10
    gy = np.random.default_rng(9).standard_normal((4, 5))
    for axis in (0, 1):
        xv = dezero.Variable(x.copy())
        y = F.log_softmax(xv, axis=axis)
        y.backward(grad=gy)
        xt = torch.tensor(x, requires_grad=True)
        yt = torch.log_softmax(xt, dim=axis)
        yt.backward(torch.tensor(gy))
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(xv.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
