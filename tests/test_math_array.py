"""Math and array/shape ops: forward against NumPy, backward and double backward
against numerical gradients, in float32 and float64, on every available backend."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable
from dezero.backend import as_numpy
from dezero.utils import double_gradient_check, gradient_check
from tests.conftest import tolerances


def rand(xp, shape, dtype, low=-1.0, high=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return xp.asarray(rng.uniform(low, high, shape).astype(dtype))


def check_all(xp, dtype, f, *inputs, double=True):
    """float64: tight gradient and double-gradient checks; float32: forward dtype
    and a loose gradient check."""
    tol = tolerances(dtype)
    y = f(*[Variable(a) for a in inputs])
    assert y.dtype == dtype, f"output dtype {y.dtype} for {dtype} inputs"
    gradient_check(f, *inputs, **tol)
    if double and np.dtype(dtype) == np.float64:
        double_gradient_check(f, *inputs, **tol)


# --- elementwise math --------------------------------------------------------------------
UNARY = [
    ("sin", F.sin, np.sin, (-3, 3)),
    ("cos", F.cos, np.cos, (-3, 3)),
    ("tanh", F.tanh, np.tanh, (-3, 3)),
    ("exp", F.exp, np.exp, (-2, 2)),
    ("log", F.log, np.log, (0.5, 3)),
    ("sqrt", F.sqrt, np.sqrt, (0.5, 3)),
    ("square", F.square, np.square, (-2, 2)),
    ("neg", F.neg, np.negative, (-2, 2)),
    ("pow3", lambda x: x ** 3, lambda x: x ** 3, (-2, 2)),
    ("pow_half", lambda x: x ** 0.5, np.sqrt, (0.5, 2)),
]


@pytest.mark.parametrize("name, func, reference, domain", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", [(), (1,), (3, 4), (2, 1, 3)])
def test_unary(xp, dtype, name, func, reference, domain, shape):
    x = rand(xp, shape, dtype, *domain)
    y = func(Variable(x))
    np.testing.assert_allclose(as_numpy(y.data), reference(as_numpy(x)), rtol=1e-6 if dtype == np.float32 else 1e-12)
    check_all(xp, dtype, func, x)


BINARY = [
    ("add", lambda a, b: a + b, np.add),
    ("sub", lambda a, b: a - b, np.subtract),
    ("mul", lambda a, b: a * b, np.multiply),
    ("div", lambda a, b: a / b, np.divide),
    ("pow", lambda a, b: a ** b, np.power),
]
SHAPE_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((), (2, 3)), ((1,), (5,))]


@pytest.mark.parametrize("name, func, reference", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("shapes", SHAPE_PAIRS)
def test_binary_with_broadcasting(xp, dtype, name, func, reference, shapes):
    a = rand(xp, shapes[0], dtype, 0.5, 2.0, seed=1)
    b = rand(xp, shapes[1], dtype, 0.5, 2.0, seed=2)
    y = func(Variable(a), Variable(b))
    np.testing.assert_allclose(as_numpy(y.data), reference(as_numpy(a), as_numpy(b)), rtol=1e-6)
    check_all(xp, dtype, func, a, b)


@pytest.mark.parametrize("scalar", [2, 0.5, np.float64(1.5), np.float32(3.0), True])
@pytest.mark.parametrize("op", [lambda x, c: x + c, lambda x, c: c + x, lambda x, c: x - c, lambda x, c: c - x,
                                lambda x, c: x * c, lambda x, c: c * x, lambda x, c: x / c, lambda x, c: c / x,
                                lambda x, c: x ** c])
def test_scalars_take_the_arrays_dtype(xp, dtype, scalar, op):
    x = rand(xp, (2, 3), dtype, 0.5, 2.0)
    y = op(Variable(x), scalar)
    assert y.dtype == dtype
    gradient_check(lambda v: op(v, scalar), x, **tolerances(dtype))


def test_integer_arrays_promote_with_float_scalars():
    y = Variable(np.array([1, 2, 3])) * 0.5
    np.testing.assert_array_equal(y.data, [0.5, 1.0, 1.5])


# --- shape ops ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape, new_shape", [((2, 3), (6,)), ((2, 3), (3, -1)), ((4,), (2, 2, 1)), ((1,), ())])
def test_reshape(xp, dtype, shape, new_shape):
    x = rand(xp, shape, dtype)
    y = F.reshape(Variable(x), new_shape)
    assert y.shape == as_numpy(x).reshape(new_shape).shape
    check_all(xp, dtype, lambda v: F.reshape(v, new_shape) ** 2, x)


def test_reshape_error_names_shapes():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape an input of shape \(2, 3\).*\(4,\)"):
        F.reshape(Variable(np.ones((2, 3))), (4,))


@pytest.mark.parametrize("shape, axes", [((2, 3), None), ((2, 3, 4), (1, 0, 2)), ((2, 3, 4), (2, 0, 1)),
                                         ((2, 3, 4), (-1, 0, 1)), ((5,), None)])
def test_transpose(xp, dtype, shape, axes):
    x = rand(xp, shape, dtype)
    y = F.transpose(Variable(x), axes)
    np.testing.assert_array_equal(as_numpy(y.data), as_numpy(x).transpose(axes))
    check_all(xp, dtype, lambda v: F.transpose(v, axes) ** 2, x)


def test_transpose_bad_axes():
    with pytest.raises(ValueError, match="transpose: axes"):
        F.transpose(Variable(np.ones((2, 3))), (0, 0))


def test_expand_dims_and_flatten(xp, dtype):
    x = rand(xp, (2, 3, 4), dtype)
    assert F.expand_dims(Variable(x), 1).shape == (2, 1, 3, 4)
    assert F.expand_dims(Variable(x), -1).shape == (2, 3, 4, 1)
    assert F.flatten(Variable(x)).shape == (2, 12)
    check_all(xp, dtype, lambda v: F.flatten(F.expand_dims(v, 0)) ** 2, x)


SLICES = [1, -1, slice(None, None, 2), (slice(None), 1), (Ellipsis, 0), (None, 1),
          np.array([0, 0, 2]), (np.array([1, 0, 1]), np.array([2, 2, 2])), np.array([True, False, True])]


@pytest.mark.parametrize("slices", SLICES, ids=[str(i) for i in range(len(SLICES))])
def test_get_item(xp, dtype, slices):
    x = rand(xp, (3, 4), dtype)
    s = tuple(xp.asarray(i) if isinstance(i, np.ndarray) else i for i in slices) \
        if isinstance(slices, tuple) else (xp.asarray(slices) if isinstance(slices, np.ndarray) else slices)
    y = F.get_item(Variable(x), s)
    np.testing.assert_array_equal(as_numpy(y.data), as_numpy(x)[slices])
    check_all(xp, dtype, lambda v: F.get_item(v, s) ** 2, x)


def test_get_item_repeated_indices_accumulate():
    x = Variable(np.arange(4.0))
    F.sum(x[np.array([1, 1, 1, 3])]).backward()
    np.testing.assert_array_equal(x.grad.data, [0, 3, 0, 1])


def test_get_item_out_of_range():
    with pytest.raises(IndexError, match=r"get_item: index 5 is invalid for an input of shape \(3,\)"):
        Variable(np.ones(3))[5]


@pytest.mark.parametrize("shape, target", [((3,), (2, 3)), ((1, 3), (4, 3)), ((2, 1), (2, 5)), ((), (2, 2))])
def test_broadcast_to_and_sum_to(xp, dtype, shape, target):
    x = rand(xp, shape, dtype)
    y = F.broadcast_to(Variable(x), target)
    np.testing.assert_array_equal(as_numpy(y.data), np.broadcast_to(as_numpy(x), target))
    check_all(xp, dtype, lambda v: F.broadcast_to(v, target) ** 2, x)
    big = rand(xp, target, dtype)
    s = F.sum_to(Variable(big), shape)
    assert s.shape == shape
    np.testing.assert_allclose(as_numpy(s.data), np_sum_to(as_numpy(big), shape), rtol=1e-5)
    check_all(xp, dtype, lambda v: F.sum_to(v, shape) ** 2, big)


def np_sum_to(a, shape):
    """Reference: sum away the leading axes, then every axis that is 1 in ``shape``."""
    a = a.sum(axis=tuple(range(a.ndim - len(shape))))
    for axis, n in enumerate(shape):
        if n == 1:
            a = a.sum(axis=axis, keepdims=True)
    return a


def test_broadcast_error():
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(3,\) to \(2, 4\)"):
        F.broadcast_to(Variable(np.ones(3)), (2, 4))


AXES = [None, 0, 1, -1, (0, 2), (-1, -3)]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_and_mean(xp, dtype, axis, keepdims):
    x = rand(xp, (2, 3, 4), dtype)
    y = F.sum(Variable(x), axis, keepdims)
    np.testing.assert_allclose(as_numpy(y.data), as_numpy(x).sum(axis=axis, keepdims=keepdims), rtol=1e-5)
    m = F.mean(Variable(x), axis, keepdims)
    np.testing.assert_allclose(as_numpy(m.data), as_numpy(x).mean(axis=axis, keepdims=keepdims), rtol=1e-5)
    assert m.dtype == dtype
    check_all(xp, dtype, lambda v: F.sum(v, axis, keepdims) ** 2, x)
    check_all(xp, dtype, lambda v: F.average(v, axis, keepdims) ** 2, x)


def test_sum_bad_axis():
    with pytest.raises(ValueError, match="sum: axis 3 is out of range for an input of 2 dimensions"):
        F.sum(Variable(np.ones((2, 2))), axis=3)


@pytest.mark.parametrize("func, reference", [(F.max, np.max), (F.min, np.min)], ids=["max", "min"])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_min(xp, dtype, func, reference, axis, keepdims):
    # distinct values: away from ties the reduction is smooth
    x = xp.asarray(np.random.default_rng(3).permutation(24).reshape(2, 3, 4).astype(dtype))
    y = func(Variable(x), axis, keepdims)
    np.testing.assert_array_equal(as_numpy(y.data), reference(as_numpy(x), axis=axis, keepdims=keepdims))
    check_all(xp, dtype, lambda v: func(v, axis, keepdims) ** 2, x)


@pytest.mark.parametrize("func", [F.max, F.min])
def test_tie_sends_gradient_to_the_first_element(func):
    x = Variable(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
    func(x, axis=1).backward(grad=np.array([10.0, 20.0]))
    expected = np.array([[0, 10, 0], [20, 0, 0]]) if func is F.max else np.array([[10, 0, 0], [20, 0, 0]])
    np.testing.assert_array_equal(x.grad.data, expected)
    x.cleargrad()
    func(Variable(np.ones((2, 2))) * x[:, :2]).backward()
    assert np.count_nonzero(x.grad.data) == 1


def test_clip(xp, dtype):
    x = xp.asarray(np.array([-2.0, -0.5, 0.1, 0.7, 3.0], dtype=dtype))
    y = F.clip(Variable(x), -1.0, 1.0)
    np.testing.assert_array_equal(as_numpy(y.data), np.array([-1.0, -0.5, 0.1, 0.7, 1.0], dtype=dtype))
    assert y.dtype == dtype
    check_all(xp, dtype, lambda v: F.clip(v, -1.0, 1.0) ** 2, x)
    with pytest.raises(ValueError, match="clip: x_min"):
        F.clip(Variable(x), 1.0, 0.0)


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((1, 3), (3, 1)), ((2, 3, 4), (4, 5)),
                                    ((2, 3, 4), (2, 4, 2)), ((3,), (3, 2)), ((2, 3), (3,)), ((4,), (4,))])
def test_matmul(xp, dtype, shapes):
    a = rand(xp, shapes[0], dtype, seed=4)
    b = rand(xp, shapes[1], dtype, seed=5)
    y = F.matmul(Variable(a), Variable(b))
    np.testing.assert_allclose(as_numpy(y.data), as_numpy(a) @ as_numpy(b), rtol=1e-5)
    check_all(xp, dtype, F.matmul, a, b)


def test_matmul_not_aligned():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned \(3 != 4\)"):
        F.matmul(Variable(np.ones((2, 3))), Variable(np.ones((4, 5))))


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("n", [1, 5])
def test_linear(xp, dtype, with_bias, n):
    x, W, b = rand(xp, (n, 3), dtype, seed=6), rand(xp, (3, 2), dtype, seed=7), rand(xp, (2,), dtype, seed=8)
    args = (x, W, b) if with_bias else (x, W)
    y = F.linear(*[Variable(a) for a in args])
    expected = as_numpy(x) @ as_numpy(W) + (as_numpy(b) if with_bias else 0)
    np.testing.assert_allclose(as_numpy(y.data), expected, rtol=1e-5)
    check_all(xp, dtype, lambda *v: F.linear(*v) ** 2, *args)


def test_linear_errors():
    with pytest.raises(ValueError, match=r"linear: x of shape \(2, 3\) and W of shape \(4, 2\) are not aligned"):
        F.linear(np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"linear: b must have shape \(2,\)"):
        F.linear(np.ones((2, 3)), np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="linear: x must be 2-D"):
        F.linear(np.ones(3), np.ones((3, 2)))


def test_astype_round_trip_gradient_dtype(xp):
    x = Variable(rand(xp, (3,), np.float32))
    y = F.sum(F.astype(x, np.float64) ** 2)
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float32
