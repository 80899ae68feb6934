"""sigmoid, relu, leaky_relu, softmax, log_softmax: every case runs the op
harness (forward against closed forms, backward and double backward against
numerical gradients, float32/float64, NumPy/CuPy, strided, read-only and
untouched inputs); below the cases, the behaviour the harness does not express:
extreme inputs, the gradient at the kink, argument errors, PyTorch."""

import warnings

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero.backend import as_numpy
from tests.op_harness import OpCase, OpTests, away_from_zero, normal

SHAPES = [(1,), (5,), (2, 3), (2, 3, 2)]


def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(x, axis):
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


SOFTMAX_CASES = [
    ((1, 4), 1),  # batch of 1
    ((3, 4), 1),
    ((3, 4), 0),
    ((3, 4), -1),
    ((2, 3, 2), 1),
    ((2, 3, 2), 2),
    ((5,), 0),
]


class TestActivationOps(OpTests):
    cases = [
        *[
            OpCase(f"sigmoid{shape}", F.sigmoid, [normal(shape)], lambda x: 1.0 / (1.0 + np.exp(-x)))
            for shape in SHAPES
        ],
        # relu and leaky_relu have a kink at 0: the inputs keep |x| >= 0.1. Being
        # piecewise linear, their second derivative is zero, and the check agrees.
        *[
            OpCase(f"relu{shape}", F.relu, [away_from_zero(shape)], lambda x: np.maximum(x, 0), kinks=(0.0,))
            for shape in SHAPES
        ],
        *[
            OpCase(
                f"leaky_relu{shape}, slope={slope}",
                lambda x, slope=slope: F.leaky_relu(x, slope=slope),
                [away_from_zero(shape)],
                lambda x, slope=slope: np.where(x > 0, x, slope * x),
                op=F.leaky_relu,
                kinks=(0.0,),
            )
            for shape in SHAPES
            for slope in (0.2, 0.01)
        ],
        *[
            OpCase(
                f"softmax({shape}, axis={axis})",
                lambda x, axis=axis: F.softmax(x, axis=axis),
                [normal(shape)],
                lambda x, axis=axis: _np_softmax(x, axis),
                op=F.softmax,
            )
            for shape, axis in SOFTMAX_CASES
        ],
        *[
            OpCase(
                f"log_softmax({shape}, axis={axis})",
                lambda x, axis=axis: F.log_softmax(x, axis=axis),
                [normal(shape)],
                lambda x, axis=axis: _np_log_softmax(x, axis),
                op=F.log_softmax,
            )
            for shape, axis in SOFTMAX_CASES
        ],
        # The book's versions composed of differentiable ops: same values, other graphs.
        *[
            OpCase(f"sigmoid_simple{shape}", F.sigmoid_simple, [normal(shape)], lambda x: 1.0 / (1.0 + np.exp(-x)))
            for shape in SHAPES
        ],
        *[
            OpCase(
                f"softmax_simple({shape}, axis={axis})",
                lambda x, axis=axis: F.softmax_simple(x, axis=axis),
                [normal(shape)],
                lambda x, axis=axis: _np_softmax(x, axis),
                op=F.softmax_simple,
            )
            for shape, axis in SOFTMAX_CASES
        ],
    ]


# --- sigmoid, relu, leaky_relu ----------------------------------------------------------
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


def test_relu_gradient_is_mask(xp):
    x = dezero.Variable(xp.asarray([-2.0, -0.0, 0.0, 3.0, 0.5]))
    gy = xp.asarray([1.0, 2.0, 3.0, 4.0, 5.0])
    gx = dezero.grad(F.relu(x), x, grad_outputs=gy)
    np.testing.assert_array_equal(as_numpy(gx.data), [0.0, 0.0, 0.0, 4.0, 5.0])


def test_leaky_relu_default_slope_and_float64_scalar_keeps_float32():
    x = np.array([-1.0, 2.0], dtype=np.float32)
    np.testing.assert_allclose(F.leaky_relu(x).data, [-0.2, 2.0], rtol=1e-6)
    y = F.leaky_relu(x, np.float64(0.3))
    assert y.dtype == np.float32
    xv = dezero.Variable(x)
    F.leaky_relu(xv, np.float64(0.3)).backward()
    assert xv.grad.dtype == np.float32
    np.testing.assert_allclose(xv.grad.data, [0.3, 1.0], rtol=1e-6)


@pytest.mark.parametrize("slope", [np.float64(0.2), np.array(0.2), dezero.Variable(np.array(0.2))])
def test_the_leaky_relu_class_with_a_numpy_slope_keeps_float32(slope):
    # Before: LeakyReLU(np.float64(0.2))(x32), the book's class, gave float64.
    x = dezero.Variable(np.array([-1.0, 2.0], dtype=np.float32))
    y = F.LeakyReLU(slope)(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, [-0.2, 2.0], rtol=1e-6)
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, [0.2, 1.0], rtol=1e-6)


def test_leaky_relu_refuses_a_slope_that_is_no_number():
    with pytest.raises(TypeError, match="leaky_relu: slope must be a real number, got str"):
        F.leaky_relu(np.ones(2), "0.2")
    with pytest.raises(TypeError, match="leaky_relu: slope must be a real number, got ndarray"):
        F.LeakyReLU(np.array([0.1, 0.2]))


# --- softmax / log_softmax --------------------------------------------------------------
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


@pytest.mark.parametrize(
    "op, name",
    [
        (F.softmax, "softmax"),
        (F.log_softmax, "log_softmax"),
        (F.softmax_simple, "softmax_simple"),
        (lambda x: F.Softmax(1)(x), "Softmax"),
        (lambda x: F.LogSoftmax(1)(x), "LogSoftmax"),
    ],
)
@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_softmax_of_integers_or_bools_is_refused_naming_the_op(op, name, dtype):
    # Before: NumPy's UFuncTypeError about casting the output of 'exp'.
    x = dezero.Variable(np.array([[1, 0]], dtype=dtype))
    with pytest.raises(TypeError, match=f"{name}: x must hold floating-point numbers, got dtype {np.dtype(dtype)}"):
        op(x)


@pytest.mark.parametrize("size", [3, 300_000])  # the large one goes through dezero.parallel's threads
def test_relu_of_bools_is_refused_naming_the_op(size):
    with pytest.raises(TypeError, match="relu: x must hold real numbers, got dtype bool"):
        F.relu(dezero.Variable(np.ones(size, dtype=bool)))
    np.testing.assert_array_equal(F.relu(np.array([-2, 3])).data, [0, 3])  # integers are numbers


@pytest.mark.parametrize("cls", [F.Softmax, F.LogSoftmax])
def test_the_softmax_classes_check_their_axis(cls):
    # Before: NumPy's AxisError, or a TypeError about a str, naming no op.
    name = cls.__name__
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=rf"{name}: axis 5 is out of range for x of shape \(2, 3\)"):
        cls(5)(x)
    with pytest.raises(TypeError, match=f"{name}: axis must be an int, got str 'a'"):
        cls("a")(x)
    y = cls(-1)(np.log(np.array([[1.0, 3.0]])))
    expected = [[0.25, 0.75]] if cls is F.Softmax else np.log([[0.25, 0.75]])
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)


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
