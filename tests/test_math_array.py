"""Math and array/shape ops (and linear): every case runs the op harness
(forward against NumPy, backward and double backward against numerical
gradients, float32 and float64, NumPy and CuPy, strided, read-only and
untouched inputs); below the cases, the behaviour the harness does not express."""

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Variable
from dezero.utils import gradient_check
from tests.conftest import tolerances
from tests.op_harness import OpCase, OpTests, distinct, fixed, normal, on_backend_of, uniform


# =============================================================================
# Elementwise math
# =============================================================================
UNARY = [  # (name, op, call, reference, domain)
    ("sin", F.sin, F.sin, np.sin, (-3, 3)),
    ("cos", F.cos, F.cos, np.cos, (-3, 3)),
    ("tanh", F.tanh, F.tanh, np.tanh, (-3, 3)),
    ("exp", F.exp, F.exp, np.exp, (-2, 2)),
    ("log", F.log, F.log, np.log, (0.5, 3)),
    ("sqrt", F.sqrt, F.sqrt, np.sqrt, (0.5, 3)),
    ("square", F.square, F.square, np.square, (-2, 2)),
    ("neg", F.neg, F.neg, np.negative, (-2, 2)),
    ("pow(x, 3)", F.pow, lambda x: F.pow(x, 3), lambda x: x * x * x, (-2, 2)),
    ("pow(x, 0.5)", F.pow, lambda x: F.pow(x, 0.5), np.sqrt, (0.5, 2)),
    ("pow(x, 0)", F.pow, lambda x: F.pow(x, 0), np.ones_like, (-2, 2)),
]
UNARY_SHAPES = [(), (1,), (3, 4), (2, 1, 3)]
UNARY_CASES = [
    OpCase(f"{name}{shape}", call, [uniform(shape, *domain)], reference, op=op)
    for name, op, call, reference, domain in UNARY
    for shape in UNARY_SHAPES
]

# Through Variable's operators, which are these functions.
BINARY = [
    ("add", F.add, lambda a, b: a + b, np.add),
    ("sub", F.sub, lambda a, b: a - b, np.subtract),
    ("mul", F.mul, lambda a, b: a * b, np.multiply),
    ("div", F.div, lambda a, b: a / b, np.divide),
    ("pow", F.pow, lambda a, b: a**b, np.power),
]
SHAPE_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((), (2, 3)), ((1,), (5,))]
BINARY_CASES = [
    # Positive operands: a base for pow's log, a divisor away from 0.
    OpCase(f"{name}{a}{b}", call, [uniform(a, 0.5, 2.0), uniform(b, 0.5, 2.0)], reference, op=op)
    for name, op, call, reference in BINARY
    for a, b in SHAPE_PAIRS
] + [
    # A zero exponent: the gradient for the base is 0 there, and its derivative
    # with respect to the exponent is x0 ** -1.
    OpCase("pow(x, exponents 0, 1 and 2.5)", F.pow, [uniform((3,), 0.5, 2.0), fixed([0.0, 1.0, 2.5])], np.power),
]

# Operators with a scalar operand, reflected ones included, and NumPy scalars
# that must not upcast float32 (the dtype check sees that).
SCALAR_CASES = [
    OpCase(name, call, [uniform((2, 3), 0.5, 2.0)], reference, op=op)
    for name, op, call, reference in [
        ("x + 2", F.add, lambda x: x + 2, lambda x: x + 2),
        ("2.5 + x", F.add, lambda x: 2.5 + x, lambda x: 2.5 + x),
        ("x - float64(1.5)", F.sub, lambda x: x - np.float64(1.5), lambda x: x - 1.5),
        ("float32(3) - x", F.sub, lambda x: np.float32(3.0) - x, lambda x: 3.0 - x),
        ("x * True", F.mul, lambda x: x * True, lambda x: x),
        ("0.5 * x", F.mul, lambda x: 0.5 * x, lambda x: 0.5 * x),
        ("x / float64(1.5)", F.div, lambda x: x / np.float64(1.5), lambda x: x / 1.5),
        ("2 / x", F.div, lambda x: 2 / x, lambda x: 2 / x),
        ("x ** 2.5", F.pow, lambda x: x**2.5, lambda x: x**2.5),
        ("-x", F.neg, lambda x: -x, lambda x: -x),
    ]
]


# =============================================================================
# Shapes, indexing, broadcasting
# =============================================================================
def np_sum_to(a, shape):
    """Reference: sum away the leading axes, then every axis that is 1 in ``shape``."""
    a = a.sum(axis=tuple(range(a.ndim - len(shape))))
    for axis, n in enumerate(shape):
        if n == 1:
            a = a.sum(axis=axis, keepdims=True)
    return a


SLICES = [
    1,
    -1,
    slice(None, None, 2),
    (slice(None), 1),
    (Ellipsis, 0),
    (None, 1),
    np.array([0, 0, 2]),
    (np.array([1, 0, 1]), np.array([2, 2, 2])),
    np.array([True, False, True]),
]
SLICE_NAMES = [
    "1",
    "-1",
    "::2",
    "[:, 1]",
    "[..., 0]",
    "[None, 1]",
    "[[0, 0, 2]]",
    "[[1, 0, 1], [2, 2, 2]]",
    "[[True, False, True]]",
]

SHAPE_CASES = [
    *[
        OpCase(
            f"reshape({shape}->{new})",
            lambda x, new=new: F.reshape(x, new),
            [normal(shape)],
            lambda x, new=new: x.reshape(new),
            op=F.reshape,
        )
        for shape, new in [((2, 3), (6,)), ((2, 3), (3, -1)), ((4,), (2, 2, 1)), ((1,), ())]
    ],
    *[
        OpCase(
            f"transpose({shape}, {axes})",
            lambda x, axes=axes: F.transpose(x, axes),
            [normal(shape)],
            lambda x, axes=axes: x.transpose(axes),
            op=F.transpose,
        )
        for shape, axes in [
            ((2, 3), None),
            ((2, 3, 4), (1, 0, 2)),
            ((2, 3, 4), (2, 0, 1)),
            ((2, 3, 4), (-1, 0, 1)),
            ((5,), None),
        ]
    ],
    *[
        OpCase(
            f"expand_dims((2, 3, 4), {axis})",
            lambda x, axis=axis: F.expand_dims(x, axis),
            [normal((2, 3, 4))],
            lambda x, axis=axis: np.expand_dims(x, axis),
            op=F.expand_dims,
        )
        for axis in (0, 1, -1)
    ],
    OpCase("flatten((2, 3, 4))", F.flatten, [normal((2, 3, 4))], lambda x: x.reshape(2, 12)),
    *[
        OpCase(
            f"get_item(x{name})",
            lambda x, s=s: F.get_item(x, on_backend_of(x, s)),
            [normal((3, 4))],
            lambda x, s=s: x[s],
            op=F.get_item,
        )
        for s, name in zip(SLICES, SLICE_NAMES)
    ],
    *[
        OpCase(
            f"broadcast_to({shape}->{target})",
            lambda x, t=target: F.broadcast_to(x, t),
            [normal(shape)],
            lambda x, t=target: np.broadcast_to(x, t),
            op=F.broadcast_to,
        )
        for shape, target in [((3,), (2, 3)), ((1, 3), (4, 3)), ((2, 1), (2, 5)), ((), (2, 2))]
    ],
    *[
        OpCase(
            f"sum_to({source}->{shape})",
            lambda x, s=shape: F.sum_to(x, s),
            [normal(source)],
            lambda x, s=shape: np_sum_to(x, s),
            op=F.sum_to,
        )
        for shape, source in [((3,), (2, 3)), ((1, 3), (4, 3)), ((2, 1), (2, 5)), ((), (2, 2))]
    ],
]


# =============================================================================
# Reductions, clip, matrix products, casts
# =============================================================================
AXES = [None, 0, 1, -1, (0, 2), (-1, -3)]
REDUCTION_CASES = [
    *[
        OpCase(
            f"{op.__name__}(axis={axis}, keepdims={keepdims})",
            lambda x, op=op, axis=axis, keepdims=keepdims: op(x, axis, keepdims),
            # Distinct values: max and min are smooth away from ties.
            [distinct((2, 3, 4))],
            lambda x, reference=reference, axis=axis, keepdims=keepdims: reference(x, axis=axis, keepdims=keepdims),
            op=op,
        )
        for op, reference in [(F.sum, np.sum), (F.mean, np.mean), (F.max, np.max), (F.min, np.min)]
        for axis in AXES
        for keepdims in (False, True)
    ],
    OpCase(
        "average(axis=(0, 2))",
        lambda x: F.average(x, (0, 2)),
        [normal((2, 3, 4))],
        lambda x: x.mean(axis=(0, 2)),
        op=F.average,
    ),
]

# clip is not differentiable at its bounds: the fixed values stay away from them.
CLIP_VALUES = [-2.0, -0.5, 0.1, 0.7, 3.0, 1.4]
CLIP_CASES = [
    OpCase(
        "clip(-1, 1)",
        lambda x: F.clip(x, -1.0, 1.0),
        [fixed(CLIP_VALUES)],
        lambda x: np.clip(x, -1.0, 1.0),
        op=F.clip,
        kinks=(-1.0, 1.0),
    ),
    OpCase(
        "clip(x_max=1)",
        lambda x: F.clip(x, x_max=1.0),
        [fixed(CLIP_VALUES)],
        lambda x: np.minimum(x, 1.0),
        op=F.clip,
        kinks=(1.0,),
    ),
]

MATMUL_CASES = [
    OpCase(f"matmul{a}{b}", F.matmul, [uniform(a, -1, 1), uniform(b, -1, 1)], lambda x, y: x @ y)
    for a, b in [
        ((3, 4), (4, 2)),
        ((1, 3), (3, 1)),
        ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 2)),
        ((3,), (3, 2)),
        ((2, 3), (3,)),
        ((4,), (4,)),
    ]
]

LINEAR_CASES = [
    *[
        OpCase(
            f"linear(n={n}, bias)",
            F.linear,
            [uniform((n, 3), -1, 1), uniform((3, 2), -1, 1), uniform((2,), -1, 1)],
            lambda x, W, b: x @ W + b,
        )
        for n in (1, 5)
    ],
    *[
        OpCase(f"linear(n={n})", F.linear, [uniform((n, 3), -1, 1), uniform((3, 2), -1, 1)], lambda x, W: x @ W)
        for n in (1, 5)
    ],
    # The book's linear_simple: the same map as matmul then add.
    OpCase(
        "linear_simple(bias)",
        F.linear_simple,
        [uniform((4, 3), -1, 1), uniform((3, 2), -1, 1), uniform((2,), -1, 1)],
        lambda x, W, b: x @ W + b,
    ),
    OpCase("linear_simple", F.linear_simple, [uniform((4, 3), -1, 1), uniform((3, 2), -1, 1)], lambda x, W: x @ W),
]


def _other_float(dtype):
    return np.float64 if np.dtype(dtype) == np.float32 else np.float32


ASTYPE_CASES = [
    OpCase(
        "astype(float64)",
        lambda x: F.astype(x, np.float64),
        [normal((2, 3))],
        lambda x: x,
        op=F.astype,
        output_dtype=lambda dtype: np.float64,
    ),
    # Narrowing float64 rounds to float32: a relative error of 6e-8, and large
    # steps for the numerical gradient of this linear map.
    OpCase(
        "astype(float32)",
        lambda x: F.astype(x, np.float32),
        [normal((2, 3))],
        lambda x: x,
        op=F.astype,
        output_dtype=lambda dtype: np.float32,
        forward_tol={np.float64: (1e-7, 1e-7)},
        grad_tol={np.float64: (1e-5, 1e-6)},
        eps={np.float64: 1e-1},
    ),
    OpCase(
        "astype(the other float)",
        lambda x: F.astype(x, _other_float(x.dtype)),
        [normal((3,))],
        lambda x: x,
        op=F.astype,
        output_dtype=_other_float,
        forward_tol={np.float64: (1e-7, 1e-7)},
        grad_tol={np.float64: (1e-5, 1e-6)},
        eps={np.float64: 1e-1},
    ),
]


class TestMathOps(OpTests):
    cases = UNARY_CASES + BINARY_CASES + SCALAR_CASES


class TestArrayOps(OpTests):
    cases = SHAPE_CASES + REDUCTION_CASES + CLIP_CASES + MATMUL_CASES + LINEAR_CASES + ASTYPE_CASES


# =============================================================================
# Behaviour the harness does not express
# =============================================================================
def rand(xp, shape, dtype, low=-1.0, high=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return xp.asarray(rng.uniform(low, high, shape).astype(dtype))


@pytest.mark.parametrize("scalar", [2, 0.5, np.float64(1.5), np.float32(3.0), True])
@pytest.mark.parametrize(
    "op",
    [
        lambda x, c: x + c,
        lambda x, c: c + x,
        lambda x, c: x - c,
        lambda x, c: c - x,
        lambda x, c: x * c,
        lambda x, c: c * x,
        lambda x, c: x / c,
        lambda x, c: c / x,
        lambda x, c: x**c,
    ],
)
def test_scalars_take_the_arrays_dtype(xp, dtype, scalar, op):
    x = rand(xp, (2, 3), dtype, 0.5, 2.0)
    y = op(Variable(x), scalar)
    assert y.dtype == dtype
    gradient_check(lambda v: op(v, scalar), x, **tolerances(dtype))


def test_integer_arrays_promote_with_float_scalars():
    y = Variable(np.array([1, 2, 3])) * 0.5
    np.testing.assert_array_equal(y.data, [0.5, 1.0, 1.5])


def test_reshape_error_names_shapes():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape an input of shape \(2, 3\).*\(4,\)"):
        F.reshape(Variable(np.ones((2, 3))), (4,))


def test_transpose_refuses_axes_that_are_not_a_permutation():
    with pytest.raises(ValueError, match="transpose: axes"):
        F.transpose(Variable(np.ones((2, 3))), (0, 0))


def test_get_item_repeated_indices_accumulate():
    x = Variable(np.arange(4.0))
    F.sum(x[np.array([1, 1, 1, 3])]).backward()
    np.testing.assert_array_equal(x.grad.data, [0, 3, 0, 1])


def test_get_item_out_of_range():
    with pytest.raises(IndexError, match=r"get_item: index 5 is invalid for an input of shape \(3,\)"):
        Variable(np.ones(3))[5]


def test_broadcast_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(3,\) to \(2, 4\)"):
        F.broadcast_to(Variable(np.ones(3)), (2, 4))


def test_sum_bad_axis():
    with pytest.raises(ValueError, match="sum: axis 3 is out of range for an input of 2 dimensions"):
        F.sum(Variable(np.ones((2, 2))), axis=3)


@pytest.mark.parametrize("func", [F.max, F.min])
def test_tie_sends_gradient_to_the_first_element(func):
    x = Variable(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
    func(x, axis=1).backward(grad=np.array([10.0, 20.0]))
    expected = np.array([[0, 10, 0], [20, 0, 0]]) if func is F.max else np.array([[10, 0, 0], [20, 0, 0]])
    np.testing.assert_array_equal(x.grad.data, expected)
    x.cleargrad()
    func(Variable(np.ones((2, 2))) * x[:, :2]).backward()
    assert np.count_nonzero(x.grad.data) == 1


def test_clip_refuses_a_lower_bound_above_the_upper():
    with pytest.raises(ValueError, match="clip: x_min"):
        F.clip(Variable(np.zeros(3)), 1.0, 0.0)


@pytest.mark.parametrize(
    "x_min, x_max, match",
    [
        (1, 0, r"clip: x_min \(1\) is larger than x_max \(0\)"),
        (np.array([0.0, 2.0]), 1.0, "clip: x_min .* is larger than x_max .* at some positions"),
        (np.zeros(2), np.ones(3), r"clip: x_min of shape \(2,\) and x_max of shape \(3,\) cannot be broadcast"),
        (None, None, "clip: give x_min, x_max or both"),
        ("0", 1, "clip: x_min must be a number, an array or None, got str"),
    ],
)
def test_the_clip_class_refuses_what_clip_refuses(x_min, x_max, match):
    # Before: Clip(1, 0)(x), the book's class, returned zeros.
    with pytest.raises((ValueError, TypeError), match=match):
        F.Clip(x_min, x_max)(Variable(np.array([0.5, 2.0])))
    with pytest.raises((ValueError, TypeError), match=match):
        F.clip(Variable(np.array([0.5, 2.0])), x_min, x_max)


def test_the_clip_class_refuses_an_array_bound_that_does_not_fit_x():
    with pytest.raises(ValueError, match=r"clip: x_max of shape \(3,\) does not broadcast to the shape \(2,\) of x"):
        F.Clip(0.0, np.ones(3))(Variable(np.zeros(2)))


@pytest.mark.parametrize(
    "bounds, expected_y, expected_grad",
    [((None, 0.5), [0.2, 0.5, -3.0], [1.0, 0.0, 1.0]), ((0.0, None), [0.2, 0.7, 0.0], [1.0, 1.0, 0.0])],
)
def test_the_clip_class_with_one_bound_differentiates(bounds, expected_y, expected_grad):
    # Before: Clip(None, 0.5) raised a bare TypeError in backward (None >= x).
    x = Variable(np.array([0.2, 0.7, -3.0]))
    y = F.Clip(*bounds)(x)
    np.testing.assert_array_equal(y.data, expected_y)
    F.sum(y).backward()
    np.testing.assert_array_equal(x.grad.data, expected_grad)


def test_the_clip_class_with_numpy_scalar_bounds_keeps_float32():
    x = Variable(np.array([-1.0, 0.5, 2.0], dtype=np.float32))
    y = F.Clip(np.float64(0), np.float64(1))(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, np.array([0.0, 0.5, 1.0], dtype=np.float32))
    F.sum(y).backward()
    assert x.grad.dtype == np.float32


def test_clip_with_one_bound_keeps_integers_integer():
    # Before: the missing bound was an infinity, which made the result float64.
    y = F.clip(np.array([1, 7, -3]), None, 5)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y.data, [1, 5, -3])
    np.testing.assert_array_equal(F.clip(np.array([1, 7, -3], dtype=np.int8), 0, None).data, [1, 7, 0])


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3,)), ((3,), (5, 3, 4))],
)
def test_the_matmul_class_differentiates_vectors(shape_a, shape_b):
    # Before: MatMul()(a, b), the book's class, failed in backward on a vector
    # ("list index out of range"); matmul() reshapes vectors itself.
    rng = np.random.default_rng(3)
    a, b = Variable(rng.standard_normal(shape_a)), Variable(rng.standard_normal(shape_b))
    y = F.MatMul()(a, b)
    np.testing.assert_allclose(y.data, a.data @ b.data, rtol=1e-12)
    gy = rng.standard_normal(y.shape)
    ga, gb = dezero.grad(y, [a, b], grad_outputs=gy)
    assert ga.shape == shape_a and gb.shape == shape_b
    a2, b2 = Variable(a.data.copy()), Variable(b.data.copy())
    expected = dezero.grad(F.matmul(a2, b2), [a2, b2], grad_outputs=gy)
    np.testing.assert_allclose(ga.data, expected[0].data, rtol=1e-12)
    np.testing.assert_allclose(gb.data, expected[1].data, rtol=1e-12)
    gradient_check(lambda a, b: F.MatMul()(a, b), a.data, b.data)


def test_the_matmul_class_refuses_scalars_and_unaligned_shapes():
    with pytest.raises(
        ValueError, match=r"MatMul: operands must have at least 1 dimension, got shapes \(\) and \(3,\)"
    ):
        F.MatMul()(np.array(2.0), np.ones(3))
    with pytest.raises(ValueError, match=r"MatMul: shapes \(3,\) and \(4, 2\) are not aligned \(3 != 4\)"):
        F.MatMul()(np.ones(3), np.ones((4, 2)))


def test_matmul_not_aligned():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned \(3 != 4\)"):
        F.matmul(Variable(np.ones((2, 3))), Variable(np.ones((4, 5))))


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


def test_nested_tuple_index_accumulates_repeated_rows():
    from dezero import Variable

    x = Variable(np.ones((3, 2)))
    F.sum(x[(0, 0, 1), :]).backward()
    np.testing.assert_array_equal(x.grad.data, [[2, 2], [1, 1], [0, 0]])


def test_expand_dims_rejects_an_out_of_range_axis():
    from dezero import Variable

    x = Variable(np.ones((2, 3)))
    assert F.expand_dims(x, -3).shape == (1, 2, 3) and F.expand_dims(x, 2).shape == (2, 3, 1)
    for axis in (3, -4, 5):
        with pytest.raises(ValueError, match="expand_dims: axis"):
            F.expand_dims(x, axis)


def test_clip_with_numpy_scalar_bounds_keeps_float32():
    x = np.linspace(-1, 1, 5).astype(np.float32)
    assert F.clip(x, np.float64(-0.5), np.float64(0.5)).dtype == np.float32


def test_powers_at_a_zero_base_have_finite_gradients():
    from dezero import Variable

    x = Variable(np.array([0.0, 1.0]))
    F.sum(x**0).backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    base, exponent = Variable(np.array([0.0, 0.0, 2.0])), Variable(np.array([0.0, 2.0, 0.0]))
    F.sum(base**exponent).backward()
    np.testing.assert_array_equal(base.grad.data, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(exponent.grad.data, [0.0, 0.0, np.log(2.0)])


@pytest.mark.parametrize("shape, axis", [((0, 3), 0), ((2, 0), None), ((0, 3), (0, 1))])
def test_the_mean_of_nothing_has_zero_second_derivatives_as_in_pytorch(shape, axis):
    # Before: the backward multiplied an empty sum by NaN, so the derivative of
    # the gradient with respect to grad_outputs was NaN (PyTorch: 0).
    x = Variable(np.zeros(shape))
    with pytest.warns(RuntimeWarning, match="mean: mean of an empty slice"):
        y = F.mean(x, axis=axis)
    assert np.isnan(y.data).all()
    gy = Variable(np.ones(y.shape))
    gx = dezero.grad(y, x, grad_outputs=gy, create_graph=True)
    assert gx.shape == shape
    ggy = dezero.grad(F.sum(gx), gy)
    np.testing.assert_array_equal(ggy.data, np.zeros(y.shape))
    with pytest.warns(RuntimeWarning):
        assert F.mean(np.zeros((0, 2), dtype=np.float32), axis=0).dtype == np.float32


def test_integer_powers_with_a_zero_exponent_have_exact_integer_gradients():
    # Before: the backward computed 2 ** -1 in integers, which NumPy refuses.
    x = Variable(np.array([2, 3, 0, 5]))
    F.sum(x ** np.array([0, 2, 0, 1])).backward()
    assert x.grad.dtype == np.int64
    np.testing.assert_array_equal(x.grad.data, [0, 6, 0, 1])  # c * x ** (c - 1)
    y = Variable(np.array([2, 3]))
    F.sum(y**0 + y**3).backward()
    np.testing.assert_array_equal(y.grad.data, [12, 27])
    assert y.grad.dtype == np.int64


@pytest.mark.parametrize(
    "power, match",
    [
        (lambda x: x**-1, r"Pow: an integer base \(int64\) to the negative power -1 is no integer"),
        (lambda x: x ** np.int64(-2), r"Pow: an integer base \(int64\) to the negative power -2"),
        (
            lambda x: x ** np.array([1, -1]),
            r"Power: an integer base \(int64\) to negative powers \(an exponent of dtype int64\)",
        ),
        (lambda x: 2 ** Variable(np.array([-1, 1])), r"Power: an integer base \(int64\) to negative powers"),
    ],
)
def test_an_integer_to_a_negative_integer_power_is_refused_naming_the_op(power, match):
    with pytest.raises(ValueError, match=match + ".*cast the base to floating point first"):
        power(Variable(np.array([2, 3])))


@pytest.mark.parametrize("axis", [0, -1, (0,), (-1,)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("reduce", [F.sum, F.max, F.min, F.mean])
def test_reducing_a_0d_input_over_axis_0_or_minus_1(reduce, keepdims, axis):
    # Before: axis -1 was refused where axis 0 was accepted. PyTorch takes both.
    from dezero import Variable

    x = Variable(np.array(3.0))
    y = reduce(x, axis=axis, keepdims=keepdims)
    assert y.shape == () and y.data == 3.0
    y.backward()
    assert x.grad.data == 1.0
    for bad in (1, -2):
        with pytest.raises(ValueError, match=f"axis {bad} is out of range for an input of 0 dimensions"):
            reduce(x, axis=bad)


@pytest.mark.parametrize(
    "op, name, shape_b",
    [
        (lambda a, b: a + b, "Add", (5, 4)),
        (lambda a, b: a * b, "Mul", (5, 4)),
        (lambda a, b: a - b, "Sub", (5, 4)),
        (lambda a, b: a / b, "Div", (5, 4)),
        (F.matmul, "MatMul", (3, 4, 2)),  # batch dimensions 2 and 3 clash
    ],
)
def test_shape_clashes_name_the_op_and_the_shapes(op, name, shape_b):
    from dezero import Variable

    a, b = Variable(np.ones((2, 3, 4))), Variable(np.ones(shape_b))
    with pytest.raises(ValueError, match=rf"{name}: inputs of shapes \(2, 3, 4\) and .* cannot be broadcast"):
        op(a, b)


@pytest.mark.parametrize("bounds, expected", [((None, 0.5), [-2.0, 0.25, 0.5]), ((0.0, None), [0.0, 0.25, 3.0])])
def test_clip_with_one_bound(bounds, expected):
    from dezero import Variable

    x = Variable(np.array([-2.0, 0.25, 3.0], dtype=np.float32))
    y = F.clip(x, *bounds)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, np.array(expected, dtype=np.float32))
    F.sum(y).backward()
    np.testing.assert_array_equal(x.grad.data, (y.data == x.data).astype(np.float32))
    with pytest.raises(ValueError, match="clip: give x_min, x_max or both"):
        F.clip(x)
