"""Which Variables have gradients, and in which dtype.

Floating and complex Variables take gradients in their own dtype. int64
Variables (NumPy's default integer) take part in differentiation as in the
book (its chapters 37-40 differentiate integer arrays): along integer
arithmetic their gradients are exact int64 values. A gradient is never
truncated or wrapped around: narrower and unsigned integers and bools take no
gradient (as in PyTorch), an integer result of floating values (astype,
argmax) stops the graph, and a floating gradient that reaches an integer
Variable stops there.
"""

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Function, Variable


def test_a_bool_variable_never_requires_a_gradient():
    assert not Variable(np.array([True, False])).requires_grad
    assert not Variable(np.array([True, False]), requires_grad=True).requires_grad


def test_an_int64_variable_requires_a_gradient_as_in_the_book():
    assert Variable(np.array([1, 0, 1])).requires_grad  # NumPy's default integer
    assert Variable(np.array([1, 0, 1], dtype=np.int64)).requires_grad
    assert not Variable(np.array([1, 0, 1]), requires_grad=False).requires_grad


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32, np.uint64])
def test_narrow_and_unsigned_integer_variables_never_require_a_gradient(dtype):
    # Their gradients would wrap around inside a backward; PyTorch refuses them too.
    assert not Variable(np.array([1, 0, 1], dtype=dtype)).requires_grad
    with pytest.raises(TypeError, match=f"requires_grad: a {np.dtype(dtype)} Variable cannot require a gradient"):
        Variable(np.array([1], dtype=dtype)).requires_grad = True


def test_setting_requires_grad_on_a_bool_variable_is_refused():
    b = Variable(np.array([True, False]))
    with pytest.raises(TypeError, match="requires_grad: a bool Variable cannot require a gradient"):
        b.requires_grad = True
    b.requires_grad = False  # turning it off is always fine
    i = Variable(np.array([1, 2]), requires_grad=False)
    i.requires_grad = True
    assert i.requires_grad


def test_the_books_integer_graphs_give_exact_integer_gradients():
    # The book's steps 37-40, verbatim in substance: sums, reshapes,
    # transposes and broadcasts of integer arrays.
    x = Variable(np.array([[1, 2, 3], [4, 5, 6]]))
    c = Variable(np.array([[10, 20, 30], [40, 50, 60]]))
    t = x + c
    y = F.sum(t)
    y.backward(retain_grad=True)
    assert y.grad.data == 1 and y.grad.dtype == np.int64
    for v in (t, x, c):
        assert v.grad.dtype == np.int64
        np.testing.assert_array_equal(v.grad.data, np.ones((2, 3)))

    x = Variable(np.array([[0, 1, 2], [3, 4, 5]]))
    F.reshape(x, (6,)).backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))
    x = Variable(np.array([[1, 2, 3], [4, 5, 6]]))
    F.transpose(x).backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))

    x0 = Variable(np.array([1, 2, 3]))
    x1 = Variable(np.array([10]))
    (x0 + x1).backward()
    assert x1.grad.dtype == np.int64
    np.testing.assert_array_equal(x1.grad.data, [3])


def test_an_integer_linear_layer_without_bias_differentiates_as_in_the_book():
    # The book's test_linear: integer inputs, and the absent bias given as None.
    x = Variable(np.array([[1, 2, 3], [4, 5, 6]]))
    w = Variable(x.data.T)
    y = F.linear(x, w, None)
    np.testing.assert_array_equal(y.data, x.data @ x.data.T)
    F.sum(y).backward()
    np.testing.assert_array_equal(w.grad.data, x.data.T @ np.ones((2, 2), dtype=np.int64))


def test_integer_products_differentiate_exactly():
    x = Variable(np.array([1, 2, 3]))
    w = Variable(np.array([4, 5, 6]))
    F.sum(x * w * x).backward()
    assert x.grad.dtype == np.int64 and w.grad.dtype == np.int64
    np.testing.assert_array_equal(x.grad.data, 2 * np.array([1, 2, 3]) * np.array([4, 5, 6]))
    np.testing.assert_array_equal(w.grad.data, np.array([1, 4, 9]))


@pytest.mark.parametrize(
    "make",
    [
        # Each of these wrapped around when narrow integers took gradients.
        lambda x: x[np.zeros(300, dtype=np.int64)],  # a gather of 300 rows: 300 in int8 is 44
        lambda x: 10 - x,  # -1 in a uint8 is 255
        lambda x: x * np.int8(100) + x * np.int8(100),  # 200 accumulated in int8 is -56
    ],
    ids=["gather", "negative", "accumulated"],
)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_narrow_integer_inputs_get_no_gradient_rather_than_a_wrapped_one(make, dtype):
    x = Variable(np.array([1, 2, 3], dtype=dtype))
    y = make(x)
    assert y.creator is None  # nothing recorded: no input takes a gradient
    assert x.grad is None


def test_an_int64_weight_of_a_narrow_integer_input_gets_its_exact_gradient():
    a = Variable(np.array([1, 2], dtype=np.int8))
    w = Variable(np.array([300, -1000]))
    F.sum(a * w).backward()
    assert a.grad is None
    assert w.grad.dtype == np.int64
    np.testing.assert_array_equal(w.grad.data, [1, 2])


def test_int64_gradients_accumulate_exactly_from_two_paths():
    a = Variable(np.array([1, 2]))
    y = F.sum(a * Variable(np.array([1, 1]))) + F.sum(a * Variable(np.array([500, 500])))
    y.backward()
    assert a.grad.dtype == np.int64
    np.testing.assert_array_equal(a.grad.data, [501, 501])


def test_an_int64_variable_cast_to_a_narrow_integer_is_cut_there():
    a = Variable(np.array([1, 2]))
    b = F.astype(a, np.int8)
    assert b.creator is None and not b.requires_grad


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8])
def test_a_floating_gradient_never_reaches_an_integer_variable(dtype):
    # Before: the gradient 0.5 was cast to the integer dtype, 0.
    i = Variable(np.array([1, 0, 1], dtype=dtype))
    w = Variable(np.array([0.5, 0.5, 0.5]))
    y = F.sum(F.astype(i, np.float64) * w + F.sin(F.astype(i * 2, np.float64)))
    y.backward()
    assert i.grad is None
    np.testing.assert_array_equal(w.grad.data, np.array([1, 0, 1], dtype=dtype).astype(np.float64))
    assert dezero.grad(F.sum(F.astype(i, np.float64) * w), i) is None
    # Through a float op directly on the integer Variable too.
    j = Variable(np.array([1, 2], dtype=dtype))
    F.sum(j * 0.5).backward()
    assert j.grad is None


def test_a_floating_gradient_stops_at_an_integer_variable_whose_data_was_replaced():
    v = Variable(np.array([1.0, 2.0]))
    v.data = np.array([1, 2])
    F.sum(F.astype(v, np.float64) * 1.5).backward()
    assert v.grad is None


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


def test_backward_from_an_integer_result_of_floating_values_is_refused():
    x = Variable(np.array([1.0, 2.0]))
    n = F.astype(x, np.int64)
    message = "the output has dtype int64: it has no gradient.*or from floating values \\(astype, argmax\\)"
    with pytest.raises(TypeError, match="backward: " + message):
        n.backward()
    with pytest.raises(TypeError, match="grad: " + message):
        dezero.grad(n, x)


def test_backward_from_a_sum_of_bools_is_refused_naming_bools_as_the_cause():
    # Before: the message blamed "an integer result of floating values (astype, argmax)".
    b = Variable(np.array([True, False, True]))
    total = F.sum(b)
    assert total.dtype == np.int64 and total.data == 2
    with pytest.raises(
        TypeError, match=r"backward: the output has dtype int64: it has no gradient.*bools, as in a sum"
    ):
        total.backward()
    with pytest.raises(TypeError, match="requires_grad=False"):
        (Variable(np.array([1, 2]), requires_grad=False) * 2).backward()


def test_backward_from_a_bool_variable_is_refused():
    with pytest.raises(TypeError, match="backward: the output has dtype bool: bools have no gradient"):
        Variable(np.array([True, False])).backward()


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
    ids = Variable(np.array([[1, 0], [2, 1]]), requires_grad=False)
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
