"""Variable as a Python object: truth value, iteration, conversions, accepted data, pickling."""

import pickle
import re

import numpy as np
import pytest

import dezero.functions as F
from dezero import Parameter, Variable


# --- truth value and iteration (NumPy's rules) -------------------------------------------
@pytest.mark.parametrize(
    "data, expected",
    [
        (np.array(0.0), False),
        (np.array(2.0), True),
        (np.array([0.0]), False),
        (np.array([[3.0]]), True),
        (np.array([False]), False),
    ],
)
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
@pytest.mark.parametrize(
    "make",
    [
        lambda: np.matrix([[1.0, 2.0], [3.0, 4.0]]),
        lambda: np.ma.masked_array([1.0, 2.0], mask=[False, True]),
    ],
    ids=["matrix", "masked_array"],
)
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


# --- pickling ------------------------------------------------------------------------------
def test_a_model_pickles_after_backward_with_create_graph():
    from dezero.models import MLP

    model = MLP((4, 2))
    loss = F.sum(model(np.ones((3, 5))) ** 2)
    loss.backward(create_graph=True)  # each .grad now carries a graph
    copy = pickle.loads(pickle.dumps(model))
    for p, q in zip(model.params(), copy.params()):
        np.testing.assert_array_equal(p.data, q.data)
        np.testing.assert_array_equal(p.grad.data, q.grad.data)  # the gradient's value is kept
        assert q.grad.creator is None  # its graph is not
    np.testing.assert_array_equal(model(np.ones((3, 5))).data, copy(np.ones((3, 5))).data)


def test_pickling_keeps_data_name_requires_grad_and_the_gradient_value_but_not_the_graph():
    x = Variable(np.array([1.0, 2.0]), name="x")
    y = x * 3.0
    y.name = "y"
    y.backward(create_graph=True, retain_grad=True)
    for original in (x, y):
        restored = pickle.loads(pickle.dumps(original))
        assert restored.name == original.name and restored.requires_grad
        np.testing.assert_array_equal(restored.data, original.data)
        np.testing.assert_array_equal(restored.grad.data, original.grad.data)
        assert restored.creator is None and restored.grad.creator is None and restored.generation == 0
    constant = pickle.loads(pickle.dumps(Variable(np.ones(2), requires_grad=False)))
    assert not constant.requires_grad and constant.grad is None


def test_a_pickled_parameter_stays_a_parameter():
    p = pickle.loads(pickle.dumps(Parameter(np.ones(2), name="W")))
    assert type(p) is Parameter and p.name == "W"
