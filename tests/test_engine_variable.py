"""Variable as a Python object: truth value, iteration, conversions, accepted data, pickling."""
import re

import numpy as np
import pytest

from dezero import Variable


# --- truth value and iteration (NumPy's rules) -------------------------------------------
@pytest.mark.parametrize("data, expected", [
    (np.array(0.0), False), (np.array(2.0), True), (np.array([0.0]), False),
    (np.array([[3.0]]), True), (np.array([False]), False),
])
def test_truth_value_of_a_size_one_variable_is_that_of_its_element(data, expected):
    assert bool(Variable(data)) is expected


@pytest.mark.parametrize("data", [np.zeros(3), np.ones((2, 2)), np.zeros(0)])
def test_truth_value_of_other_sizes_is_ambiguous(data):
    with pytest.raises(ValueError, match=re.escape(f"truth value of a Variable of shape {data.shape}") + ".*ambiguous"):
        bool(Variable(data))
    with pytest.raises(ValueError, match="ambiguous"):
        if Variable(data):
            pass


def test_truth_value_of_a_variable_without_data_is_an_error():
    with pytest.raises(ValueError, match="no data"):
        bool(Variable(None))


def test_iterating_a_0d_variable_is_a_type_error():
    with pytest.raises(TypeError, match="0-d"):
        list(Variable(np.array(1.0)))
    with pytest.raises(TypeError, match="0-d"):
        iter(Variable(np.array(1.0)))


def test_iterating_gives_differentiable_rows():
    x = Variable(np.arange(6.0).reshape(3, 2))
    rows = list(x)
    assert len(rows) == 3 and all(isinstance(r, Variable) for r in rows)
    np.testing.assert_array_equal(rows[2].data, [4.0, 5.0])
    (rows[0] * 1.0 + rows[2] * 3.0).backward(grad=np.ones(2))
    np.testing.assert_array_equal(x.grad.data, [[1, 1], [0, 0], [3, 3]])


# --- accepted data --------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: np.matrix([[1.0, 2.0], [3.0, 4.0]]),
    lambda: np.ma.masked_array([1.0, 2.0], mask=[False, True]),
], ids=["matrix", "masked_array"])
@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_ndarray_subclasses_with_other_operators_are_refused(make):
    data = make()
    with pytest.raises(TypeError, match=rf"Variable\(data\): {type(data).__name__}.*np.asarray"):
        Variable(data)
    with pytest.raises(TypeError, match=type(data).__name__):
        Variable(np.ones((2, 2))) * data


def test_ndarray_subclasses_with_ndarray_operators_are_accepted(tmp_path):
    memmap = np.memmap(tmp_path / "x.bin", dtype=np.float64, mode="w+", shape=(2, 2))
    memmap[:] = [[1.0, 2.0], [3.0, 4.0]]
    x = Variable(memmap)
    np.testing.assert_array_equal((x * x).data, [[1.0, 4.0], [9.0, 16.0]])  # elementwise, as for ndarray
