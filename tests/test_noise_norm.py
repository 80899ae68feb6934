"""batch_norm, dropout and embed_id: every case runs the op harness (forward
against NumPy references, backward and double backward against numerical
gradients, float32/float64, NumPy/CuPy, strided, read-only and untouched
inputs); below the cases, running statistics, train/test modes, randomness and
argument errors."""

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero.backend import as_numpy, get_array_module
from tests.op_harness import OpCase, OpTests, fixed, integers, normal, uniform

EPS = 2e-5


# =============================================================================
# batch_norm
# =============================================================================
BN_SHAPES = [(4, 3), (2, 3), (5, 1), (2, 3, 2, 2), (3, 2, 1, 3)]


def _bn_reference(x, gamma, beta, eps=EPS):
    """Plain NumPy, float64: normalise each channel (axis 1) over every other axis."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    x = x.astype(np.float64)
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return gamma.reshape(shape) * (x - mu) / np.sqrt(var + eps) + beta.reshape(shape)


def _channel_values(x, c):
    """All values of channel c as a flat vector (a loop-free but independent view)."""
    return np.moveaxis(x, 1, 0)[c].ravel().astype(np.float64)


def _bn_inputs(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, size=c).astype(dtype)
    beta = rng.standard_normal(c).astype(dtype)
    return x, gamma, beta


def _fresh_statistics(gamma):
    """Running statistics for one call in training mode, which updates them in
    place: state of the call, not inputs."""
    data = gamma.data if isinstance(gamma, dezero.Variable) else gamma
    xp = get_array_module(data)
    return xp.zeros_like(data), xp.ones_like(data)


def _batch_norm_train(x, gamma, beta):
    return F.batch_norm(x, gamma, beta, *_fresh_statistics(gamma))


def _batch_norm_test(x, gamma, beta, mean, var):
    with dezero.test_mode():
        return F.batch_norm(x, gamma, beta, mean, var)


def _bn_test_reference(x, gamma, beta, mean, var):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + EPS) + beta.reshape(shape)


def _bn_case_inputs(shape):
    c = shape[1]
    return [normal(shape, scale=2.0, shift=1.0), uniform((c,), 0.5, 1.5), normal((c,))]


def _seeded_dropout(x, ratio=0.3):
    # The same mask on every call, so that finite differences see one function.
    get_array_module(x).random.seed(5)
    return F.dropout(x, ratio)


def _embed_reference(ids, W):
    """One row of W per id, looked up one at a time."""
    return np.array([W[i] for i in ids.ravel()]).reshape(ids.shape + W.shape[1:])


class TestNoiseNormOps(OpTests):
    cases = [
        *[
            OpCase(
                f"batch_norm(train, {shape})", _batch_norm_train, _bn_case_inputs(shape), _bn_reference, op=F.batch_norm
            )
            for shape in BN_SHAPES
        ],
        # Test mode: the running statistics are inputs (used, not updated) but not differentiated.
        *[
            OpCase(
                f"batch_norm(test, {shape})",
                _batch_norm_test,
                _bn_case_inputs(shape) + [normal((shape[1],)), uniform((shape[1],), 0.5, 2.0)],
                _bn_test_reference,
                op=F.batch_norm,
                differentiable_inputs=(0, 1, 2),
            )
            for shape in [(4, 3), (2, 3, 2, 2)]
        ],
        OpCase(
            "dropout(0.3)",
            _seeded_dropout,
            [normal((3, 4))],
            None,
            op=F.dropout,
            skip_forward="the mask is random: the values are checked by test_dropout_* below",
        ),
        *[
            OpCase(
                f"embed_id(ids of shape {ids_shape})",
                F.embed_id,
                [integers(ids_shape, 5), normal((5, 4))],
                _embed_reference,
            )
            for ids_shape in [(), (3,), (2, 3)]
        ],
        OpCase(
            "embed_id(repeated ids)",
            F.embed_id,
            [fixed([[1, 4, 1], [0, 1, 3]], dtype=np.int64), normal((5, 3))],
            _embed_reference,
        ),
        OpCase(
            "embed_id(uint8 ids)",
            F.embed_id,
            [fixed([[0, 2], [2, 1]], dtype=np.uint8), normal((3, 2))],
            _embed_reference,
        ),
    ]


def test_batch_norm_backward_paths_agree():
    """The plain backward (constants from the forward) and the differentiable one
    (create_graph=True, statistics rebuilt in the graph) give the same gradients."""
    x, gamma, beta = _bn_inputs((3, 2, 2, 3), np.float64, 3)
    gy = np.random.default_rng(4).standard_normal(x.shape)
    results = []
    for create_graph in (False, True):
        xs = [dezero.Variable(a.copy()) for a in (x, gamma, beta)]
        y = F.batch_norm(*xs, np.zeros(2), np.ones(2))
        grads = dezero.grad(y, xs, grad_outputs=gy, create_graph=create_graph)
        results.append([g.data for g in grads])
    for plain, graphed in zip(*results):
        np.testing.assert_allclose(plain, graphed, rtol=1e-12, atol=1e-12)


def test_batch_norm_gradient_properties():
    """Per channel, the x-gradient sums to 0 and is orthogonal to x_hat (the batch
    mean and variance absorb those directions); gbeta = sum(gy). The
    orthogonality is exact for eps -> 0, hence the tiny eps."""
    x, gamma, beta = _bn_inputs((6, 3), np.float64, 5)
    xs = [dezero.Variable(a) for a in (x, gamma, beta)]
    gy = np.random.default_rng(6).standard_normal(x.shape)
    y = F.batch_norm(*xs, np.zeros(3), np.ones(3), eps=1e-12)
    y.backward(grad=gy)
    x_hat = (y.data - beta) / gamma
    np.testing.assert_allclose(xs[0].grad.data.sum(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose((xs[0].grad.data * x_hat).sum(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(xs[2].grad.data, gy.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(xs[1].grad.data, (gy * x_hat).sum(axis=0), rtol=1e-10)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_batch_norm_running_statistics_two_steps(dtype, shape):
    c, decay = shape[1], 0.8
    rng = np.random.default_rng(7)
    gamma, beta = np.ones(c, dtype=dtype), np.zeros(c, dtype=dtype)
    mean = np.full(c, 0.5, dtype=dtype)
    var = np.full(c, 2.0, dtype=dtype)
    mean_obj, var_obj = mean, var
    exp_mean, exp_var = mean.astype(np.float64), var.astype(np.float64)
    for _ in range(2):
        x = (rng.standard_normal(shape) * 3 - 1).astype(dtype)
        F.batch_norm(x, gamma, beta, mean, var, decay=decay)
        batch_mean = np.array([_channel_values(x, k).mean() for k in range(c)])
        batch_var = np.array([np.var(_channel_values(x, k), ddof=1) for k in range(c)])  # unbiased
        exp_mean = decay * exp_mean + (1 - decay) * batch_mean
        exp_var = decay * exp_var + (1 - decay) * batch_var
    assert mean is mean_obj and var is var_obj  # updated in place
    assert mean.dtype == dtype and var.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(mean, exp_mean, rtol=rtol)
    np.testing.assert_allclose(var, exp_var, rtol=rtol)


def test_batch_norm_running_stats_keep_their_dtype_with_float32_input():
    x, gamma, beta = _bn_inputs((4, 2), np.float32, 8)
    mean, var = np.zeros(2), np.ones(2)  # float64 state
    y = F.batch_norm(x, gamma, beta, mean, var)
    assert y.dtype == np.float32 and mean.dtype == np.float64 and var.dtype == np.float64
    with dezero.test_mode():
        assert F.batch_norm(x, gamma, beta, mean, var).dtype == np.float32


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_batch_norm_test_mode_uses_and_keeps_the_running_statistics(dtype, shape):
    x, gamma, beta = _bn_inputs(shape, dtype, 9)
    c = shape[1]
    rng = np.random.default_rng(10)
    mean = rng.standard_normal(c).astype(dtype)
    var = rng.uniform(0.5, 2.0, size=c).astype(dtype)
    mean0, var0 = mean.copy(), var.copy()
    cshape = (1, c) + (1,) * (len(shape) - 2)
    with dezero.test_mode():
        y = F.batch_norm(x, gamma, beta, mean, var)
    y.backward()
    expected = gamma.reshape(cshape) * (x - mean0.reshape(cshape)) / np.sqrt(var0.reshape(cshape) + EPS) + beta.reshape(
        cshape
    )
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, expected, rtol=1e-5, atol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(mean, mean0)  # running statistics untouched in test mode
    np.testing.assert_array_equal(var, var0)


def test_batch_norm_test_mode_is_affine_in_x():
    x, gamma, beta = _bn_inputs((3, 2), np.float64, 11)
    xv = dezero.Variable(x)
    with dezero.test_mode():
        y = F.batch_norm(xv, gamma, beta, np.zeros(2), np.full(2, 4.0), eps=1e-12)
    y.backward()
    np.testing.assert_allclose(xv.grad.data, np.broadcast_to(gamma / 2.0, x.shape), rtol=1e-10)


def test_batch_norm_bad_arguments():
    g, b, m, v = np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match=r"batch_norm: x must be \(N, C\) or \(N, C, H, W\), got shape \(3,\)"):
        F.batch_norm(np.zeros(3), g, b, m, v)
    with pytest.raises(ValueError, match=r"batch_norm: gamma must have shape \(4,\) .* got \(3,\)"):
        F.batch_norm(np.zeros((2, 4)), g, b, m, v)
    with pytest.raises(ValueError, match=r"batch_norm: var must have shape \(3,\)"):
        F.batch_norm(np.zeros((2, 3)), g, b, m, np.ones(2))
    with pytest.raises(TypeError, match=r"batch_norm: mean must be a floating-point array \(a running statistic"):
        F.batch_norm(np.zeros((2, 3)), g, b, np.zeros(3, dtype=np.int64), v)
    with pytest.raises(ValueError, match="batch_norm: decay must be in"):
        F.batch_norm(np.zeros((2, 3)), g, b, m, v, decay=1.5)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 2)])
def test_batch_norm_matches_torch(shape):
    torch = pytest.importorskip("torch")
    x, gamma, beta = _bn_inputs(shape, np.float64, 12)
    gy = np.random.default_rng(13).standard_normal(shape)
    c, decay = shape[1], 0.9
    mean, var = np.zeros(c), np.ones(c)
    xs = [dezero.Variable(a.copy()) for a in (x, gamma, beta)]
    y = F.batch_norm(*xs, mean, var, decay=decay, eps=EPS)
    y.backward(grad=gy)

    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    rm, rv = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    yt = torch.nn.functional.batch_norm(xt, rm, rv, gt, bt, training=True, momentum=1 - decay, eps=EPS)
    yt.backward(torch.tensor(gy))

    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(xs, (xt, gt, bt)):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(mean, rm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(var, rv.numpy(), rtol=1e-12)

    with dezero.test_mode():
        y_test = F.batch_norm(x, gamma, beta, mean, var, eps=EPS)
    yt_test = torch.nn.functional.batch_norm(
        torch.tensor(x), rm, rv, torch.tensor(gamma), torch.tensor(beta), training=False, eps=EPS
    )
    np.testing.assert_allclose(y_test.data, yt_test.numpy(), rtol=1e-10, atol=1e-12)


_G, _B, _M, _V = np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)
_X = np.zeros((2, 3))
# (arguments of F.batch_norm, then F.BatchNorm(mean, var, decay, eps)(x, gamma, beta);
# the error; the message after "batch_norm: " and after "BatchNorm: ")
_BN_ERRORS = {
    "gamma-length": (
        (_X, np.ones(2), _B, _M, _V, 0.9, EPS),
        ValueError,
        r"gamma must have shape \(3,\) for x of shape \(2, 3\) \(channels on axis 1\), got \(2,\)$",
    ),
    "beta-length": ((_X, _G, np.zeros(4), _M, _V, 0.9, EPS), ValueError, r"beta must have shape \(3,\)"),
    "x-1-D": ((np.zeros(3), _G, _B, _M, _V, 0.9, EPS), ValueError, r"x must be \(N, C\) or \(N, C, H, W\)"),
    "x-integer": (
        (np.zeros((2, 3), dtype=np.int64), _G, _B, _M, _V, 0.9, EPS),
        TypeError,
        "x must be a floating-point array, got dtype int64$",
    ),
    "x-empty": ((np.zeros((0, 3)), _G, _B, _M, _V, 0.9, EPS), ValueError, r"x is empty \(shape \(0, 3\)\)$"),
    "one-value-per-channel": (
        (np.zeros((1, 3)), _G, _B, _M, _V, 0.9, EPS),
        ValueError,
        r"expected more than 1 value per channel in training mode",
    ),
    "mean-none": ((_X, _G, _B, None, _V, 0.9, EPS), TypeError, r"{mean} must be an array.* got NoneType$"),
    "var-length": ((_X, _G, _B, _M, np.ones(2), 0.9, EPS), ValueError, r"{var} must have shape \(3,\)"),
    "mean-integer": (
        (_X, _G, _B, np.zeros(3, dtype=np.int64), _V, 0.9, EPS),
        TypeError,
        r"{mean} must be a floating-point array \(a running statistic, updated in place\), got dtype int64$",
    ),
    "decay": ((_X, _G, _B, _M, _V, 1.5, EPS), ValueError, r"decay must be in \[0, 1\], got 1.5$"),
    "decay-string": ((_X, _G, _B, _M, _V, "0.9", EPS), TypeError, r"decay must be a number, got '0.9'$"),
    "eps": ((_X, _G, _B, _M, _V, 0.9, 0.0), ValueError, r"eps must be positive, got 0.0$"),
}


@pytest.mark.parametrize("case", list(_BN_ERRORS))
def test_the_book_batchnorm_class_refuses_what_batch_norm_refuses(case):
    (x, gamma, beta, mean, var, decay, eps), error, message = _BN_ERRORS[case]
    copies = [None if a is None else np.array(a, copy=True) for a in (mean, var)]
    with pytest.raises(error, match="batch_norm: " + message.format(mean="mean", var="var")):
        F.batch_norm(x, gamma, beta, *copies, decay=decay, eps=eps)
    # The class names its own arguments: running_mean and running_var.
    with pytest.raises(error, match="BatchNorm: " + message.format(mean="running_mean", var="running_var")):
        F.BatchNorm(*copies, decay, eps)(x, gamma, beta)


def test_the_book_batchnorm_class_checks_shapes_in_test_mode_too():
    with dezero.test_mode():
        with pytest.raises(ValueError, match=r"BatchNorm: running_var must have shape \(3,\)"):
            F.BatchNorm(np.zeros(3), np.ones(2), 0.9, EPS)(_X, _G, _B)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 2)])
def test_the_book_batchnorm_class_keeps_float32_with_numpy_scalar_decay_and_eps_and_matches_torch(shape):
    # NumPy float64 scalars would turn float32 arithmetic into float64 ones.
    torch = pytest.importorskip("torch")
    x, gamma, beta = _bn_inputs(shape, np.float32, 14)
    c = shape[1]
    mean, var = np.zeros(c, np.float32), np.ones(c, np.float32)
    y = F.BatchNorm(mean, var, np.float64(0.9), np.float64(EPS))(x, gamma, beta)
    assert y.dtype == np.float32 and mean.dtype == np.float32 and var.dtype == np.float32
    rm, rv = torch.zeros(c), torch.ones(c)
    yt = torch.nn.functional.batch_norm(
        torch.tensor(x), rm, rv, torch.tensor(gamma), torch.tensor(beta), training=True, momentum=0.1, eps=EPS
    )
    np.testing.assert_allclose(y.data, yt.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mean, rm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, rv.numpy(), rtol=1e-5, atol=1e-6)


# =============================================================================
# dropout
# =============================================================================
@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.8])
def test_dropout_statistics(xp, ratio):
    xp.random.seed(0)
    x = xp.ones((200, 500), dtype=np.float32)
    y = as_numpy(F.dropout(x, ratio).data)
    assert y.dtype == np.float32
    zero_fraction = np.mean(y == 0)
    # 1e5 Bernoulli draws: the standard deviation of these estimates is below 0.007.
    assert abs(zero_fraction - ratio) < 0.01
    assert abs(y.mean() - 1.0) < 0.03  # inverted dropout preserves the mean
    survivors = y[y != 0]
    np.testing.assert_allclose(survivors, 1.0 / (1.0 - ratio), rtol=1e-6)


def test_dropout_backward_uses_the_forward_mask(dtype):
    np.random.seed(1)
    x = dezero.Variable(np.random.default_rng(2).uniform(1, 2, size=(4, 5)).astype(dtype))
    y = F.dropout(x, 0.5)
    gy = np.random.default_rng(3).standard_normal((4, 5)).astype(dtype)
    y.backward(grad=gy)
    mask = y.data / x.data  # 0 or 2
    assert set(np.unique(np.round(mask, 5))) <= {0.0, 2.0} and 0 < np.mean(mask == 0) < 1
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad.data, gy * mask, rtol=1e-6)


def test_dropout_ratio_zero_keeps_everything():
    x = np.random.default_rng(6).standard_normal((3, 4))
    np.testing.assert_array_equal(F.dropout(x, 0.0).data, x)


def test_dropout_is_identity_in_test_mode(xp):
    x = dezero.Variable(xp.asarray(np.random.default_rng(7).standard_normal((3, 4))))
    with dezero.test_mode():
        y = F.dropout(x, 0.9)
    assert y is x
    assert dezero.Config.train  # the mode is restored
    z = F.dropout(x, 0.9)
    assert float(as_numpy((z.data == 0).mean())) > 0.5


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, "0.5", None])
def test_dropout_bad_ratio(ratio):
    with pytest.raises(ValueError, match=r"dropout: dropout_ratio must be a number in \[0, 1\)"):
        F.dropout(np.ones(3), ratio)


# =============================================================================
# embed_id
# =============================================================================
def test_embed_id_backward_accumulates_repeated_ids(dtype):
    W = dezero.Variable(np.random.default_rng(9).standard_normal((4, 3)).astype(dtype))
    ids = np.array([[0, 2], [0, 0]])
    gy = np.arange(12, dtype=dtype).reshape(2, 2, 3)
    F.embed_id(ids, W).backward(grad=gy)
    expected = np.zeros((4, 3))
    for (i, j), k in np.ndenumerate(ids):
        expected[k] += gy[i, j]
    assert W.grad.dtype == dtype
    np.testing.assert_array_equal(W.grad.data, expected)


def test_embed_id_bad_arguments():
    W = np.zeros((5, 3))
    with pytest.raises(IndexError, match=r"embed_id: id 5 is out of range \[0, 5\)"):
        F.embed_id(np.array([0, 5]), W)
    with pytest.raises(IndexError, match=r"embed_id: id -1 is out of range"):
        F.embed_id(np.array([-1, 2]), W)
    with pytest.raises(TypeError, match="embed_id: x must be an integer array"):
        F.embed_id(np.array([0.0, 1.0]), W)
    with pytest.raises(ValueError, match=r"embed_id: W must be 2-D \(vocab, dim\)"):
        F.embed_id(np.array([0]), np.zeros(5))
