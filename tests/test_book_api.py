"""The names and behaviour that code written for the book's DeZero relies on:
the "simple" functions (compositions of ops), losses against (N,) targets, the
top-level names of ``dezero`` and ``dezero.utils``, and the layer
constructors' argument checks. References are NumPy formulas in float64; the
comparisons with PyTorch are in the tables of tests/test_torch_parity.py.
"""

import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import Variable
from dezero.backend import as_numpy
from dezero.utils import double_gradient_check, gradient_check
from tests.conftest import tolerances


def _np_softmax(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _fwd_rtol(dtype):
    return 1e-5 if dtype == np.float32 else 1e-12


# =============================================================================
# softmax_simple
# =============================================================================
SOFTMAX_CASES = [((4, 3), 1), ((2, 3, 4), 2), ((5,), 0), ((3, 4), 0), ((2, 3, 2), -2)]


@pytest.mark.parametrize("shape,axis", SOFTMAX_CASES)
def test_softmax_simple_forward_matches_the_formula(xp, dtype, shape, axis):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    y = F.softmax_simple(xp.asarray(x), axis=axis)
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(as_numpy(y.data), _np_softmax(x, axis), rtol=_fwd_rtol(dtype), atol=1e-7)


@pytest.mark.parametrize("shape,axis", SOFTMAX_CASES)
def test_softmax_simple_gradients_and_second_derivatives(dtype, shape, axis):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    assert gradient_check(lambda v: F.softmax_simple(v, axis=axis), x, **tolerances(dtype))
    assert double_gradient_check(lambda v: F.softmax_simple(v, axis=axis), x, **tolerances(dtype))


def test_softmax_simple_gives_softmax_s_values_and_gradients(dtype):
    x = np.random.default_rng(2).standard_normal((3, 5)).astype(dtype) * 4
    gy = np.random.default_rng(3).standard_normal((3, 5)).astype(dtype)
    a, b = Variable(x.copy()), Variable(x.copy())
    ya, yb = F.softmax_simple(a), F.softmax(b)
    ya.backward(grad=gy)
    yb.backward(grad=gy)
    np.testing.assert_allclose(ya.data, yb.data, rtol=_fwd_rtol(dtype), atol=1e-7)
    assert a.grad.dtype == dtype
    np.testing.assert_allclose(
        a.grad.data,
        b.grad.data,
        rtol=1e-4 if dtype == np.float32 else 1e-10,
        atol=1e-6 if dtype == np.float32 else 1e-14,
    )


def test_softmax_simple_does_not_overflow_on_large_scores(dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [500.0, 500.0, 0.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise"):
        y = F.softmax_simple(x)
    np.testing.assert_allclose(y.data, [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-7)


def test_softmax_simple_bad_arguments():
    with pytest.raises(ValueError, match="softmax_simple: axis 2 is out of range for x of shape"):
        F.softmax_simple(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match="softmax_simple: x must have at least 1 dimension"):
        F.softmax_simple(np.array(1.0))


# =============================================================================
# softmax_cross_entropy_simple
# =============================================================================
SCE_CASES = [(1, 3), (4, 3), (5, 7), (3, 1)]


def _np_softmax_ce(x, t):
    p = np.clip(_np_softmax(x, 1), 1e-15, 1.0)
    return -np.mean(np.log(p[np.arange(len(t)), t]))


@pytest.mark.parametrize("n,c", SCE_CASES)
def test_softmax_cross_entropy_simple_forward_matches_the_formula(xp, dtype, n, c):
    rng = np.random.default_rng(6)
    x, t = rng.standard_normal((n, c)).astype(dtype), rng.integers(0, c, n)
    y = F.softmax_cross_entropy_simple(xp.asarray(x), xp.asarray(t))
    assert y.shape == () and y.dtype == dtype
    np.testing.assert_allclose(as_numpy(y.data), _np_softmax_ce(x, t), rtol=_fwd_rtol(dtype), atol=1e-7)


@pytest.mark.parametrize("n,c", SCE_CASES)
def test_softmax_cross_entropy_simple_gradients_and_second_derivatives(dtype, n, c):
    rng = np.random.default_rng(7)
    x, t = rng.standard_normal((n, c)).astype(dtype), rng.integers(0, c, n)
    assert gradient_check(F.softmax_cross_entropy_simple, x, t, **tolerances(dtype))
    assert double_gradient_check(F.softmax_cross_entropy_simple, x, t, **tolerances(dtype))


def test_softmax_cross_entropy_simple_equals_the_fused_loss_away_from_the_clip(dtype):
    rng = np.random.default_rng(8)
    x, t = rng.standard_normal((6, 4)).astype(dtype), rng.integers(0, 4, 6)
    a, b = Variable(x.copy()), Variable(x.copy())
    ya, yb = F.softmax_cross_entropy_simple(a, t), F.softmax_cross_entropy(b, t)
    ya.backward()
    yb.backward()
    np.testing.assert_allclose(ya.data, yb.data, rtol=_fwd_rtol(dtype))
    np.testing.assert_allclose(
        a.grad.data,
        b.grad.data,
        rtol=1e-4 if dtype == np.float32 else 1e-10,
        atol=1e-7 if dtype == np.float32 else 1e-15,
    )


def test_softmax_cross_entropy_simple_is_bounded_by_the_clip():
    """A hopeless prediction (probability e^-2000) costs -log(1e-15), and no gradient flows
    through the clipped probability."""
    x = Variable(np.array([[1000.0, -1000.0]]))
    y = F.softmax_cross_entropy_simple(x, np.array([1]))
    y.backward()
    assert float(y.data) == pytest.approx(-np.log(1e-15), rel=1e-12)
    np.testing.assert_array_equal(x.grad.data, [[0.0, 0.0]])


def test_softmax_cross_entropy_simple_bad_arguments():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy_simple: label 4 is out of range \[0, 4\)"):
        F.softmax_cross_entropy_simple(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy_simple: t must have shape \(3,\)"):
        F.softmax_cross_entropy_simple(x, np.array([0, 1]))
    with pytest.raises(TypeError, match="softmax_cross_entropy_simple: t must hold integer class labels"):
        F.softmax_cross_entropy_simple(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy_simple: x must be 2-D \(N, C\)"):
        F.softmax_cross_entropy_simple(np.zeros(4), np.array([0]))


# =============================================================================
# linear_simple, sigmoid_simple, mean_squared_error_simple
# =============================================================================
def test_linear_simple_matches_linear_and_the_formula(xp, dtype):
    rng = np.random.default_rng(20)
    x, W, b = (rng.standard_normal(s).astype(dtype) for s in ((4, 3), (3, 2), (2,)))
    y = F.linear_simple(xp.asarray(x), xp.asarray(W), xp.asarray(b))
    assert y.dtype == dtype
    np.testing.assert_allclose(as_numpy(y.data), x.astype(np.float64) @ W + b, rtol=_fwd_rtol(dtype) * 10)
    np.testing.assert_allclose(
        as_numpy(F.linear_simple(xp.asarray(x), xp.asarray(W)).data),
        as_numpy(F.linear(xp.asarray(x), xp.asarray(W)).data),
        rtol=1e-6,
    )


def test_linear_simple_gradients_and_second_derivatives(dtype):
    rng = np.random.default_rng(21)
    x, W, b = (rng.standard_normal(s).astype(dtype) for s in ((4, 3), (3, 2), (2,)))
    f = lambda v, w, c: F.tanh(F.linear_simple(v, w, c))  # noqa: E731  (tanh: a non-zero second derivative)
    assert gradient_check(f, x, W, b, **tolerances(dtype))
    assert double_gradient_check(f, x, W, b, **tolerances(dtype))


def test_linear_simple_bad_shapes():
    with pytest.raises(ValueError, match=r"linear_simple: x must be \(N, in_size\).*x \(4, 3\) and W \(2, 2\)"):
        F.linear_simple(np.zeros((4, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"linear_simple: b must have shape \(2,\)"):
        F.linear_simple(np.zeros((4, 3)), np.zeros((3, 2)), np.zeros(3))


def test_sigmoid_simple_matches_the_formula_and_sigmoid(xp, dtype):
    x = np.random.default_rng(22).standard_normal((3, 4)).astype(dtype) * 3
    y = F.sigmoid_simple(xp.asarray(x))
    assert y.dtype == dtype
    np.testing.assert_allclose(as_numpy(y.data), 1 / (1 + np.exp(-x.astype(np.float64))), rtol=_fwd_rtol(dtype) * 10)
    np.testing.assert_allclose(as_numpy(y.data), as_numpy(F.sigmoid(xp.asarray(x)).data), rtol=1e-6)


def test_sigmoid_simple_gradients_and_second_derivatives(dtype):
    x = np.random.default_rng(23).standard_normal((3, 4)).astype(dtype)
    assert gradient_check(F.sigmoid_simple, x, **tolerances(dtype))
    assert double_gradient_check(F.sigmoid_simple, x, **tolerances(dtype))


def test_sigmoid_simple_is_finite_with_finite_gradients_far_from_zero():
    x = Variable(np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0]))
    with np.errstate(over="raise", invalid="raise"):
        y = F.sigmoid_simple(x)
        F.sum(y).backward()
    # Absolute accuracy, as for F.sigmoid: 0.5 tanh(x/2) + 0.5 rounds tiny values to 0.
    expected = 1 / (1 + np.exp(-np.clip(x.data, -700, 700)))
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(x.grad.data, expected * (1 - expected), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("pred_shape,target_shape", [((4, 1), (4, 1)), ((3, 2), (3, 2)), ((4, 1), (4,))])
def test_mean_squared_error_simple_equals_mean_squared_error(dtype, pred_shape, target_shape):
    rng = np.random.default_rng(25)
    x0 = rng.standard_normal(pred_shape).astype(dtype)
    x1 = rng.standard_normal(target_shape).astype(dtype)
    y = F.mean_squared_error_simple(x0, x1)
    assert y.shape == () and y.dtype == dtype
    expected = np.sum((x0.ravel().astype(np.float64) - x1.ravel()) ** 2) / pred_shape[0]
    np.testing.assert_allclose(y.data, expected, rtol=_fwd_rtol(dtype))
    np.testing.assert_allclose(y.data, F.mean_squared_error(x0, x1).data, rtol=1e-6)
    assert gradient_check(F.mean_squared_error_simple, x0, x1, **tolerances(dtype))
    assert double_gradient_check(F.mean_squared_error_simple, x0, x1, **tolerances(dtype))


def test_mean_squared_error_simple_refuses_what_mean_squared_error_refuses():
    with pytest.raises(ValueError, match=r"mean_squared_error_simple: .*\(4, 1\).*\(2, 2\)"):
        F.mean_squared_error_simple(np.zeros((4, 1)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="mean_squared_error_simple: inputs need a non-empty batch axis"):
        F.mean_squared_error_simple(np.array(1.0), np.array(2.0))


# =============================================================================
# Losses: a target with the prediction's elements and extra axes of length 1
# =============================================================================
TARGET_SHAPES = [((4, 1), (4,)), ((4,), (4, 1)), ((1, 1), (1,)), ((2, 1, 3), (2, 3)), ((3, 1), (1, 3))]


def _binary_targets(shape, float_targets):
    rng = np.random.default_rng(10)
    return rng.uniform(0, 1, shape) if float_targets else rng.integers(0, 2, shape)


@pytest.mark.parametrize("pred_shape,target_shape", TARGET_SHAPES)
def test_mean_squared_error_pairs_elements_of_an_n_by_1_prediction_and_n_targets(dtype, pred_shape, target_shape):
    rng = np.random.default_rng(11)
    x0 = rng.standard_normal(pred_shape).astype(dtype)
    x1 = rng.standard_normal(target_shape).astype(dtype)
    y = F.mean_squared_error(x0, x1)
    expected = np.sum((x0.ravel().astype(np.float64) - x1.ravel()) ** 2) / pred_shape[0]
    assert y.shape == () and y.dtype == dtype
    np.testing.assert_allclose(y.data, expected, rtol=_fwd_rtol(dtype))
    # Both sides get gradients of their own shapes, element by element.
    v0, v1 = Variable(x0), Variable(x1)
    F.mean_squared_error(v0, v1).backward()
    diff = x0.ravel().astype(np.float64) - x1.ravel()
    np.testing.assert_allclose(v0.grad.data, (2 * diff / pred_shape[0]).reshape(pred_shape), rtol=1e-5)
    np.testing.assert_allclose(v1.grad.data, (-2 * diff / pred_shape[0]).reshape(target_shape), rtol=1e-5)
    assert gradient_check(F.mean_squared_error, x0, x1, **tolerances(dtype))
    assert double_gradient_check(F.mean_squared_error, x0, x1, **tolerances(dtype))


def test_mean_squared_error_of_the_books_rnn_step():
    """Step 59: a (1, 1) prediction against a (1,) target is one squared difference."""
    y = F.mean_squared_error(Variable(np.array([[0.5]])), np.array([0.2]))
    assert float(y.data) == pytest.approx(0.09, rel=1e-12)


@pytest.mark.parametrize("pred_shape,target_shape", TARGET_SHAPES)
@pytest.mark.parametrize("float_targets", [False, True], ids=["labels", "soft"])
def test_sigmoid_cross_entropy_pairs_elements_of_an_n_by_1_prediction_and_n_targets(
    dtype, pred_shape, target_shape, float_targets
):
    x = np.random.default_rng(12).standard_normal(pred_shape).astype(dtype)
    t = _binary_targets(target_shape, float_targets)
    y = F.sigmoid_cross_entropy(x, t)
    p = 1 / (1 + np.exp(-x.ravel().astype(np.float64)))
    tf = t.ravel()
    expected = -np.mean(tf * np.log(p) + (1 - tf) * np.log(1 - p))
    assert y.shape == () and y.dtype == dtype
    np.testing.assert_allclose(y.data, expected, rtol=_fwd_rtol(dtype))
    # t is a constant of the loss (no gradient): only x is checked.
    assert gradient_check(lambda v: F.sigmoid_cross_entropy(v, t), x, **tolerances(dtype))


@pytest.mark.parametrize("pred_shape,target_shape", TARGET_SHAPES)
def test_binary_cross_entropy_pairs_elements_of_an_n_by_1_prediction_and_n_targets(dtype, pred_shape, target_shape):
    p = np.random.default_rng(13).uniform(0.1, 0.9, pred_shape).astype(dtype)
    t = _binary_targets(target_shape, False)
    y = F.binary_cross_entropy(p, t)
    pf, tf = p.ravel().astype(np.float64), t.ravel()
    expected = -np.mean(tf * np.log(pf) + (1 - tf) * np.log(1 - pf))
    assert y.shape == () and y.dtype == dtype
    np.testing.assert_allclose(y.data, expected, rtol=_fwd_rtol(dtype))


@pytest.mark.parametrize("loss", [F.mean_squared_error, F.sigmoid_cross_entropy, F.binary_cross_entropy])
@pytest.mark.parametrize(
    "pred_shape,target_shape", [((4, 1), (2, 2)), ((4, 1), (4, 2)), ((4,), (3,)), ((2, 3), (3, 2))]
)
def test_losses_refuse_targets_that_differ_by_more_than_axes_of_length_1(loss, pred_shape, target_shape):
    x = np.full(pred_shape, 0.5)
    t = np.zeros(target_shape, dtype=np.int64)
    with pytest.raises(
        ValueError, match=rf"{loss.__name__}: .*{pred_shape}.*{target_shape}".replace("(", r"\(").replace(")", r"\)")
    ):
        loss(x, t)


# =============================================================================
# The layer constructors: the PyTorch argument order is caught
# =============================================================================
def test_linear_refuses_pytorchs_in_out_order_and_shows_the_call_meant():
    with pytest.raises(
        TypeError,
        match=r"Linear got out_size=64, nobias=10: nobias must be a bool.*unlike "
        r"PyTorch's \(in, out\) order: for that layer write Linear\(10, in_size=64\)",
    ):
        L.Linear(64, 10)


@pytest.mark.parametrize(
    "make",
    [
        lambda: L.Linear(10, 0),
        lambda: L.Linear(0, 5),
        lambda: L.Conv2d(1, 8, 0, 1, 1),
        lambda: L.Conv2d(1, 8, 3, 1, -1),
    ],
    ids=["Linear(10, 0)", "Linear(0, 5)", "Conv2d stride 0", "Conv2d pad -1"],
)
def test_a_swapped_call_is_suggested_only_when_it_would_build_a_layer(make):
    with pytest.raises(TypeError, match="nobias must be a bool") as raised:
        make()
    assert "for that layer write" not in str(raised.value)


@pytest.mark.parametrize("layer", ["Conv2d", "Deconv2d"])
def test_conv_layers_refuse_pytorchs_order_and_show_the_call_meant(layer):
    cls = getattr(L, layer)
    with pytest.raises(
        TypeError,
        match=rf"{layer} got out_channels=1, kernel_size=32, stride=3, pad=1, "
        rf"nobias=1: nobias must be a bool.*"
        rf"{layer}\(32, kernel_size=3, stride=1, pad=1, in_channels=1\)",
    ):
        cls(1, 32, 3, 1, 1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: L.Linear(3, nobias=1),
        lambda: L.Linear(3, "yes"),
        lambda: L.Conv2d(3, 3, nobias=0),
        lambda: L.Deconv2d(3, 3, 1, 0, None),
    ],
)
def test_nobias_must_be_a_bool(make):
    with pytest.raises(TypeError, match="nobias must be a bool"):
        make()


def test_layer_constructors_keep_the_books_positional_signature():
    layer = L.Linear(3, True, np.float64, 2)  # out_size, nobias, dtype, in_size
    assert layer.b is None and layer.W.shape == (2, 3) and layer.W.dtype == np.float64
    assert L.Linear(3, np.bool_(False)).b is not None
    conv = L.Conv2d(4, 3, 2, 1, True, np.float64, 2)  # out, kernel, stride, pad, nobias, dtype, in_channels
    assert conv.b is None and conv.W.shape == (4, 2, 3, 3) and conv.stride == 2 and conv.pad == 1
    deconv = L.Deconv2d(4, 3, 1, 0, False, np.float32, 2)
    assert deconv.b is not None and deconv.W.shape == (2, 4, 3, 3)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: L.Linear(3, False, "int64"), r"Linear: dtype must be a floating-point type, got int64"),
        (lambda: L.Linear(3, False, np.float32, 2.5), r"Linear: in_size must be a positive int, got float 2.5"),
        (
            lambda: L.Conv2d(3, 3, 1, 0, False, np.float32, "3"),
            r"Conv2d: in_channels must be a positive int, got str '3'",
        ),
    ],
)
def test_layer_constructors_check_the_arguments_after_nobias(make, message):
    with pytest.raises(TypeError, match=message):
        make()


# =============================================================================
# Top-level names
# =============================================================================
def test_dezero_has_the_books_top_level_names():
    from dezero.core import Function, Parameter, Variable as CoreVariable
    from dezero.datasets import Dataset

    assert dezero.is_simple_core is False  # dezero itself always runs on the full core
    assert dezero.Variable is CoreVariable and dezero.Function is Function and dezero.Parameter is Parameter
    assert dezero.Dataset is Dataset
    assert callable(dezero.setup_variable) and dezero.test_mode and dezero.no_grad and dezero.using_config
    from dezero import core_simple

    assert core_simple.Variable is not CoreVariable


def test_variable_dot_and_matmul_are_the_matrix_product():
    rng = np.random.default_rng(15)
    a, b = Variable(rng.standard_normal((2, 3))), Variable(rng.standard_normal((3, 4)))
    for product in (a.dot(b), a.matmul(b), a @ b):
        np.testing.assert_allclose(product.data, a.data @ b.data, rtol=1e-12)
    a.dot(b).backward()
    np.testing.assert_allclose(a.grad.data, np.ones((2, 4)) @ b.data.T, rtol=1e-12)


def test_utils_array_allclose_broadcasts_as_numpy_does():
    from dezero.utils import array_allclose

    y = Variable(np.array([[1.0, 2.0]]))
    assert array_allclose(y, np.array([1.0, 2.0]))  # (1, 2) against (2,)
    assert array_allclose(np.full((3, 2), 5.0), 5.0)
    assert not array_allclose(y, np.array([1.0, 2.1]))
    assert array_allclose(np.array([1.0]), np.array([1.0 + 1e-6]))  # the book's default tolerances
    assert not array_allclose(np.array([1.0, 2.0]), np.array([1.0, 2.0, 3.0]))  # cannot broadcast: not close


def test_utils_array_equal_needs_equal_shapes_as_numpy_does():
    from dezero.utils import array_equal

    assert array_equal(Variable(np.arange(3)), np.arange(3))
    assert not array_equal(np.array([[1, 2]]), np.array([1, 2]))
    assert not array_equal(np.arange(3), np.array([0, 1, 3]))


def test_batch_nrom_is_batch_norm_under_the_books_spelling():
    """The book's functions.py and its tests call F.batch_nrom."""
    assert F.batch_nrom is F.batch_norm
    x = np.random.default_rng(16).standard_normal((4, 3))
    gamma, beta, mean, var = np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)
    with dezero.test_mode():
        y = F.batch_nrom(x, gamma, beta, mean, var)
    np.testing.assert_allclose(y.data, x / np.sqrt(1 + 2e-5), rtol=1e-12)


def test_functions_conv_is_the_books_module_name_for_the_conv_functions():
    import importlib

    from dezero import functions_conv

    # (dezero.functions.pooling the module: F.pooling is the function of that name)
    conv, pooling = (importlib.import_module(f"dezero.functions.{m}") for m in ("conv", "pooling"))
    for name in conv.__all__ + pooling.__all__ + ["im2col_array", "col2im_array"]:
        if name != "max_pooling":  # not a name of the book
            source = conv if hasattr(conv, name) else pooling
            assert getattr(functions_conv, name) is getattr(source, name)
    x = np.random.default_rng(17).standard_normal((1, 2, 5, 5))
    W = np.random.default_rng(18).standard_normal((3, 2, 3, 3))
    np.testing.assert_allclose(
        functions_conv.conv2d_simple(x, W, pad=1).data, functions_conv.conv2d(x, W, pad=1).data, rtol=1e-12
    )


BOOK_CONV_CLASSES = {
    "Conv2d": "conv.Conv2D",
    "Deconv2d": "conv.Deconv2D",
    "Conv2DGradW": "conv.Conv2DGradW",
    "Im2col": "conv.Im2col",
    "Col2im": "conv.Col2im",
    "Pooling": "pooling.Pooling2D",
    "Pooling2DGrad": "pooling.Pooling2DGrad",
    "Pooling2DWithIndexes": "pooling.Pooling2DWithIndexes",
    "AveragePooling": "pooling.AveragePooling2D",
}


def test_functions_conv_has_the_books_function_classes_under_the_books_names():
    import importlib

    from dezero import functions_conv

    for book_name, where in BOOK_CONV_CLASSES.items():
        module, name = where.split(".")
        assert getattr(functions_conv, book_name) is getattr(
            importlib.import_module(f"dezero.functions.{module}"), name
        )
        assert book_name in functions_conv.__all__


_IMG = np.random.default_rng(21).standard_normal((2, 3, 7, 7))
_K = np.random.default_rng(22).standard_normal((4, 3, 3, 3))
_KT = np.random.default_rng(23).standard_normal((3, 4, 3, 3))
_KB = np.random.default_rng(24).standard_normal(4)


def _book_conv_calls():
    from dezero import functions_conv as C

    return {
        "Conv2d": (lambda: C.Conv2d(1, 1)(_IMG, _K, _KB), lambda: F.conv2d(_IMG, _K, _KB, 1, 1)),
        "Conv2d defaults": (lambda: C.Conv2d()(_IMG, _K, None), lambda: F.conv2d(_IMG, _K)),
        "Conv2d pairs": (
            lambda: C.Conv2d((2, 1), (0, 1))(_IMG, _K, _KB),
            lambda: F.conv2d(_IMG, _K, _KB, (2, 1), (0, 1)),
        ),
        "Deconv2d": (lambda: C.Deconv2d(2, 1)(_IMG, _KT, None), lambda: F.deconv2d(_IMG, _KT, None, 2, 1)),
        "Deconv2d outsize": (
            lambda: C.Deconv2d(2, 1, (14, 14))(_IMG, _KT, _KB),
            lambda: F.deconv2d(_IMG, _KT, _KB, 2, 1, outsize=(14, 14)),
        ),
        "Pooling": (lambda: C.Pooling(2, 2)(_IMG), lambda: F.pooling(_IMG, 2, 2)),
        "Pooling defaults": (lambda: C.Pooling(3)(_IMG), lambda: F.pooling(_IMG, 3)),
        "AveragePooling": (lambda: C.AveragePooling(3, 2, 1)(_IMG), lambda: F.average_pooling(_IMG, 3, 2, 1)),
        "Im2col": (lambda: C.Im2col(3, 2, 1, True)(_IMG), lambda: F.im2col(_IMG, 3, 2, 1, True)),
        "Col2im": (
            lambda: C.Col2im(_IMG.shape, 3, 1, 0, False)(np.ones((2, 3, 3, 3, 5, 5))),
            lambda: F.col2im(np.ones((2, 3, 3, 3, 5, 5)), _IMG.shape, 3, 1, 0, False),
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["Conv2d", "Conv2d defaults", "Conv2d pairs", "Deconv2d", "Deconv2d outsize", "Pooling", "Pooling defaults"]
    + ["AveragePooling", "Im2col", "Col2im"],
)
def test_the_books_call_of_a_conv_class_gives_what_the_function_gives(case):
    book_call, function = _book_conv_calls()[case]
    expected = function().data
    y = book_call()
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)


def test_the_books_gradient_classes_take_the_forward_function():
    """Conv2DGradW(conv), Pooling2DGrad(pool) and Pooling2DWithIndexes(pool), as
    the book builds them in its backward passes."""
    from dezero import functions_conv as C

    conv = C.Conv2d(1, 1)
    x, W = Variable(_IMG.copy()), Variable(_K.copy())
    y = conv(x, W, None)
    gy = np.random.default_rng(25).standard_normal(y.shape)
    y.backward(grad=gy)
    gW = C.Conv2DGradW(conv)(_IMG, gy)
    np.testing.assert_allclose(gW.data, W.grad.data, rtol=1e-10)

    pool = C.Pooling(2, 2)
    x = Variable(_IMG.copy())
    y = pool(x)
    gy = np.random.default_rng(26).standard_normal(y.shape)
    y.backward(grad=gy)
    np.testing.assert_array_equal(C.Pooling2DGrad(pool)(gy).data, x.grad.data)
    # the forward's choices, replayed on another input of the same shape
    other = _IMG[:, :, ::-1].copy()
    picked = C.Pooling2DWithIndexes(pool)(other).data
    windows = other[:, :, :6, :6].reshape(2, 3, 3, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 3, 3, 4)
    chosen = pool.indexes.astype(np.intp)[..., None]
    np.testing.assert_array_equal(picked, np.take_along_axis(windows, chosen, axis=-1)[..., 0])


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda C: C.Conv2d(0), "Conv2D: stride must be positive"),
        (lambda C: C.Conv2d(1, 1.5), "Conv2D: pad must be an int or a pair of ints"),
        (lambda C: C.Deconv2d(1, 0, (0, 4)), "Deconv2D: outsize must be positive"),
        (lambda C: C.Pooling(2, 2, 3), "Pooling2D: pad (3, 3) must be at most half the kernel"),
        (lambda C: C.AveragePooling((2, 2, 2)), "AveragePooling2D: kernel_size must be an int or a pair of ints"),
    ],
)
def test_conv_classes_refuse_bad_window_arguments_naming_the_class(make, message):
    import re

    from dezero import functions_conv

    with pytest.raises(ValueError, match=re.escape(message)):
        make(functions_conv)


@pytest.mark.parametrize("axis,expected", [(None, [1, 1, 1]), (1, [2, 1, 4]), ((0, 2), [1, 3, 1]), (-1, [2, 3, 1])])
def test_utils_max_backward_shape_keeps_the_reduced_axes_as_ones(axis, expected):
    from dezero.utils import max_backward_shape

    x = np.random.default_rng(19).standard_normal((2, 3, 4))
    assert max_backward_shape(x, axis) == expected
    assert list(np.max(x, axis=axis, keepdims=True).shape) == expected


def test_transforms_to_pil_is_to_pil_image_under_the_books_name():
    pytest.importorskip("PIL")
    from dezero import transforms

    assert transforms.ToPIL is transforms.ToPILImage
    x = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(3, 2, 3) * 10  # (C, H, W)
    image = transforms.ToPIL()(x)
    assert image.size == (3, 2)  # (width, height)
    np.testing.assert_array_equal(transforms.ToArray(np.uint8)(image), x)


# =============================================================================
# The book's Function classes under dezero.functions
# =============================================================================
BOOK_FUNCTION_CLASSES = {
    "math": ["Sin", "Cos", "Tanh", "Exp", "Log"],
    "array": ["Reshape", "Transpose", "GetItem", "GetItemGrad", "Sum", "SumTo", "BroadcastTo", "MatMul"]
    + ["Max", "Min", "Clip"],
    "connection": ["Linear"],
    "activation": ["Sigmoid", "ReLU", "Softmax", "LogSoftmax", "LeakyReLU"],
    "loss": ["MeanSquaredError", "SoftmaxCrossEntropy"],
    "normalization": ["BatchNorm"],
}


def test_functions_has_the_books_function_classes_outside_the_list_of_functions():
    import importlib

    from dezero import Function

    for module_name, names in BOOK_FUNCTION_CLASSES.items():
        module = importlib.import_module(f"dezero.functions.{module_name}")
        for name in names:
            assert getattr(F, name) is getattr(module, name)
            assert issubclass(getattr(F, name), Function)
            # __all__ lists the functions that every op test must cover
            assert name not in module.__all__


_RNG = np.random.default_rng(20)
_X = _RNG.standard_normal((3, 4))
_POS = np.abs(_X) + 0.5
_W = _RNG.standard_normal((4, 2))
_B = _RNG.standard_normal(2)
_T = np.array([0, 3, 1])

# (the book's call, the function it must equal); each builds a new Function,
# as one object can be called once.
BOOK_CALLS = {
    "Sin": (lambda: F.Sin()(_X), lambda: F.sin(_X)),
    "Cos": (lambda: F.Cos()(_X), lambda: F.cos(_X)),
    "Tanh": (lambda: F.Tanh()(_X), lambda: F.tanh(_X)),
    "Exp": (lambda: F.Exp()(_X), lambda: F.exp(_X)),
    "Log": (lambda: F.Log()(_POS), lambda: F.log(_POS)),
    "Reshape": (lambda: F.Reshape((2, 6))(_X), lambda: F.reshape(_X, (2, 6))),
    "Transpose": (lambda: F.Transpose()(_X), lambda: F.transpose(_X)),
    "GetItem": (lambda: F.GetItem(1)(_X), lambda: F.get_item(_X, 1)),
    "GetItemGrad": (lambda: F.GetItemGrad(1, (3, 4))(_X[0]), lambda: np.eye(3)[:, 1:2] * _X[0]),
    "Sum": (lambda: F.Sum(0, True)(_X), lambda: F.sum(_X, 0, True)),
    "SumTo": (lambda: F.SumTo((1, 4))(_X), lambda: F.sum_to(_X, (1, 4))),
    "BroadcastTo": (lambda: F.BroadcastTo((2, 3, 4))(_X), lambda: F.broadcast_to(_X, (2, 3, 4))),
    "MatMul": (lambda: F.MatMul()(_X, _W), lambda: F.matmul(_X, _W)),
    "Linear": (lambda: F.Linear()(_X, _W, _B), lambda: F.linear(_X, _W, _B)),
    "Linear without bias": (lambda: F.Linear()(_X, _W, None), lambda: F.linear(_X, _W)),
    "Sigmoid": (lambda: F.Sigmoid()(_X), lambda: F.sigmoid(_X)),
    "ReLU": (lambda: F.ReLU()(_X), lambda: F.relu(_X)),
    "Softmax": (lambda: F.Softmax()(_X), lambda: F.softmax(_X, axis=1)),
    "LogSoftmax": (lambda: F.LogSoftmax()(_X), lambda: F.log_softmax(_X, axis=1)),
    "LeakyReLU": (lambda: F.LeakyReLU(0.1)(_X), lambda: F.leaky_relu(_X, 0.1)),
    "MeanSquaredError": (lambda: F.MeanSquaredError()(_X, _POS), lambda: F.mean_squared_error(_X, _POS)),
    "SoftmaxCrossEntropy": (lambda: F.SoftmaxCrossEntropy()(_X, _T), lambda: F.softmax_cross_entropy(_X, _T)),
    "Max": (lambda: F.Max()(_X), lambda: F.max(_X)),
    "Max over an axis": (lambda: F.Max(1, True)(_X), lambda: F.max(_X, 1, True)),
    "Min": (lambda: F.Min()(_X), lambda: F.min(_X)),
    "Clip": (lambda: F.Clip(-0.5, 0.5)(_X), lambda: F.clip(_X, -0.5, 0.5)),
}


@pytest.mark.parametrize("case", list(BOOK_CALLS))
def test_the_books_call_of_a_function_class_gives_what_the_function_gives(case):
    book_call, function = BOOK_CALLS[case]
    expected = function()
    expected = expected.data if isinstance(expected, Variable) else expected
    y = book_call()
    assert isinstance(y, Variable) and y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)


def test_the_books_call_of_a_function_class_gives_the_functions_gradient():
    a, b = Variable(_X.copy()), Variable(_X.copy())
    F.Softmax()(a).backward(grad=_POS)
    F.softmax(b).backward(grad=_POS)
    np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-12)
    a, b = Variable(_X.copy()), Variable(_X.copy())
    F.Max()(a).backward()
    F.max(b).backward()
    np.testing.assert_array_equal(a.grad.data, b.grad.data)


def test_none_is_an_absent_bias_and_an_error_as_any_other_input():
    with pytest.raises(TypeError, match="MatMul: input 1 has unsupported type NoneType"):
        F.MatMul()(_X, None)
    with pytest.raises(TypeError, match="Linear: input 1 has unsupported type NoneType"):
        F.Linear()(_X, None, _B)


def test_batch_norm_class_in_training_mode_updates_the_running_statistics():
    x = _X.astype(np.float32)
    mean, var = np.zeros(4, np.float32), np.ones(4, np.float32)
    gamma, beta = np.ones(4, np.float32), np.zeros(4, np.float32)
    y = F.BatchNorm(mean, var, 0.9, 2e-5)(x, gamma, beta)
    np.testing.assert_allclose(y.data, (x - x.mean(0)) / np.sqrt(x.var(0) + 2e-5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean, 0.1 * x.mean(0), rtol=1e-5)


def test_batch_norm_class_in_test_mode_uses_the_running_statistics_and_keeps_them():
    """The book's BatchNorm reads dezero.Config.train itself, as F.batch_norm does."""
    x = _X.astype(np.float32)
    mean, var = np.full(4, 0.5, np.float32), np.full(4, 4.0, np.float32)
    gamma = Variable(np.full(4, 2.0, np.float32))
    with dezero.test_mode():
        a = Variable(x.copy())
        y = F.BatchNorm(mean, var, 0.9, 2e-5)(a, gamma, np.zeros(4, np.float32))
        y.backward(grad=np.ones_like(x))
        b, gamma_b = Variable(x.copy()), Variable(gamma.data.copy())
        F.batch_norm(b, gamma_b, np.zeros(4, np.float32), mean, var).backward(grad=np.ones_like(x))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, 2.0 * (x - 0.5) / np.sqrt(4.0 + 2e-5), rtol=1e-6)
    np.testing.assert_array_equal(mean, 0.5)  # not updated in test mode
    np.testing.assert_array_equal(var, 4.0)
    np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-6)
    np.testing.assert_allclose(gamma.grad.data, gamma_b.grad.data, rtol=1e-6)


# =============================================================================
# The reflected operators under the book's names
# =============================================================================
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rsub_and_rdiv_swap_their_operands_and_are_what_the_reflected_operators_call(dtype):
    x = Variable(np.array([1.0, 4.0], dtype=dtype))
    np.testing.assert_array_equal(F.rsub(x, 2.0).data, np.array([1.0, -2.0], dtype=dtype))
    np.testing.assert_array_equal(F.rdiv(x, 2.0).data, np.array([2.0, 0.5], dtype=dtype))
    assert F.rsub(x, 2.0).dtype == dtype and F.rdiv(x, 2.0).dtype == dtype
    assert Variable.__rsub__ is F.rsub and Variable.__rtruediv__ is F.rdiv
    F.sum(F.rdiv(x, 2.0)).backward()  # d(2/x)/dx = -2/x^2
    np.testing.assert_allclose(x.grad.data, -2.0 / np.array([1.0, 16.0]), rtol=1e-6)
