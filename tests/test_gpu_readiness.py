"""What must hold for dezero to run on CuPy as it does on NumPy.

The first part runs everywhere: the device checks and the device moves only
look at an array's type, so a NumPy subclass standing for ``cupy.ndarray``
exercises their logic on the CPU. The second part needs a CUDA device and skips
without one: whole training steps, moves and checkpoints on the GPU, compared
with the same work on the CPU.
"""

import types

import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import Parameter, Variable
from dezero.backend import gpu_enable
from dezero.serialization import load_checkpoint, save_checkpoint
from dezero.layers import LSTM, Layer
from dezero.models import Sequential
from dezero.optimizers import Adam, ClipGrad, MomentumSGD, WeightDecay


class _DeviceArray(np.ndarray):
    """Stands for cupy.ndarray: the checks below only look at the type."""


def _on_device(a):
    return np.array(a).view(_DeviceArray)


@pytest.fixture
def fake_cupy(monkeypatch):
    fake = types.ModuleType("cupy")
    fake.ndarray = _DeviceArray
    monkeypatch.setattr(dezero.core, "cupy", fake)
    monkeypatch.setattr(dezero.backend, "cupy", fake)
    return fake


# =============================================================================
# Device checks and moves, on the CPU
# =============================================================================
def test_inputs_on_two_devices_name_the_op_and_the_inputs(fake_cupy):
    a, b = np.ones(3), _on_device(np.ones(3))
    with pytest.raises(
        TypeError,
        match=r"Mul: inputs live on different devices "
        r"\(input 0: numpy, input 1: cupy\).*to_gpu",
    ):
        F.mul(Variable(a), Variable(b))
    with pytest.raises(TypeError, match="Add: inputs live on different devices"):
        Variable(a) + b
    # Same device, or an absent bias (data None): no complaint.
    np.testing.assert_array_equal(F.mul(Variable(a), Variable(a)).data, a)
    assert F.linear(Variable(np.ones((2, 3))), Variable(np.ones((3, 4)))).shape == (2, 4)


def test_backward_refuses_a_grad_on_another_device(fake_cupy):
    y = Variable(_on_device(np.ones(3)))
    with pytest.raises(TypeError, match="backward: grad is a numpy array but the output a cupy one"):
        y.backward(grad=np.ones(3))


def test_accuracy_refuses_labels_on_another_device(fake_cupy):
    with pytest.raises(TypeError, match="accuracy: y and t live on different devices"):
        F.accuracy(_on_device(np.zeros((2, 3))), np.array([0, 1]))


def test_optimizer_state_follows_its_parameter_to_another_device(fake_cupy, monkeypatch):
    monkeypatch.setattr(dezero.optimizers, "as_cupy", _on_device)
    model = Layer()
    model.p = Parameter(np.zeros(3))
    opt = MomentumSGD(lr=0.1, momentum=0.9).setup(model)
    model.p.grad = Variable(np.ones(3))
    opt.update()  # v = -0.1, made on the CPU
    model.p.data = _on_device(model.p.data)  # what to_gpu does to the parameter
    model.p.grad = Variable(_on_device(np.ones(3)))
    opt.update()
    v = opt.state[model.p]["v"]
    assert isinstance(v, _DeviceArray)
    np.testing.assert_allclose(np.asarray(v), 0.9 * -0.1 - 0.1)
    np.testing.assert_allclose(np.asarray(model.p.data), -0.1 + (0.9 * -0.1 - 0.1))


def test_recurrent_state_moves_with_the_layer_as_a_new_leaf():
    lstm = LSTM(3, in_size=2, dtype=np.float64)
    lstm(np.ones((1, 2)))
    lstm(np.ones((1, 2)))
    h, c = lstm.h, lstm.c
    lstm._move("numpy", lambda a: _on_device(a))  # a stand-in for the conversion to_gpu makes
    for old, new in ((h, lstm.h), (c, lstm.c)):
        assert isinstance(new.data, _DeviceArray)
        np.testing.assert_array_equal(np.asarray(new.data), old.data)
        assert new.creator is None and not new.requires_grad
        assert old.creator is not None  # the caller's Variables are left alone


def test_moving_to_the_device_the_state_is_on_keeps_its_graph():
    lstm = LSTM(3, in_size=2, dtype=np.float64)
    lstm(np.ones((1, 2)))
    lstm(np.ones((1, 2)))
    h, c = lstm.h, lstm.c
    lstm.to_cpu()
    assert lstm.h is h and lstm.c is c and h.creator is not None


# =============================================================================
# On a GPU
# =============================================================================
gpu = pytest.mark.skipif(not gpu_enable, reason="CuPy or a CUDA device is missing")


def _cnn(seed=0):
    """A small CNN with lazy layers, initialised by one forward pass on the CPU
    (so two calls give identical models whatever device they go to later)."""
    np.random.seed(seed)
    model = Sequential(
        L.Conv2d(4, 3, pad=1, dtype=np.float64),
        L.BatchNorm(),
        F.relu,
        lambda x: F.pooling(x, 2, 2),
        F.flatten,
        L.Linear(3, dtype=np.float64),
    )
    model(np.random.randn(2, 2, 6, 6))
    return model


def _train(model, xp, steps=3):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((4, 2, 6, 6)), np.array([0, 2, 1, 2])
    opt = Adam(alpha=0.01).setup(model)
    opt.add_hook(ClipGrad(1.0))
    opt.add_hook(WeightDecay(1e-4))
    losses = []
    for _ in range(steps):
        loss = F.softmax_cross_entropy(model(xp.asarray(x)), xp.asarray(t))
        model.cleargrads()
        loss.backward()
        opt.update()
        losses.append(float(loss.data))
    return losses, opt


@gpu
def test_training_steps_on_the_gpu_match_the_cpu():
    import cupy

    cpu_losses, _ = _train(_cnn(), np)
    model = _cnn().to_gpu()
    gpu_losses, opt = _train(model, cupy)
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-7)
    reference = _cnn()
    _train(reference, np)
    for (path, p), (_, q) in zip(model.named_params(), reference.named_params()):
        assert isinstance(p.data, cupy.ndarray), path
        assert isinstance(opt.state[p]["m"], cupy.ndarray), path
        np.testing.assert_allclose(cupy.asnumpy(p.data), q.data, rtol=1e-6, atol=1e-9, err_msg=path)
    bn = model.l1
    assert isinstance(bn.avg_mean, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(bn.avg_var), reference.l1.avg_var, rtol=1e-7)


@gpu
def test_optimizer_state_follows_the_model_to_the_gpu_and_back():
    import cupy

    model = _cnn()
    _, opt = _train(model, np, steps=1)
    model.to_gpu()
    rng = np.random.default_rng(2)
    loss = F.softmax_cross_entropy(
        model(cupy.asarray(rng.standard_normal((4, 2, 6, 6)))), cupy.asarray(np.array([0, 1, 2, 0]))
    )
    model.cleargrads()
    loss.backward()
    opt.update()
    assert all(isinstance(opt.state[p]["v"], cupy.ndarray) for p in model.params())
    model.to_cpu()
    model.cleargrads()
    F.sum(model(np.ones((1, 2, 6, 6)))).backward()
    opt.update()
    assert all(isinstance(opt.state[p]["v"], np.ndarray) for p in model.params())


@gpu
def test_checkpoint_of_a_gpu_model_and_optimizer(tmp_path):
    import cupy

    model = _cnn().to_gpu()
    _, opt = _train(model, cupy, steps=2)
    save_checkpoint(tmp_path / "c.npz", model, opt, epoch=2)
    assert all(isinstance(p.data, cupy.ndarray) for p in model.params())  # saving moves nothing

    on_cpu, opt_cpu = _cnn(seed=5), Adam(alpha=0.01)
    assert load_checkpoint(tmp_path / "c.npz", on_cpu, opt_cpu) == {"epoch": 2}
    on_gpu, opt_gpu = _cnn(seed=6).to_gpu(), Adam(alpha=0.01)
    load_checkpoint(tmp_path / "c.npz", on_gpu, opt_gpu)
    for (path, p), (_, q), (_, r) in zip(model.named_params(), on_cpu.named_params(), on_gpu.named_params()):
        np.testing.assert_array_equal(q.data, cupy.asnumpy(p.data), err_msg=path)
        assert isinstance(r.data, cupy.ndarray)
        assert isinstance(opt_cpu.state[q]["m"], np.ndarray)
        assert isinstance(opt_gpu.state[r]["m"], cupy.ndarray)
        np.testing.assert_array_equal(cupy.asnumpy(opt_gpu.state[r]["v"]), cupy.asnumpy(opt.state[p]["v"]))
    assert opt_gpu.t == opt.t == 2
    _train(on_gpu, cupy, steps=1)  # training goes on from there


@gpu
def test_lazy_layers_after_to_gpu_are_created_on_the_gpu():
    import cupy

    model = Sequential(L.Conv2d(3, 3), L.BatchNorm(), F.flatten, L.Linear(2)).to_gpu()
    y = model(cupy.ones((2, 1, 5, 5), dtype=np.float32))
    assert isinstance(y.data, cupy.ndarray) and y.dtype == np.float32
    assert all(isinstance(p.data, cupy.ndarray) for p in model.params())
    assert isinstance(model.l1.avg_mean, cupy.ndarray)


@gpu
def test_recurrent_state_moves_with_the_model():
    import cupy

    lstm = LSTM(3, in_size=2)
    lstm(np.ones((1, 2), dtype=np.float32))
    lstm.to_gpu()
    assert isinstance(lstm.h.data, cupy.ndarray) and isinstance(lstm.c.data, cupy.ndarray)
    y = lstm(cupy.ones((1, 2), dtype=np.float32))
    F.sum(y).backward()
    assert isinstance(lstm.x2h.W.grad.data, cupy.ndarray)


@gpu
def test_dataloader_gpu_batches():
    import cupy

    data = [(np.full(2, i, dtype=np.float32), i) for i in range(5)]
    loader = dezero.DataLoader(data, batch_size=2, shuffle=False, gpu=True)
    x, t = next(loader)
    assert isinstance(x, cupy.ndarray) and isinstance(t, cupy.ndarray)
    assert x.dtype == np.float32 and t.dtype.kind == "i"
    np.testing.assert_array_equal(cupy.asnumpy(t), [0, 1])
    on_device = [(cupy.full(2, i, dtype=np.float32), cupy.asarray(i)) for i in range(3)]
    x, t = next(dezero.DataLoader(on_device, batch_size=3, shuffle=False))
    np.testing.assert_array_equal(t, [0, 1, 2])


@gpu
def test_scatter_gradients_on_the_gpu():
    import cupy

    x = Variable(cupy.arange(12, dtype=np.float64).reshape(4, 3))
    F.sum(x[cupy.asarray([0, 2, 0])] * 2.0).backward()
    np.testing.assert_array_equal(cupy.asnumpy(x.grad.data)[:, 0], [4, 0, 2, 0])
    x.cleargrad()
    F.sum(x[np.array([True, False, True, False])]).backward()  # a host mask works too
    np.testing.assert_array_equal(cupy.asnumpy(x.grad.data)[:, 1], [1, 0, 1, 0])
    W = Variable(cupy.ones((5, 2), dtype=np.float32))
    F.sum(F.embed_id(cupy.asarray([[1, 1], [4, 1]]), W)).backward()
    np.testing.assert_array_equal(cupy.asnumpy(W.grad.data)[:, 0], [0, 3, 0, 0, 1])
    with pytest.raises(IndexError, match="embed_id: id 5 is out of range"):
        F.embed_id(cupy.asarray([5]), W)
    with pytest.raises(ValueError, match="label 3 is out of range"):
        F.softmax_cross_entropy(cupy.zeros((2, 3)), cupy.asarray([0, 3]))


@gpu
@pytest.mark.parametrize("with_inf", [False, True])
def test_pooling_gradients_on_the_gpu_match_the_cpu(with_inf):
    import cupy

    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 7))
    for k, s, p in ((3, 2, 1), (2, 2, 0)):
        oh = (7 + 2 * p - k) // s + 1
        gy = rng.standard_normal((2, 3, oh, oh))
        if with_inf:
            gy[0, 0, 0, 0] = np.inf
        for pool in (F.pooling, F.average_pooling):
            on_cpu, on_gpu = Variable(x.copy()), Variable(cupy.asarray(x))
            pool(on_cpu, k, s, p).backward(grad=gy)
            pool(on_gpu, k, s, p).backward(grad=cupy.asarray(gy))
            np.testing.assert_array_equal(cupy.asnumpy(on_gpu.grad.data), on_cpu.grad.data)


@gpu
def test_float32_stays_float32_on_the_gpu():
    import cupy

    x = Variable(cupy.ones((2, 3), dtype=np.float32))
    for y in (
        F.sigmoid(x),
        F.leaky_relu(x),
        x / 2.0,
        2.0 - x,
        x**2,
        F.dropout(x),
        F.clip(x, 0.1, 0.9),
        F.softmax(x),
        F.log_softmax(x),
    ):
        assert y.dtype == np.float32 and isinstance(y.data, cupy.ndarray)
    y = F.sum(F.sigmoid(x) * np.float64(3.0))
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
