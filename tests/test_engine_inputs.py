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
@pytest.mark.parametrize(
    "op",
    [
        lambda a, c: a - c,
        lambda a, c: c - a,
        lambda a, c: a + c,
        lambda a, c: c + a,
        lambda a, c: a * c,
        lambda a, c: c * a,
    ],
    ids=["sub", "rsub", "add", "radd", "mul", "rmul"],
)
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


def test_a_python_int_that_does_not_fit_the_integer_dtype_behaves_as_in_numpy():
    # NumPy 2 refuses it (and dezero's error names the op); NumPy 1.x promotes
    # to a wider integer type.
    try:
        expected = np.array([1], dtype=np.uint8) - 300
    except OverflowError:
        u = Variable(np.array([1], dtype=np.uint8))
        hint = r"\(inputs of dtype uint8\).*cast the array to a wider dtype first"
        with pytest.raises(OverflowError, match="SubConstant: Python integer 300 out of bounds for uint8 " + hint):
            u - 300
        with pytest.raises(OverflowError, match=r"Sub: input 0 \(300\): Python integer 300 out of bounds .*" + hint):
            300 - u
        with pytest.raises(OverflowError, match="MulConstant: Python integer 300 out of bounds"):
            u * 300
        with pytest.raises(OverflowError, match=r"Add: input 1 \(\[300\]\): Python integer 300 out of bounds"):
            F.add(u, [300])
        return
    y = Variable(np.array([1], dtype=np.uint8)) - 300
    assert y.dtype == expected.dtype
    np.testing.assert_array_equal(y.data, expected)


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
    (gx,) = dezero.grad(F.sum((3.0 - x) ** 2), [x])
    np.testing.assert_array_equal(gx.data, np.array([-4.0, -2.0], dtype=dtype))


# --- lists (and tuples) of numbers ------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "op",
    [
        lambda v, seq: v + seq,
        lambda v, seq: seq + v,
        lambda v, seq: v * seq,
        lambda v, seq: seq - v,
        lambda v, seq: v / seq,
    ],
    ids=["add", "radd", "mul", "rsub", "div"],
)
@pytest.mark.parametrize(
    "seq", [[1.0, 2.0], [1, 2], (1.5, 2.5), [True, True]], ids=["floats", "ints", "tuple", "bools"]
)
def test_a_list_operand_takes_the_floating_dtype_of_the_array_operand(op, seq, dtype):
    data = np.array([3.0, 4.0], dtype=dtype)
    v = Variable(data)
    y = op(v, seq)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, op(data, np.array(seq, dtype=dtype)), rtol=1e-6)


def test_a_list_operand_gets_no_gradient_and_the_variable_gets_the_right_one():
    x = Variable(np.array([1.0, 2.0], dtype=np.float32))
    y = F.sum(x * [3.0, 4.0] - [[1.0], [2.0]])  # broadcast to (2, 2)
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [6.0, 8.0])


def test_a_list_alone_becomes_what_numpy_makes_of_it():
    y = F.sin([0.0, 1.0])
    assert y.dtype == np.float64 and y.creator is None
    np.testing.assert_allclose(y.data, np.sin([0.0, 1.0]))
    z = F.add([1, 2], [3, 4])
    assert z.dtype == np.asarray([1, 2]).dtype
    np.testing.assert_array_equal(z.data, [4, 6])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_linear_and_mean_squared_error_take_lists_in_the_weights_dtype(dtype):
    W = Variable(np.ones((2, 3), dtype=dtype))
    b = Variable(np.full(3, 0.5, dtype=dtype))
    for y in (F.matmul([[1.0, 2.0]], W), [[1.0, 2.0]] @ W, F.linear([[1.0, 2.0]], W, b)):
        assert y.dtype == dtype and y.shape == (1, 3)
    np.testing.assert_allclose(F.linear([[1.0, 2.0]], W, b).data, [[3.5, 3.5, 3.5]])
    loss = F.mean_squared_error(F.linear([[1.0, 2.0]], W, b), [[3.0, 4.0, 3.5]])
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss.data, 0.25 + 0.25 + 0.0)


@pytest.mark.parametrize(
    "bad, error",
    [
        (["a", "b"], TypeError),
        ([[1.0], [2.0, 3.0]], ValueError),
        ([None, 1.0], TypeError),
    ],
    ids=["strings", "ragged", "none"],
)
def test_a_list_that_is_not_a_rectangle_of_numbers_is_refused_naming_the_op(bad, error):
    with pytest.raises(error, match="Add: input 1"):
        Variable(np.ones(2)) + bad


def test_a_list_of_variables_is_refused():
    v = Variable(np.ones(2))
    with pytest.raises(TypeError, match="Mul: input 1"):
        v * [v, v]


def test_variable_itself_asks_for_an_array_with_an_explicit_dtype():
    with pytest.raises(TypeError, match=r"Variable\(data\).*list.*np\.array"):
        Variable([1.0, 2.0])


# --- models and layers given lists -------------------------------------------------------------
def test_a_float32_model_given_nested_lists_computes_in_float32():
    from dezero.models import MLP

    model = MLP((4, 2))  # float32, lazily sized
    y = model([[1.0, 2.0, 3.0]])
    assert y.dtype == np.float32 and y.shape == (1, 2)
    np.testing.assert_allclose(y.data, model(np.array([[1.0, 2.0, 3.0]], dtype=np.float32)).data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_lazy_linear_layer_without_bias_is_sized_from_a_list_in_its_dtype(dtype):
    import dezero.layers as L

    layer = L.Linear(3, nobias=True, dtype=dtype)
    y = layer([[1.0, 2.0]])
    assert layer.W.shape == (2, 3) and y.dtype == dtype
    F.sum(y).backward()
    assert layer.W.grad.dtype == dtype


# --- labels, targets and ids given as lists ---------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_losses_and_accuracy_take_labels_and_targets_as_lists(dtype):
    logits = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]], dtype=dtype)
    labels = np.array([1, 2])
    for f in (F.softmax_cross_entropy, F.accuracy):
        from_list, from_array = f(logits, [1, 2]), f(logits, labels)
        assert from_list.dtype == from_array.dtype == dtype
        np.testing.assert_array_equal(from_list.data, from_array.data)
    scores = np.array([[0.5], [-1.5]], dtype=dtype)
    for f, x in ((F.sigmoid_cross_entropy, scores), (F.binary_cross_entropy, 1 / (1 + np.exp(-scores)))):
        from_list, from_array = f(x, [[1], [0]]), f(x, np.array([[1], [0]]))
        assert from_list.dtype == dtype
        np.testing.assert_allclose(from_list.data, from_array.data, rtol=1e-6)


def test_a_ragged_list_of_labels_is_refused_naming_the_op_and_argument():
    with pytest.raises(ValueError, match="softmax_cross_entropy: t given as a list: .*rectangle of numbers"):
        F.softmax_cross_entropy(np.ones((2, 3)), [[1], [2, 0]])


def test_embed_id_and_the_embed_layer_take_ids_as_lists():
    import dezero.layers as L

    W = Variable(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(F.embed_id([2, 0], W).data, [[4.0, 5.0], [0.0, 1.0]])
    layer = L.EmbedID(5, 2)
    np.testing.assert_array_equal(layer([[1, 4]]).data, layer(np.array([[1, 4]])).data)
    with pytest.raises(TypeError, match="embed_id: x must be an integer array of ids, got float64"):
        layer([1.5, 2.0])  # ids, not values: not made floating by the layer, refused as they are
    assert F.embed_id([], W).shape == (0, 2)  # no ids: an empty batch of rows


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
    with pytest.raises(
        ValueError,
        match=re.escape(f"item(): only a size-1 Variable converts to a Python scalar, got shape {data.shape}"),
    ):
        v.item()
    with pytest.raises(
        TypeError,
        match=re.escape(f"float(): only a size-1 Variable converts to a Python scalar, got shape {data.shape}"),
    ):
        float(v)
    with pytest.raises(TypeError, match=re.escape("int(): only a size-1 Variable")):
        int(v)


def test_item_of_an_integer_variable_is_an_int():
    assert Variable(np.array([7])).item() == 7 and type(Variable(np.array([7])).item()) is int
