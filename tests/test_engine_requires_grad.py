"""Which Variables have gradients: only floating (and complex) ones, as in PyTorch.

An integer or bool Variable never requires a gradient, an op whose output is an
integer or bool array cuts the graph there, and integer inputs (labels,
indices) keep working but receive no gradient.
"""

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Function, Variable


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.bool_])
def test_an_integer_or_bool_variable_never_requires_a_gradient(dtype):
    assert not Variable(np.array([1, 0, 1], dtype=dtype)).requires_grad
    assert not Variable(np.array([1, 0, 1], dtype=dtype), requires_grad=True).requires_grad


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex64, np.complex128])
def test_floating_and_complex_variables_require_a_gradient(dtype):
    assert Variable(np.ones(2, dtype=dtype)).requires_grad
    assert not Variable(np.ones(2, dtype=dtype), requires_grad=False).requires_grad


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_astype_to_an_integer_or_bool_dtype_cuts_the_graph(dtype):
    x = Variable(np.array([0.5, 1.5, 2.5]))
    y = F.astype(x, dtype)
    assert y.creator is None and not y.requires_grad
    z = F.sum(F.astype(y, np.float64) * x)
    z.backward()
    # Only the direct path x -> z carries a gradient; the cast through the integers is a constant.
    np.testing.assert_array_equal(x.grad.data, np.array([0.5, 1.5, 2.5]).astype(dtype).astype(np.float64))


@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_an_integer_or_bool_input_cast_to_float_gets_no_gradient(dtype):
    i = Variable(np.array([1, 0, 1], dtype=dtype))
    w = Variable(np.array([0.5, 0.5, 0.5]))
    y = F.sum(F.astype(i, np.float64) * w)
    y.backward()
    assert i.grad is None  # before: a gradient of 0.5 cast to 0 (int) or True (bool)
    np.testing.assert_array_equal(w.grad.data, [1.0, 0.0, 1.0])
    assert dezero.grad(F.sum(F.astype(i, np.float64) * w), i) is None


def test_a_function_with_an_integer_output_records_no_creator_for_it():
    class ArgmaxAndMax(Function):
        def forward(self, x):
            return x.argmax(), x.max()

        def backward(self, g_index, g_max):
            (x,) = self.inputs
            mask = np.zeros(x.shape, dtype=x.dtype)
            mask[x.data.argmax()] = 1
            return g_max * Variable(mask)

    x = Variable(np.array([1.0, 3.0, 2.0]))
    index, top = ArgmaxAndMax()(x)
    assert index.creator is None and not index.requires_grad
    assert top.creator is not None
    (top * 2.0).backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 2.0, 0.0])


def test_backward_from_an_integer_variable_is_refused():
    x = Variable(np.array([1.0, 2.0]))
    n = F.astype(x, np.int64)
    with pytest.raises(TypeError, match="backward.*int64.*floating"):
        n.backward()
    with pytest.raises(TypeError, match="grad.*int64.*floating"):
        dezero.grad(n, x)


def test_integer_labels_and_indices_still_work_and_get_no_gradient():
    x = Variable(np.array([[1.0, 2.0, 0.5], [0.1, 0.2, 3.0]]))
    t = Variable(np.array([1, 2]))
    loss = F.softmax_cross_entropy(x, t)
    loss.backward()
    assert t.grad is None and x.grad.shape == (2, 3)

    W = Variable(np.arange(6.0).reshape(3, 2))
    ids = Variable(np.array([2, 0, 2]))
    F.sum(F.embed_id(ids, W)).backward()
    assert ids.grad is None
    np.testing.assert_array_equal(W.grad.data, [[1, 1], [0, 0], [2, 2]])

    v = Variable(np.arange(4.0))
    F.sum(v[Variable(np.array([3, 3, 0]))]).backward()
    np.testing.assert_array_equal(v.grad.data, [1, 0, 0, 2])


def test_record_constants_keeps_ops_on_integers_in_the_graph_without_giving_them_gradients():
    # A tool that reads the whole computation (the ONNX exporter) must see
    # where integer ids come from, though they take no gradient.
    ids = Variable(np.array([[1, 0], [2, 1]]))
    W = Variable(np.arange(6.0).reshape(3, 2))
    with dezero.using_config("record_constants", True):
        column = ids[:, 0]
        y = F.embed_id(column, W)
    assert column.creator is not None and column.creator.inputs[0] is ids
    assert not column.requires_grad and not ids.requires_grad
    F.sum(y).backward()
    assert ids.grad is None and column.grad is None
    np.testing.assert_array_equal(W.grad.data, [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])  # rows 1 and 2
    assert ids[:, 0].creator is None  # recorded only while the switch is on
