"""Losses and accuracy: every case runs the op harness (forward against NumPy
references, backward and double backward against numerical gradients,
float32/float64, NumPy/CuPy, strided, read-only and untouched inputs); below
the cases, closed forms, extreme inputs, argument errors and PyTorch."""

import warnings

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero.backend import as_numpy
from tests.op_harness import OpCase, OpTests, integers, normal, uniform


def _fwd_rtol(dtype):
    return 1e-5 if dtype == np.float32 else 1e-12


# =============================================================================
# References (NumPy, float64)
# =============================================================================
def _np_mse(x0, x1):
    return np.sum((x0 - x1) ** 2) / len(x0)


def _np_softmax_ce(x, t):
    x = x.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    log_p = x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    return -np.mean(log_p[np.arange(len(t)), t])


def _np_sigmoid_ce(x, t):
    p = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    return -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))


def _np_binary_ce(p, t):
    return -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))


def _accuracy_loop(y, t):
    """One comparison per label: the class with the highest score on axis 1."""
    hits = [np.argmax(y[(index[0], slice(None)) + index[1:]]) == t[index] for index in np.ndindex(*t.shape)]
    return np.mean(hits)


MSE_SHAPES = [(1, 1), (4, 1), (4,), (3, 2), (2, 3, 2)]
SCE_CASES = [(1, 3), (4, 3), (5, 7), (3, 1)]
BINARY_SHAPES = [(1,), (4,), (4, 1), (2, 3)]
# binary_cross_entropy: probabilities well inside (0, 1), away from the clip
# at 1e-7; float32 takes a smaller step so that p +- eps stays there too.
BCE_EPS = {np.float32: 1e-3}


class TestLossOps(OpTests):
    cases = [
        *[
            OpCase(f"mean_squared_error{shape}", F.mean_squared_error, [normal(shape), normal(shape)], _np_mse)
            for shape in MSE_SHAPES
        ],
        *[
            OpCase(
                f"softmax_cross_entropy(n={n}, c={c})",
                F.softmax_cross_entropy,
                [normal((n, c)), integers((n,), c)],
                _np_softmax_ce,
            )
            for n, c in SCE_CASES
        ],
        *[
            OpCase(
                f"sigmoid_cross_entropy{shape}",
                F.sigmoid_cross_entropy,
                [normal(shape, scale=2.0), integers(shape, 2)],
                _np_sigmoid_ce,
            )
            for shape in BINARY_SHAPES
        ],
        # Soft targets are floats, but not differentiated.
        OpCase(
            "sigmoid_cross_entropy(soft targets)",
            F.sigmoid_cross_entropy,
            [normal((3, 2), scale=2.0), uniform((3, 2), 0.0, 1.0)],
            _np_sigmoid_ce,
            differentiable_inputs=(0,),
        ),
        *[
            OpCase(
                f"binary_cross_entropy{shape}",
                F.binary_cross_entropy,
                [uniform(shape, 0.2, 0.8), integers(shape, 2)],
                _np_binary_ce,
                eps=BCE_EPS,
            )
            for shape in BINARY_SHAPES
        ],
        OpCase(
            "binary_cross_entropy(soft targets)",
            F.binary_cross_entropy,
            [uniform((3, 2), 0.2, 0.8), uniform((3, 2), 0.0, 1.0)],
            _np_binary_ce,
            differentiable_inputs=(0,),
            eps=BCE_EPS,
        ),
        # The book's composed versions (step 43 and 47).
        *[
            OpCase(
                f"mean_squared_error_simple{shape}",
                F.mean_squared_error_simple,
                [normal(shape), normal(shape)],
                _np_mse,
            )
            for shape in MSE_SHAPES
        ],
        *[
            OpCase(
                f"softmax_cross_entropy_simple(n={n}, c={c})",
                F.softmax_cross_entropy_simple,
                [normal((n, c)), integers((n,), c)],
                _np_softmax_ce,
            )
            for n, c in SCE_CASES
        ],
        # A metric: checked for its value, dtype and inputs, never differentiated.
        OpCase(
            "accuracy(n=20, c=5)",
            F.accuracy,
            [normal((20, 5)), integers((20,), 5)],
            _accuracy_loop,
            differentiable_inputs=(),
        ),
        OpCase(
            "accuracy(classes on axis 1 of (4, 3, 2))",
            F.accuracy,
            [normal((4, 3, 2)), integers((4, 2), 3)],
            _accuracy_loop,
            differentiable_inputs=(),
        ),
    ]


# --- mean_squared_error --------------------------------------------------------------------
def test_mse_gradient_closed_form_float32():
    x0 = dezero.Variable(np.array([[1.0], [2.0], [4.0], [0.0]], dtype=np.float32))
    x1 = np.array([[0.0], [0.0], [1.0], [1.0]], dtype=np.float32)
    y = F.mean_squared_error(x0, x1)
    y.backward()
    assert y.data == pytest.approx((1 + 4 + 9 + 1) / 4)
    assert x0.grad.dtype == np.float32
    np.testing.assert_allclose(x0.grad.data, 2 * (x0.data - x1) / 4)


@pytest.mark.parametrize("loss", [F.mean_squared_error, F.mean_squared_error_simple])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint8])
def test_mse_of_integer_inputs_is_the_exact_mean_in_float64(loss, dtype):
    # Before: cast back to the inputs' integer dtype, 2.5 became 2.
    x0 = np.array([[1], [2]], dtype=dtype)
    x1 = np.array([[0], [0]], dtype=dtype)
    y = loss(x0, x1)
    assert y.dtype == np.float64 and y.data == 2.5
    # Differences and squares that the integer dtype cannot hold do not wrap.
    a = dezero.Variable(np.array([[1], [100], [2]], dtype=dtype))
    y = loss(a, np.array([[2], [0], [2]], dtype=dtype))
    assert y.data == pytest.approx((1 + 10_000 + 0) / 3, rel=1e-15)
    y.backward()
    assert a.grad is None  # a floating gradient stops at an integer Variable


def test_mse_shape_mismatch_is_an_error():
    # Shapes that differ by more than axes of length 1 would broadcast to a wrong loss.
    with pytest.raises(ValueError, match=r"mean_squared_error: .*\(4, 1\).*\(2, 2\)"):
        F.mean_squared_error(np.zeros((4, 1)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="mean_squared_error"):
        F.mean_squared_error(np.array(1.0), np.array(2.0))


# --- softmax_cross_entropy ------------------------------------------------------------------
def _labels(rng, n, c):
    return rng.integers(0, c, size=n).astype(np.int64)


def test_softmax_cross_entropy_gradient_closed_form(dtype):
    x = dezero.Variable(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=dtype))
    t = np.array([2, 0])
    F.softmax_cross_entropy(x, t).backward()
    e = np.exp(x.data.astype(np.float64))
    p = e / e.sum(axis=1, keepdims=True)
    p[[0, 1], t] -= 1
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad.data, p / 2, rtol=_fwd_rtol(dtype) * 10)


def test_softmax_cross_entropy_accepts_variable_labels_and_int32():
    x = np.random.default_rng(4).standard_normal((3, 4))
    t = np.array([3, 0, 1], dtype=np.int32)
    y = F.softmax_cross_entropy(dezero.Variable(x), dezero.Variable(t))
    np.testing.assert_allclose(y.data, _np_softmax_ce(x, t), rtol=1e-12)


def test_softmax_cross_entropy_huge_logits_finite(dtype):
    x = dezero.Variable(np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]], dtype=dtype))
    t = np.array([2, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.softmax_cross_entropy(x, t)
        y.backward()
    # Row 0: -log softmax = 2e4 for the label; row 1: 0.
    assert np.isfinite(y.data) and y.data == pytest.approx(1e4, rel=1e-6)
    assert np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(x.grad.data, [[0.5, 0.0, -0.5], [0.0, 0.0, 0.0]], atol=1e-7)


def test_softmax_cross_entropy_bad_arguments():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: label 4 is out of range \[0, 4\)"):
        F.softmax_cross_entropy(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: label -1 is out of range"):
        F.softmax_cross_entropy(x, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: t must have shape \(3,\)"):
        F.softmax_cross_entropy(x, np.array([[0], [1], [2]]))
    with pytest.raises(TypeError, match="softmax_cross_entropy: t must hold integer class labels"):
        F.softmax_cross_entropy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: x must be 2-D \(N, C\)"):
        F.softmax_cross_entropy(np.zeros(4), np.array([0]))
    with pytest.raises(TypeError, match="softmax_cross_entropy: x must be a floating-point"):
        F.softmax_cross_entropy(np.zeros((3, 4), dtype=np.int64), np.array([0, 1, 2]))


def test_the_softmax_cross_entropy_class_keeps_list_labels_integer():
    # Before: SoftmaxCrossEntropy()(x, [0, 2]), the book's class, gave the list
    # x's float dtype and failed in NumPy's indexing.
    x = np.random.default_rng(6).standard_normal((2, 3))
    for t in ([0, 2], (0, 2)):
        xv = dezero.Variable(x.copy())
        y = F.SoftmaxCrossEntropy()(xv, t)
        np.testing.assert_allclose(y.data, _np_softmax_ce(x, np.array([0, 2])), rtol=1e-12)
        y.backward()
        expected = F.softmax_cross_entropy(dezero.Variable(x.copy()), np.array([0, 2]))
        np.testing.assert_allclose(y.data, expected.data, rtol=0)
    x32 = dezero.Variable(x.astype(np.float32))
    assert F.SoftmaxCrossEntropy()(x32, [0, 2]).dtype == np.float32


@pytest.mark.parametrize(
    "x, t, error, match",
    [
        (np.zeros((2, 3)), np.array([0.0, 2.0]), TypeError, "t must hold integer class labels, got dtype float64"),
        (np.zeros((2, 3)), np.array([0, 3]), ValueError, r"label 3 is out of range \[0, 3\)"),
        (np.zeros((2, 3)), np.array([-1, 0]), ValueError, r"label -1 is out of range \[0, 3\)"),
        (np.zeros((2, 3)), np.array([0, 1, 2]), ValueError, r"t must have shape \(2,\)"),
        (np.zeros(3), np.array([0]), ValueError, r"x must be 2-D \(N, C\)"),
        (np.zeros((2, 3), dtype=np.int64), [0, 1], TypeError, "x must be a floating-point array, got dtype int64"),
    ],
)
def test_the_softmax_cross_entropy_class_refuses_what_the_function_refuses(x, t, error, match):
    # Before: a label of -1 picked the last class silently, and the others failed in NumPy.
    with pytest.raises(error, match="SoftmaxCrossEntropy: " + match):
        F.SoftmaxCrossEntropy()(x, t)


def test_softmax_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((6, 5)) * 5, _labels(rng, 6, 5)
    xv = dezero.Variable(x.copy())
    y = F.softmax_cross_entropy(xv, t)
    y.backward()
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.cross_entropy(xt, torch.tensor(t))
    yt.backward()
    assert float(y.data) == pytest.approx(float(yt.detach()), rel=1e-12)
    np.testing.assert_allclose(xv.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-14)


# --- sigmoid_cross_entropy ---------------------------------------------------------------
def test_sigmoid_cross_entropy_soft_targets():
    x = np.array([0.5, -1.0, 2.0])
    t = np.array([0.25, 0.5, 1.0])
    np.testing.assert_allclose(F.sigmoid_cross_entropy(x, t).data, _np_sigmoid_ce(x, t), rtol=1e-12)


def test_sigmoid_cross_entropy_extreme_logits(dtype):
    x = dezero.Variable(np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype=dtype))
    t = np.array([1, 0, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.sigmoid_cross_entropy(x, t)
        y.backward()
    # Two right answers (loss 0) and two confidently wrong ones (loss 1000 each).
    assert y.data == pytest.approx(500.0, rel=1e-6)
    np.testing.assert_allclose(x.grad.data, [0.0, 0.0, 0.25, -0.25], atol=1e-7)


def test_sigmoid_cross_entropy_bad_arguments():
    with pytest.raises(ValueError, match=r"sigmoid_cross_entropy: .*\(4, 1\).*\(3,\)"):
        F.sigmoid_cross_entropy(np.zeros((4, 1)), np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="sigmoid_cross_entropy: integer labels t must be 0 or 1"):
        F.sigmoid_cross_entropy(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"sigmoid_cross_entropy: targets t must lie in \[0, 1\]"):
        F.sigmoid_cross_entropy(np.zeros(2), np.array([0.5, 1.5]))


def test_sigmoid_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x, t = rng.standard_normal((5, 2)) * 4, rng.integers(0, 2, size=(5, 2))
    xv = dezero.Variable(x.copy())
    y = F.sigmoid_cross_entropy(xv, t)
    y.backward()
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.binary_cross_entropy_with_logits(xt, torch.tensor(t, dtype=torch.float64))
    yt.backward()
    assert float(y.data) == pytest.approx(float(yt.detach()), rel=1e-12)
    np.testing.assert_allclose(xv.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-14)


# --- binary_cross_entropy ----------------------------------------------------------------------
def test_binary_cross_entropy_clips_at_0_and_1(dtype):
    p = dezero.Variable(np.array([0.0, 1.0, 1.0, 0.0], dtype=dtype))
    t = np.array([1, 0, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.binary_cross_entropy(p, t)
        y.backward()
    assert y.dtype == dtype and np.isfinite(y.data)
    # Two certain mistakes cost -log(eps) each (in float32, 1 - 1e-7 rounds to 1 - 2**-23).
    eps_hi = 1.0 - float(np.asarray(1.0 - 1e-7, dtype=dtype))
    expected = (-np.log(1e-7) - np.log(eps_hi)) / 4
    assert float(y.data) == pytest.approx(expected, rel=1e-5)
    assert float(y.data) < 17.0
    np.testing.assert_array_equal(p.grad.data, np.zeros(4))  # the clip is active everywhere


def test_binary_cross_entropy_float_targets_and_float32():
    p = dezero.Variable(np.array([0.3, 0.6], dtype=np.float32))
    y = F.binary_cross_entropy(p, np.array([0.5, 1.0]))  # float64 targets must not upcast
    y.backward()
    assert y.dtype == np.float32 and p.grad.dtype == np.float32
    expected = -np.mean([0.5 * np.log(0.3) + 0.5 * np.log(0.7), np.log(0.6)])
    assert float(y.data) == pytest.approx(expected, rel=1e-6)


def test_binary_cross_entropy_bad_arguments():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: p must hold probabilities in \[0, 1\]"):
        F.binary_cross_entropy(np.array([0.5, 2.0]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: .*\(3, 1\).*\(1, 3, 2\)"):
        F.binary_cross_entropy(np.full((3, 1), 0.5), np.zeros((1, 3, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="binary_cross_entropy: integer labels t must be 0 or 1"):
        F.binary_cross_entropy(np.full(2, 0.5), np.array([0, 3]))


# --- accuracy ----------------------------------------------------------------------------------
def test_accuracy_is_a_constant_variable(xp, dtype):
    y = xp.asarray(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], dtype=dtype))
    t = xp.asarray(np.array([1, 1, 1, 0]))
    acc = F.accuracy(dezero.Variable(y), t)
    assert isinstance(acc, dezero.Variable) and acc.creator is None
    assert acc.shape == () and acc.dtype == dtype
    assert float(as_numpy(acc.data)) == pytest.approx(0.75)


@pytest.mark.parametrize("f", [F.mean_squared_error, F.mean_squared_error_simple])
def test_mean_squared_error_of_bools_is_refused_naming_the_op(f):
    with pytest.raises(TypeError, match=rf"{f.__name__}: x0 is bool; a squared error needs numbers"):
        f(np.array([True, False]), np.array([False, False]))


def test_accuracy_refuses_an_empty_batch_as_the_losses_do():
    with pytest.raises(ValueError, match=r"accuracy: y has an empty batch \(shape \(0, 2\)\)"):
        F.accuracy(np.zeros((0, 2), dtype=np.float32), [])


def test_accuracy_bad_arguments():
    with pytest.raises(ValueError, match=r"accuracy: t must have shape \(3,\)"):
        F.accuracy(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(TypeError, match="accuracy: t must hold integer class labels"):
        F.accuracy(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=r"accuracy: y must be \(N, C\) scores"):
        F.accuracy(np.zeros(3), np.zeros(3, dtype=np.int64))


@pytest.mark.parametrize("t, bad", [([-1, 2], -1), ([3, 0], 3), (np.array([0, 7]), 7)])
def test_accuracy_refuses_labels_out_of_range_as_softmax_cross_entropy_does(t, bad):
    # Before: -1 counted as a wrong row (0.5), and 3 for 3 classes too.
    y = np.array([[0.1, 0.2, 0.7], [0.9, 0.05, 0.05]])
    with pytest.raises(ValueError, match=rf"accuracy: label {bad} is out of range \[0, 3\) for y with 3 classes"):
        F.accuracy(y, t)
    with pytest.raises(ValueError, match=rf"softmax_cross_entropy: label {bad} is out of range \[0, 3\) for x"):
        F.softmax_cross_entropy(y, t)
    assert float(F.accuracy(y, [2, 1]).data) == 0.5


def test_an_empty_list_of_labels_is_an_empty_integer_array():
    # Before: NumPy made [] float64, and accuracy said "got dtype float64".
    with pytest.raises(ValueError, match=r"accuracy: t must have shape \(2,\) to match y \(2, 3\), got \(0,\)"):
        F.accuracy(np.zeros((2, 3)), [])
    with pytest.raises(ValueError, match=r"sigmoid_cross_entropy: x and t must have the same shape"):
        F.sigmoid_cross_entropy(np.zeros(2), [])


@pytest.mark.parametrize("op", [F.softmax_cross_entropy, F.sigmoid_cross_entropy, F.binary_cross_entropy, F.accuracy])
def test_targets_must_be_arrays_lists_or_variables(op):
    with pytest.raises(TypeError, match=f"{op.__name__}: t must be an array, a list of numbers or a Variable, got str"):
        op(np.full((2, 2), 0.5), "0110")
