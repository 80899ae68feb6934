"""Edge cases found in review: each test failed before its fix."""
import gzip
import os
import pickle
import stat

import numpy as np
import pytest

import dezero.functions as F
import dezero.layers as L
import dezero.optimizers as optim
from dezero.datasets import read_idx
from dezero.files import get_file
from dezero.models import MLP, Sequential


@pytest.mark.parametrize("later_hook", [optim.ClipGrad(0.1), optim.WeightDecay(0.1)], ids=["ClipGrad", "WeightDecay"])
def test_hooks_after_freeze_param_see_only_the_remaining_gradients(later_hook):
    model = MLP((4, 2))
    x = np.ones((2, 3), np.float32)
    model(x)
    optimizer = optim.SGD(lr=0.1).setup(model)
    optimizer.add_hook(optim.FreezeParam(model.l0))
    optimizer.add_hook(later_hook)
    frozen = model.l0.W.data.copy()
    trained = model.l1.W.data.copy()
    model.cleargrads()
    F.sum(model(x)).backward()
    optimizer.update()
    np.testing.assert_array_equal(model.l0.W.data, frozen)
    assert not np.array_equal(model.l1.W.data, trained)


@pytest.mark.parametrize("layer_class", [L.RNN, L.LSTM])
def test_recurrent_state_from_another_batch_size_is_an_error(layer_class):
    layer = layer_class(3, in_size=2)
    layer(np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="batch size 1 but the state has 4; call reset_state"):
        layer(np.ones((1, 2), np.float32))
    layer.reset_state()
    assert layer(np.ones((1, 2), np.float32)).shape == (1, 3)


def test_layers_pickle_after_a_forward_pass():
    model = Sequential(L.LSTM(4, in_size=3), L.Linear(2))
    x = np.ones((2, 3), np.float32)
    y = model(x)
    clone = pickle.loads(pickle.dumps(model))
    for (name, p), (name2, q) in zip(model.named_params(), clone.named_params()):
        assert name == name2
        np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_allclose(clone(x).data, model(x).data)
    assert y.shape == (2, 2)


def test_downloaded_files_get_the_usual_permissions(tmp_path, monkeypatch):
    monkeypatch.setenv("DEZERO_HOME", str(tmp_path / "cache"))
    src = tmp_path / "data.bin"
    src.write_bytes(b"payload")
    old_umask = os.umask(0o022)
    try:
        path = get_file(src.as_uri(), progress=False)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_read_idx_accepts_path_objects(tmp_path):
    data = np.arange(6, dtype=np.uint8).reshape(2, 3)
    header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    path = tmp_path / "a.idx.gz"
    with gzip.open(path, "wb") as f:
        f.write(header + data.tobytes())
    np.testing.assert_array_equal(read_idx(path), data)


# --- core and functions --------------------------------------------------------------
def test_each_grad_owns_a_writable_array():
    from dezero import Variable

    a, b = Variable(np.ones(3)), Variable(np.ones(3))
    (a + b).backward()
    assert a.grad is not b.grad
    a.grad.data *= 0
    np.testing.assert_array_equal(b.grad.data, np.ones(3))
    seed = np.array([1.0, 2.0, 3.0])
    c, d = Variable(np.ones(3)), Variable(np.ones(3))
    (c - d).backward(grad=seed)
    assert c.grad.data is not seed
    x = Variable(np.ones((2, 3)))
    F.sum(x).backward()  # the gradient of a sum is a broadcast view
    x.grad.data *= 0.5
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 0.5))


def test_retained_intermediate_grads_accumulate_like_leaves():
    from dezero import Variable

    x = Variable(np.array(2.0))
    h = x * 3.0
    y = h * h
    y.backward(retain_grad=True)
    y.backward(retain_grad=True)
    assert x.grad.data == 72.0 and h.grad.data == 24.0 and y.grad.data == 1.0


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
    F.sum(x ** 0).backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    base, exponent = Variable(np.array([0.0, 0.0, 2.0])), Variable(np.array([0.0, 2.0, 0.0]))
    F.sum(base ** exponent).backward()
    np.testing.assert_array_equal(base.grad.data, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(exponent.grad.data, [0.0, 0.0, np.log(2.0)])


def test_gradient_check_refuses_a_non_finite_numerical_gradient():
    from dezero import Function
    from dezero.utils import GradientCheckError, gradient_check

    class WrongSqrt(Function):
        def forward(self, x):
            return np.sqrt(x)

        def backward(self, gy):
            return gy * 123.0

    with np.errstate(invalid="ignore"):
        with pytest.raises(GradientCheckError, match="not finite"):
            gradient_check(lambda v: WrongSqrt()(v), np.array([1e-5, 1e-6]))


@pytest.mark.parametrize("reduce", [F.sum, F.max, F.min, F.mean])
def test_reducing_a_0d_input_over_axis_0(reduce):
    from dezero import Variable

    x = Variable(np.array(3.0))
    y = reduce(x, axis=0)
    assert y.shape == () and y.data == 3.0
    y.backward()
    assert x.grad.data == 1.0


@pytest.mark.parametrize("op, name, shape_b", [
    (lambda a, b: a + b, "Add", (5, 4)),
    (lambda a, b: a * b, "Mul", (5, 4)),
    (lambda a, b: a - b, "Sub", (5, 4)),
    (lambda a, b: a / b, "Div", (5, 4)),
    (F.matmul, "MatMul", (3, 4, 2)),  # batch dimensions 2 and 3 clash
])
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
