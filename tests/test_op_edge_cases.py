"""Ops at the edges of their domain: arguments NumPy and PyTorch accept (int
shapes, NumPy-integer axes, array bounds), inputs that are empty, integer or
NaN, and the clear errors for what no framework accepts.

Grouped by subject: shapes and reductions, activations, pooling, batch
normalization, convolution.
"""

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Variable
from dezero.backend import as_numpy
from dezero.gradient_check import double_gradient_check, gradient_check

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


def _clip_case(dtype):
    rng = np.random.RandomState(0)
    x = rng.uniform(-2, 2, size=(3, 4)).astype(dtype)
    lo = rng.uniform(-1.5, -0.2, size=(4,))  # float64 bounds: the result must stay dtype
    hi = rng.uniform(0.2, 1.5, size=(3, 1))
    # Keep x away from the bounds: the gradient is not defined there.
    for bound in (np.broadcast_to(lo, x.shape), np.broadcast_to(hi, x.shape)):
        near = np.abs(x - bound) < 0.05
        x[near] += 0.1
    return x, lo, hi


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_with_array_bounds_matches_torch_clamp(xp, dtype):
    x, lo, hi = _clip_case(dtype)
    xv = Variable(xp.asarray(x))
    y = F.clip(xv, xp.asarray(lo), hi)  # bounds on the device or not: both are taken
    assert y.dtype == dtype
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.clamp(xt, torch.tensor(lo, dtype=xt.dtype), torch.tensor(hi, dtype=xt.dtype))
    np.testing.assert_allclose(as_numpy(y.data), yt.detach().numpy(), rtol=0)
    w = np.random.RandomState(1).randn(*x.shape).astype(dtype)
    F.sum(y * xp.asarray(w)).backward()
    (gt,) = torch.autograd.grad(yt, xt, torch.tensor(w))
    np.testing.assert_array_equal(as_numpy(xv.grad.data), gt.numpy())
    assert xv.grad.dtype == dtype


def test_clip_with_array_bounds_gradient_checks():
    x, lo, hi = _clip_case(np.float64)
    assert gradient_check(lambda v: F.clip(v, lo, hi), x)
    assert double_gradient_check(lambda v: F.clip(v, lo, hi) ** 2, x)


def test_clip_with_one_array_bound_and_a_variable_bound():
    x = np.array([-3.0, 0.0, 3.0])
    np.testing.assert_array_equal(F.clip(x, x_max=np.array([1.0, -1.0, 2.0])).data, [-3.0, -1.0, 2.0])
    np.testing.assert_array_equal(F.clip(x, Variable(np.array(-1.0))).data, [-1.0, 0.0, 3.0])


def test_clip_refuses_crossed_array_bounds_and_bounds_that_do_not_fit_x():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="clip: x_min .* is larger than x_max .* at some positions"):
        F.clip(x, np.array([0.0, 2.0, 0.0]), np.array([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"clip: x_min of shape \(4,\) does not broadcast to the shape \(2, 3\)"):
        F.clip(x, np.zeros(4), 1.0)
    with pytest.raises(ValueError, match=r"clip: x_max of shape \(3, 3\) does not broadcast"):
        F.clip(x, 0.0, np.ones((3, 3)))  # it would enlarge the output
    with pytest.raises(TypeError, match="clip: x_min must be a number, an array or None, got str"):
        F.clip(x, "0")


@pytest.mark.parametrize("op", [F.max, F.min], ids=["max", "min"])
def test_max_and_min_with_nan_return_nan_and_send_the_gradient_to_the_first_nan(op):
    # NumPy returns NaN; torch.max/min along a dim send the gradient to the
    # first NaN (the index argmax/argmin report), and so does dezero.
    data = np.array([[1.0, np.nan, 3.0, np.nan], [4.0, 2.0, 0.5, 1.0]])
    x = Variable(data)
    y = op(x, axis=1)
    xt = torch.tensor(data, requires_grad=True)
    yt = (torch.max if op is F.max else torch.min)(xt, dim=1).values
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    F.sum(y).backward()
    (gt,) = torch.autograd.grad(yt.sum(), xt)
    np.testing.assert_array_equal(x.grad.data, gt.numpy())
    np.testing.assert_array_equal(x.grad.data[0], [0.0, 1.0, 0.0, 0.0])


# =============================================================================
# Activations
# =============================================================================
@pytest.mark.parametrize(
    "op, reference", [(F.softmax, torch.softmax), (F.log_softmax, torch.log_softmax)], ids=["softmax", "log_softmax"]
)
@pytest.mark.parametrize("axis", [np.int64(1), np.int32(-1), np.intp(0)])
def test_softmax_axis_may_be_a_numpy_integer(op, reference, axis):
    x = np.random.RandomState(0).randn(3, 4)
    y = op(x, axis=axis)
    np.testing.assert_allclose(y.data, reference(torch.tensor(x), dim=int(axis)).numpy(), rtol=1e-12)


@pytest.mark.parametrize("op", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [1.0, True, "1", None])
def test_softmax_axis_that_is_not_an_int_is_a_type_error(op, axis):
    with pytest.raises(TypeError, match=f"{op.__name__}: axis must be an int"):
        op(np.zeros((3, 4)), axis=axis)


# =============================================================================
# Pooling
# =============================================================================
def _torch_max_pool(x, kernel, stride, pad):
    return torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride, pad).numpy()


@pytest.mark.parametrize("pool", [F.pooling, F.pooling_simple], ids=["pooling", "pooling_simple"])
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8])
def test_max_pooling_of_integers_pads_with_the_smallest_value_not_zero(xp, pool, dtype):
    # All negative (or, for uint8, all > 0): a zero from the padding would win
    # every border window.
    values = np.arange(1, 2 * 3 * 5 * 4 + 1).reshape(2, 3, 5, 4)
    x = (values if dtype == np.uint8 else -values).astype(dtype)
    y = pool(xp.asarray(x), 3, 1, 1)
    assert y.dtype == dtype
    np.testing.assert_array_equal(as_numpy(y.data), _torch_max_pool(x.astype(np.int64), 3, 1, 1))
    y2 = pool(xp.asarray(x), (2, 3), (2, 1), (1, 1))
    np.testing.assert_array_equal(as_numpy(y2.data), _torch_max_pool(x.astype(np.int64), (2, 3), (2, 1), (1, 1)))


def test_max_pooling_of_booleans_is_a_logical_or_over_each_window():
    x = np.zeros((1, 1, 3, 3), dtype=bool)
    x[0, 0, 2, 2] = True
    y = F.pooling(x, 2, 1, 1)
    expected = np.zeros((1, 1, 4, 4), dtype=bool)
    expected[0, 0, 2:, 2:] = True
    np.testing.assert_array_equal(y.data, expected)


def _nan_image():
    x = np.random.RandomState(0).permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6).astype(np.float64)
    x[0, 0, 0, 1] = np.nan  # not the first element of its window
    x[0, 1, 3, 3] = np.nan  # the last element of its 2x2 window
    x[1, 0, 2, 5] = np.nan
    return x


@pytest.mark.parametrize("pool", [F.pooling, F.pooling_simple], ids=["pooling", "pooling_simple"])
@pytest.mark.parametrize("kernel, stride, pad", [(2, 2, 0), (3, 1, 1), (3, 2, 1)])
def test_max_pooling_sends_the_gradient_of_a_nan_window_to_the_nan_as_torch(xp, pool, kernel, stride, pad):
    data = _nan_image()
    x = Variable(xp.asarray(data))
    y = pool(x, kernel, stride, pad)
    xt = torch.tensor(data, requires_grad=True)
    yt = torch.nn.functional.max_pool2d(xt, kernel, stride, pad)
    np.testing.assert_array_equal(as_numpy(y.data), yt.detach().numpy())
    w = np.random.RandomState(1).randn(*y.shape)
    F.sum(y * xp.asarray(w)).backward()
    (gt,) = torch.autograd.grad(yt, xt, torch.tensor(w))
    # Overlapping windows add their shares in any order: equal up to rounding.
    np.testing.assert_allclose(as_numpy(x.grad.data), gt.numpy(), rtol=1e-12, atol=1e-15)


def test_max_pooling_with_two_nans_in_a_window_picks_the_first_as_on_a_tie():
    data = np.arange(16.0).reshape(1, 1, 4, 4)
    data[0, 0, 0, 1] = data[0, 0, 1, 0] = np.nan
    for pool in (F.pooling, F.pooling_simple):
        x = Variable(data)
        F.sum(pool(x, 2, 2)).backward()
        expected = np.zeros((4, 4))
        expected[0, 1] = expected[1, 3] = expected[3, 1] = expected[3, 3] = 1.0
        np.testing.assert_array_equal(x.grad.data[0, 0], expected)


def test_max_pooling_double_backward_follows_the_nan_too():
    data = _nan_image()
    x = Variable(data)
    (gx,) = dezero.grad(F.sum(F.pooling(x, 2, 2) ** 2), [x], create_graph=True)
    # d/dx sum(pool(x)^2) = 2 * pool(x) at the winners: NaN exactly at the NaNs.
    np.testing.assert_array_equal(np.isnan(gx.data), np.isnan(data))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, bool])
def test_average_pooling_refuses_integer_input_naming_the_dtype(dtype):
    x = np.ones((1, 2, 4, 4), dtype=dtype)
    with pytest.raises(
        TypeError,
        match=rf"average_pooling: x must be a floating-point array, got dtype "
        rf"{np.dtype(dtype)} \(shape \(1, 2, 4, 4\)\); cast it first",
    ):
        F.average_pooling(x, 2)


# =============================================================================
# Batch normalization
# =============================================================================
@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1)])
def test_batch_norm_refuses_one_value_per_channel_in_training(shape):
    x = np.random.RandomState(0).randn(*shape)
    mean, var = np.zeros(3), np.ones(3)
    with pytest.raises(
        ValueError,
        match=r"batch_norm: expected more than 1 value per channel in training "
        r"mode, got x of shape \(1, 3(, 1, 1)?\) \(N\*H\*W = 1\)",
    ):
        F.batch_norm(x, np.ones(3), np.zeros(3), mean, var)
    np.testing.assert_array_equal(var, np.ones(3))  # the running statistics are untouched
    np.testing.assert_array_equal(mean, np.zeros(3))
    # PyTorch refuses it too.
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.functional.batch_norm(
            torch.tensor(x), torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), training=True
        )


def test_batch_norm_layer_refuses_a_batch_of_one_in_training_but_not_in_test_mode():
    import dezero.layers as L

    bn = L.BatchNorm()
    bn(np.random.RandomState(0).randn(4, 3).astype(np.float32))
    running_var = bn.avg_var.copy()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(np.ones((1, 3), np.float32))
    np.testing.assert_array_equal(bn.avg_var, running_var)
    with dezero.test_mode():
        y = bn(np.ones((1, 3), np.float32))
    expected = (1.0 - bn.avg_mean) / np.sqrt(bn.avg_var + bn.eps)
    np.testing.assert_allclose(y.data[0], expected, rtol=1e-6)


def test_batch_norm_accepts_two_values_per_channel_from_one_image():
    # N = 1 is fine when the channel has several pixels: m = H*W = 2.
    x = Variable(np.array([[[[1.0, 3.0]]]]))
    y = F.batch_norm(x, np.ones(1), np.zeros(1), np.zeros(1), np.ones(1), eps=1e-12)
    np.testing.assert_allclose(y.data, [[[[-1.0, 1.0]]]], rtol=1e-9)


# =============================================================================
# Convolution
# =============================================================================
@pytest.mark.parametrize("kernel", [(0, 0), (0, 2), (2, 0)])
def test_conv2d_and_deconv2d_refuse_an_empty_kernel(kernel):
    x = np.ones((1, 2, 4, 4))
    with pytest.raises(
        ValueError,
        match=rf"conv2d: W has an empty kernel: \(KH, KW\) = \({kernel[0]}, "
        rf"{kernel[1]}\) in W of shape \(3, 2, {kernel[0]}, {kernel[1]}\)",
    ):
        F.conv2d(x, np.ones((3, 2) + kernel))
    with pytest.raises(ValueError, match="conv2d_simple: W has an empty kernel"):
        F.conv2d_simple(x, np.ones((3, 2) + kernel))
    with pytest.raises(ValueError, match=r"deconv2d: W has an empty kernel.*\(C_in, C_out, KH, KW\)"):
        F.deconv2d(x, np.ones((2, 3) + kernel))


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("stride", 0, "stride must be positive, got 0"),
        ("stride", (1, -1), r"stride must be positive, got \(1, -1\)"),
        ("pad", -1, "pad must be non-negative, got -1"),
        ("stride", 1.5, "stride must be an int or a pair of ints, got 1.5"),
        ("pad", (1.0, 1), r"pad must be an int or a pair of ints, got \(1.0, 1\)"),
        ("stride", (1, 1, 1), r"stride must be an int or a pair of ints, got \(1, 1, 1\)"),
    ],
)
@pytest.mark.parametrize("op", [F.conv2d, F.deconv2d], ids=["conv2d", "deconv2d"])
def test_convolutions_refuse_bad_strides_and_pads_naming_the_argument(op, name, value, message):
    with pytest.raises(ValueError, match=f"{op.__name__}: {message}"):
        op(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), **{name: value})


@pytest.mark.parametrize("op", [F.pooling, F.average_pooling, F.im2col], ids=["pooling", "average_pooling", "im2col"])
def test_window_ops_refuse_a_zero_or_fractional_kernel(op):
    x = np.ones((1, 1, 4, 4))
    with pytest.raises(ValueError, match=f"{op.__name__}: kernel_size must be positive, got 0"):
        op(x, 0)
    with pytest.raises(ValueError, match=f"{op.__name__}: kernel_size must be an int or a pair of ints, got 2.5"):
        op(x, 2.5)


def test_conv2d_refuses_a_kernel_larger_than_the_padded_input():
    with pytest.raises(
        ValueError,
        match=r"conv2d: kernel \(5, 5\) is larger than the padded input \(4, 4\) "
        r"\(input \(2, 2\), pad \(1, 1\)\)",
    ):
        F.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 5, 5)), pad=1)
