"""What ops accept besides Variables: Python scalars, NumPy arrays and lists,
with NumPy's dtype rules (a Python number is "weak": it takes the array's dtype)."""
import re

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Variable


# --- Python scalars -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int8, np.int32, np.int64])
@pytest.mark.parametrize("op", [
    lambda a, c: a - c, lambda a, c: c - a, lambda a, c: a + c, lambda a, c: c + a,
    lambda a, c: a * c, lambda a, c: c * a,
], ids=["sub", "rsub", "add", "radd", "mul", "rmul"])
def test_integer_arrays_and_python_ints_follow_numpy(op, dtype):
    data = np.array([0, 5, 7], dtype=dtype)
    expected = op(data, 1)
    y = op(Variable(data), 1)
    assert y.dtype == expected.dtype
    np.testing.assert_array_equal(y.data, expected)


def test_unsigned_minus_one_wraps_around_as_in_numpy():
    y = Variable(np.array([0, 5], dtype=np.uint8)) - 1
    assert y.dtype == np.uint8
    np.testing.assert_array_equal(y.data, [255, 4])


def test_a_python_int_that_does_not_fit_the_integer_dtype_is_refused_as_in_numpy():
    with pytest.raises(OverflowError):
        np.array([1], dtype=np.uint8) - 300
    with pytest.raises(OverflowError):
        Variable(np.array([1], dtype=np.uint8)) - 300


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subtracting_a_scalar_keeps_the_dtype_and_the_gradient(dtype):
    x = Variable(np.array([1.0, 2.0], dtype=dtype))
    for c in (2.0, 2, np.float64(2.0)):
        y = x - c
        assert y.dtype == dtype
        np.testing.assert_array_equal(y.data, np.array([-1.0, 0.0], dtype=dtype))
        x.cleargrad()
        F.sum(y * y).backward()
        np.testing.assert_array_equal(x.grad.data, np.array([-2.0, 0.0], dtype=dtype))
    gx, = dezero.grad(F.sum((3.0 - x) ** 2), [x])
    np.testing.assert_array_equal(gx.data, np.array([-4.0, -2.0], dtype=dtype))


# --- Python scalars out of a Variable -----------------------------------------------------------
@pytest.mark.parametrize("data", [np.array(2.5), np.array([2.5]), np.array([[2.5]], dtype=np.float32)])
def test_item_float_and_int_of_a_size_one_variable(data):
    v = Variable(data)
    assert v.item() == 2.5 and type(v.item()) is float
    assert float(v) == 2.5 and type(float(v)) is float
    assert int(v) == 2 and type(int(v)) is int  # truncated, as int(2.5)


@pytest.mark.parametrize("data", [np.zeros(2), np.zeros((2, 2)), np.zeros(0)])
def test_item_float_and_int_refuse_other_sizes_naming_the_shape(data):
    v = Variable(data)
    with pytest.raises(ValueError, match=re.escape(f"item(): only a size-1 Variable converts to a Python "
                                                   f"scalar, got shape {data.shape}")):
        v.item()
    with pytest.raises(TypeError, match=re.escape(f"float(): only a size-1 Variable converts to a Python "
                                                  f"scalar, got shape {data.shape}")):
        float(v)
    with pytest.raises(TypeError, match=re.escape("int(): only a size-1 Variable")):
        int(v)


def test_item_of_an_integer_variable_is_an_int():
    assert Variable(np.array([7])).item() == 7 and type(Variable(np.array([7])).item()) is int
