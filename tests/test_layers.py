"""Layers: registration (one source of truth), traversal, the concrete layers
against closed forms or plain loops, devices, summary and plot."""

import collections
import gc
import math
import pickle
import time
import types

import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.optimizers
from dezero import Parameter, Variable
from dezero.backend import as_numpy, gpu_enable
from dezero.models import Sequential
from dezero.layers import LSTM, RNN, BatchNorm, Conv2d, Deconv2d, EmbedID, Layer, LayerList, Linear
from dezero.utils import gradient_check, numerical_grad
from tests.conftest import tolerances


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Two(Layer):
    def __init__(self):
        super().__init__()
        self.l1 = Linear(3, in_size=2)
        self.l2 = Linear(1, in_size=3)

    def forward(self, x):
        return self.l2(F.sigmoid(self.l1(x)))


# =============================================================================
# Registration and traversal
# =============================================================================
def test_params_in_assignment_order_with_paths():
    class Net(Layer):
        def __init__(self):
            super().__init__()
            self.z = Parameter(np.zeros(1))
            self.inner = Two()
            self.a = Parameter(np.ones(2))
            self.not_a_param = np.ones(3)  # plain arrays are not parameters
            self.name_ = "x"

    net = Net()
    paths = [p for p, _ in net.named_params()]
    assert paths == ["z", "inner/l1/W", "inner/l1/b", "inner/l2/W", "inner/l2/b", "a"]
    assert [id(p) for p in net.params()] == [id(p) for _, p in net.named_params()]
    assert list(net.flatten_params()) == paths
    assert net.flatten_params()["a"] is net.a


def test_replacing_a_parameter_is_seen_everywhere():
    # The pitfall this design removes: a second dict of parameters that keeps
    # the old array after the user replaced the weight.
    net = Two()
    x = np.ones((1, 2), dtype=np.float32)
    new_W = Parameter(np.full((2, 3), 0.5, dtype=np.float32))
    net.l1.W = new_W
    assert net.flatten_params()["l1/W"] is new_W
    assert any(p is new_W for p in net.params())
    h = x @ new_W.data + net.l1.b.data
    expected = _sigmoid(h) @ net.l2.W.data + net.l2.b.data
    np.testing.assert_allclose(net(x).data, expected, rtol=1e-6)
    # ... and replacing a whole sub-layer too, keeping its position.
    net.l1 = Linear(3, in_size=2)
    assert [p for p, _ in net.named_params()] == ["l1/W", "l1/b", "l2/W", "l2/b"]
    assert net.flatten_params()["l1/W"] is net.l1.W


def test_delete_and_reassign_to_non_parameter_unregister():
    layer = Linear(2, in_size=3)
    layer.b = None
    assert [p for p, _ in layer.named_params()] == ["W"]
    del layer.W
    assert list(layer.params()) == []
    layer.W = Parameter(np.zeros((3, 2), dtype=np.float32))
    assert [p for p, _ in layer.named_params()] == ["W"]


def test_shared_parameters_and_layers_yield_once():
    class Tied(Layer):
        def __init__(self):
            super().__init__()
            self.enc = Linear(3, in_size=3)
            self.dec = Linear(3, in_size=3)
            self.dec.W = self.enc.W  # tied weights
            self.again = self.enc  # the same sub-layer twice

    net = Tied()
    paths = [p for p, _ in net.named_params()]
    assert paths == ["enc/W", "enc/b", "dec/b"]
    assert len(list(net.params())) == 3


def test_list_of_layers_is_refused():
    class Bad(Layer):
        def __init__(self):
            super().__init__()
            self.blocks = [Linear(2), Linear(3)]

    with pytest.raises(TypeError, match="blocks.*not registered"):
        Bad()


@pytest.mark.parametrize(
    "blocks",
    [
        lambda: [[Linear(2)]],
        lambda: {"a": [Linear(2)]},
        lambda: ({"a": (Linear(2),)},),
        lambda: collections.OrderedDict(a=Linear(2)),
        lambda: {Linear(2)},
    ],
    ids=["list of lists", "dict of lists", "tuple of dicts of tuples", "OrderedDict", "set"],
)
def test_layers_nested_in_plain_containers_are_refused(blocks):
    class Bad(Layer):
        def __init__(self):
            super().__init__()
            self.blocks = blocks()

    with pytest.raises(TypeError, match="Bad.blocks: a .* of Layers/Parameters is not registered"):
        Bad()


@pytest.mark.parametrize("container", [list, dict, collections.OrderedDict])
def test_an_empty_container_filled_with_layers_later_is_refused_when_parameters_are_gathered(container):
    class Blocks(Layer):
        def __init__(self):
            super().__init__()
            self.blocks = container()
            for i in range(2):
                if container is list:
                    self.blocks.append([Linear(2)])  # nested: found as well
                else:
                    self.blocks[f"b{i}"] = Linear(2)

    net = Blocks()
    message = f"Blocks.blocks: a {container.__name__} of Layers/Parameters is not registered.*LayerList"
    with pytest.raises(TypeError, match=message):
        list(net.params())
    with pytest.raises(TypeError, match=message):
        dezero.optimizers.SGD().setup(net).update()
    with pytest.raises(TypeError, match=message):
        net.to_cpu()


def test_plain_lists_of_values_stay_allowed_and_cheap_to_check():
    class Logged(Layer):
        def __init__(self):
            super().__init__()
            self.l1 = Linear(2, in_size=2)
            self.history = []
            self.options = {}

    net = Logged()
    assert [p for p, _ in net.named_params()] == ["l1/W", "l1/b"]
    net.history.append(0.5)
    net.options["lr"] = 0.1
    assert len(list(net.params())) == 2
    assert net._watched_containers == []  # seen holding data: not looked at again


def _deeply_nested(depth):
    blocks = [Linear(2)]
    for _ in range(depth):
        blocks = [blocks]
    return blocks


@pytest.mark.parametrize(
    "blocks",
    [
        lambda: collections.deque([Linear(2)]),
        lambda: collections.UserList([Linear(2)]),
        lambda: collections.UserDict(a=Linear(2)),
        lambda: collections.ChainMap({}, {"a": Linear(2)}),
        lambda: types.SimpleNamespace(encoder=Linear(2)),
        lambda: np.array([Linear(2), Linear(3)], dtype=object),
        lambda: {"a": Linear(2)}.values(),
        lambda: {Linear(2): "encoder"},
        lambda: [1.0, "x", (Parameter(np.ones(2)),)],
        lambda: _deeply_nested(100),
    ],
    ids=[
        "deque",
        "UserList",
        "UserDict",
        "ChainMap",
        "SimpleNamespace",
        "object ndarray",
        "dict values",
        "dict keys",
        "Parameter among data",
        "100 deep",
    ],
)
def test_layers_in_any_kind_of_container_are_refused(blocks):
    class Bad(Layer):
        def __init__(self):
            super().__init__()
            self.blocks = blocks()

    with pytest.raises(TypeError, match="Bad.blocks: a .* of Layers/Parameters is not registered"):
        Bad()


@pytest.mark.parametrize(
    "empty, fill",
    [
        (lambda: [[]], lambda blocks: blocks[0].append(Linear(2))),
        (lambda: [[], []], lambda blocks: blocks[1].append([Linear(2)])),
        (lambda: {"encoder": []}, lambda blocks: blocks["encoder"].append(Linear(2))),
        (lambda: [None, None], lambda blocks: blocks.__setitem__(0, Linear(2))),
        (lambda: collections.deque(), lambda blocks: blocks.append(Linear(2))),
        (lambda: types.SimpleNamespace(), lambda blocks: setattr(blocks, "encoder", Linear(2))),
    ],
    ids=["list of an empty list", "list of empty lists", "dict of an empty list", "None slots", "deque", "namespace"],
)
def test_a_container_of_empty_containers_stays_watched_until_it_holds_data(empty, fill):
    # Before: [[]] stopped being watched at the first params(), being non-empty,
    # so a Layer appended to the inner list later went unseen.
    class Blocks(Layer):
        def __init__(self):
            super().__init__()
            self.l1 = Linear(2, in_size=2)
            self.blocks = empty()

    net = Blocks()
    assert len(list(net.params())) == 2
    assert net._watched_containers == ["blocks"]
    fill(net.blocks)
    with pytest.raises(TypeError, match="Blocks.blocks: a .* of Layers/Parameters is not registered"):
        list(net.params())


def test_a_container_stops_being_watched_once_it_holds_data():
    class Logged(Layer):
        def __init__(self):
            super().__init__()
            self.l1 = Linear(2, in_size=2)
            self.history = [[]]
            self.by_name = {"loss": []}

    net = Logged()
    list(net.params())
    assert net._watched_containers == ["history", "by_name"]
    net.history[0].append(0.5)
    net.by_name["loss"].append(np.float32(0.25))
    assert len(list(net.params())) == 2
    assert net._watched_containers == []


def test_a_container_that_holds_itself_is_checked_once():
    class Cyclic(Layer):
        def __init__(self):
            super().__init__()
            self.l1 = Linear(2, in_size=2)
            self.loop = []
            self.loop.append(self.loop)

    net = Cyclic()
    assert len(list(net.params())) == 2
    net.loop.append({"inner": net.loop, "layer": Linear(2)})
    with pytest.raises(TypeError, match="Cyclic.loop: a list of Layers/Parameters is not registered"):
        list(net.params())


def test_iterators_and_generators_on_a_layer_are_not_consumed_by_the_check():
    layer = Linear(2, in_size=2)
    layer.numbers = (i for i in range(3))
    layer.stream = iter([1, 2, 3])
    layer.counter = range(10**12)  # a data sequence, never iterated
    assert len(list(layer.params())) == 2
    assert list(layer.numbers) == [0, 1, 2] and list(layer.stream) == [1, 2, 3]


def test_a_large_data_list_on_a_layer_keeps_assignment_and_params_cheap():
    layer = Linear(2, in_size=2)
    data = [float(i) for i in range(10**6)]
    start = time.perf_counter()
    layer.history = data  # one pass over it (about 10 ms)
    for _ in range(100):
        list(layer.params())
    elapsed = time.perf_counter() - start
    assert layer._watched_containers == []  # data: never looked at again
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    layer.rows = [[float(i)] * 3 for i in range(1000)] + [np.arange(3), Variable(np.ones(2)), "text"]
    assert layer._watched_containers == []


def test_assigning_a_variable_where_a_parameter_was_is_refused():
    layer = Linear(2, in_size=3)
    b = layer.b
    with pytest.raises(
        TypeError,
        match=r"Linear.b is a Parameter: assigning a Variable would take it out of "
        r"params\(\).*Parameter\(array\).*\.b\.data = array",
    ):
        layer.b = Variable(np.ones(2, np.float32))
    with pytest.raises(TypeError, match="Linear.W is a Parameter: assigning a ndarray"):
        layer.W = np.ones((3, 2), np.float32)
    assert layer.b is b and [p for p, _ in layer.named_params()] == ["W", "b"]
    layer.b = Parameter(np.ones(2, np.float32))  # the way to replace it
    assert [p for p, _ in layer.named_params()] == ["W", "b"] and layer.b is not b
    del layer.b  # and the way to store something else under that name
    layer.b = Variable(np.ones(2, np.float32))
    assert [p for p, _ in layer.named_params()] == ["W"]


def test_subclass_without_super_init_still_registers():
    class Forgetful(Layer):
        def __init__(self):
            self.W = Parameter(np.ones(2))

    assert [p for p, _ in Forgetful().named_params()] == ["W"]


# --- LayerList -----------------------------------------------------------------------
class Tower(Layer):
    def __init__(self, depth, width=3):
        super().__init__()
        self.blocks = LayerList(*[Linear(width) for _ in range(depth)])
        self.head = Linear(1)

    def forward(self, x):
        for block in self.blocks:
            x = F.tanh(block(x))
        return self.head(x)


def test_layer_list_registers_its_layers_in_order_under_their_index():
    np.random.seed(0)
    net = Tower(2)
    net.blocks.append(Linear(3))
    net(np.ones((4, 2), np.float32))
    assert [p for p, _ in net.named_params()] == [
        "blocks/0/W",
        "blocks/0/b",
        "blocks/1/W",
        "blocks/1/b",
        "blocks/2/W",
        "blocks/2/b",
        "head/W",
        "head/b",
    ]
    assert len(net.blocks) == 3 and net.blocks[-1] is net.blocks[2] and net.blocks[1:] == list(net.blocks)[1:]
    replacement = Linear(3, in_size=3)
    net.blocks[1] = replacement
    assert net.blocks[1] is replacement and net.flatten_params()["blocks/1/W"] is replacement.W


def test_layer_list_parameters_are_trained_and_saved(tmp_path):
    np.random.seed(0)
    net = Tower(2)
    x = np.random.randn(5, 2).astype(np.float32)
    net(x)
    before = net.blocks[0].W.data.copy()
    optimizer = dezero.optimizers.SGD(lr=0.1).setup(net)
    net.cleargrads()
    F.sum(net(x) ** 2).backward()
    optimizer.update()
    assert not np.array_equal(net.blocks[0].W.data, before)
    net.save_weights(tmp_path / "tower.npz")
    other = Tower(2)  # lazy: shapes come from the file
    other.load_weights(tmp_path / "tower.npz")
    for (path, a), (_, b) in zip(net.named_params(), other.named_params()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=path)
    np.testing.assert_array_equal(other(x).data, net(x).data)


@pytest.mark.skipif(not gpu_enable, reason="CuPy or a CUDA device is missing")
def test_layer_list_moves_to_the_gpu_with_its_owner():
    import cupy

    net = Tower(2)
    net(np.ones((1, 2), np.float32))
    net.blocks.append(Linear(3))  # lazy: created on the GPU at the first call
    net.to_gpu()
    y = net(cupy.ones((1, 2), np.float32))
    assert all(isinstance(p.data, cupy.ndarray) for p in net.params())
    assert isinstance(y.data, cupy.ndarray)


def test_layer_list_is_moved_with_its_owner():
    net = Tower(2)
    net.to_cpu()
    assert all(block._backend == "numpy" for block in net.blocks)


def test_layer_list_refuses_what_is_not_a_layer_and_has_no_forward():
    with pytest.raises(
        TypeError,
        match=r"LayerList.append: expected a Layer, got list \(pass the layers "
        r"themselves: LayerList\(\*layers\)\)",
    ):
        LayerList([Linear(2)])
    blocks = LayerList(Linear(2))
    with pytest.raises(TypeError, match="LayerList.append: expected a Layer, got function"):
        blocks.append(F.relu)
    with pytest.raises(TypeError, match="LayerList.__setitem__: expected a Layer, got Parameter"):
        blocks[0] = Parameter(np.zeros(2))
    with pytest.raises(IndexError, match="LayerList index 1 out of range for 1 layers"):
        blocks[1]
    with pytest.raises(NotImplementedError, match="LayerList has no forward: iterate over it"):
        blocks(np.ones((1, 2), np.float32))


def test_parameter_gets_the_attribute_name():
    layer = Layer()
    layer.scale = Parameter(np.ones(1))
    assert layer.scale.name == "scale"


def test_cleargrads():
    net = Two()
    y = net(np.ones((2, 2), dtype=np.float32))
    y.sum().backward()
    assert all(p.grad is not None for p in net.params())
    net.cleargrads()
    assert all(p.grad is None for p in net.params())


def test_call_keeps_weak_references():
    layer = Linear(2, in_size=2)
    x = Variable(np.ones((1, 2), dtype=np.float32))
    y = layer(x)
    assert layer.inputs[0]() is x and layer.outputs[0]() is y
    del y
    gc.collect()
    assert layer.outputs[0]() is None


# =============================================================================
# Linear
# =============================================================================
def test_linear_lazy_shapes_dtype_and_forward(dtype):
    rng = np.random.default_rng(0)
    layer = Linear(4, dtype=dtype)
    assert layer.W.data is None and layer.in_size is None
    x = rng.standard_normal((5, 3)).astype(dtype)
    y = layer(x)
    assert layer.W.shape == (3, 4) and layer.in_size == 3
    assert layer.W.dtype == dtype and layer.b.dtype == dtype and y.dtype == dtype
    np.testing.assert_array_equal(layer.b.data, np.zeros(4))
    np.testing.assert_allclose(y.data, x @ layer.W.data + layer.b.data, rtol=1e-6)


def test_linear_gradients_reach_the_parameters(dtype):
    rng = np.random.default_rng(1)
    layer = Linear(3, in_size=4, dtype=dtype)
    x = rng.standard_normal((2, 4)).astype(dtype)
    gy = rng.standard_normal((2, 3)).astype(dtype)
    y = layer(x)
    y.backward(grad=gy)
    np.testing.assert_allclose(layer.W.grad.data, x.T @ gy, rtol=1e-5)
    np.testing.assert_allclose(layer.b.grad.data, gy.sum(axis=0), rtol=1e-5)
    assert layer.W.grad.dtype == dtype
    # And numerically, through the layer: numerical_grad perturbs layer.W in place.
    tol = tolerances(dtype)
    numeric = numerical_grad(lambda W: layer(x), layer.W, gy=gy)
    np.testing.assert_allclose(layer.W.grad.data, numeric, **tol)


def test_linear_init_is_lecun_normal():
    np.random.seed(0)
    layer = Linear(300, in_size=400)
    W = layer.W.data
    assert W.dtype == np.float32
    assert abs(W.mean()) < 0.002
    assert W.std() == pytest.approx(math.sqrt(1 / 400), rel=0.02)


def test_linear_nobias_and_errors():
    layer = Linear(2, nobias=True)
    assert layer.b is None
    assert [p for p, _ in layer.named_params()] == ["W"]
    with pytest.raises(ValueError, match="Linear: x must be 2-D"):
        layer(np.ones((2, 3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="linear"):
        Linear(2, in_size=5)(np.ones((2, 3), dtype=np.float32))


def test_linear_weights_created_on_the_inputs_backend(xp):
    layer = Linear(2, nobias=True)
    y = layer(xp.ones((1, 3), dtype=np.float32))
    assert dezero.backend.get_array_module(layer.W.data) is xp
    assert dezero.backend.get_array_module(y.data) is xp


# =============================================================================
# Convolutions
# =============================================================================
def _conv_reference(x, W, b, stride, pad):
    N, C, H, Wd = x.shape
    OC, _, KH, KW = W.shape
    xp_ = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    OH = (H + 2 * pad - KH) // stride + 1
    OW = (Wd + 2 * pad - KW) // stride + 1
    y = np.zeros((N, OC, OH, OW))
    for n in range(N):
        for o in range(OC):
            for i in range(OH):
                for j in range(OW):
                    patch = xp_[n, :, i * stride : i * stride + KH, j * stride : j * stride + KW]
                    y[n, o, i, j] = np.sum(patch * W[o]) + (b[o] if b is not None else 0)
    return y


def _deconv_reference(x, W, b, stride, pad):
    N, C, H, Wd = x.shape
    _, OC, KH, KW = W.shape
    full = np.zeros((N, OC, (H - 1) * stride + KH, (Wd - 1) * stride + KW))
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(Wd):
                    full[n, :, i * stride : i * stride + KH, j * stride : j * stride + KW] += x[n, c, i, j] * W[c]
    y = full[:, :, pad : full.shape[2] - pad, pad : full.shape[3] - pad]
    return y + (b.reshape(1, -1, 1, 1) if b is not None else 0)


@pytest.mark.parametrize("stride,pad", [(1, 1), (2, 0)])
def test_conv2d_lazy_and_forward(dtype, stride, pad):
    rng = np.random.default_rng(2)
    layer = Conv2d(3, kernel_size=3, stride=stride, pad=pad, dtype=dtype)
    layer.b.data = rng.standard_normal(3).astype(dtype)
    x = rng.standard_normal((2, 2, 5, 5)).astype(dtype)
    y = layer(x)
    assert layer.W.shape == (3, 2, 3, 3) and layer.in_channels == 2
    assert y.dtype == dtype and layer.W.dtype == dtype
    np.testing.assert_allclose(
        y.data, _conv_reference(x, layer.W.data, layer.b.data, stride, pad), rtol=1e-5, atol=1e-5
    )


def test_conv2d_init_and_errors():
    np.random.seed(0)
    layer = Conv2d(64, kernel_size=(3, 5), in_channels=20)
    assert layer.W.shape == (64, 20, 3, 5) and layer.W.dtype == np.float32
    assert layer.W.data.std() == pytest.approx(math.sqrt(1 / (20 * 3 * 5)), rel=0.02)
    with pytest.raises(ValueError, match=r"Conv2d: x must be 4-D \(N, C, H, W\), got shape \(3, 4\)"):
        Conv2d(2, 3)(np.ones((3, 4), dtype=np.float32))
    assert Conv2d(2, 3, nobias=True).b is None


def test_deconv2d_lazy_and_forward(dtype):
    rng = np.random.default_rng(3)
    layer = Deconv2d(2, kernel_size=3, stride=2, pad=1, dtype=dtype)
    layer.b.data = rng.standard_normal(2).astype(dtype)
    x = rng.standard_normal((1, 3, 3, 3)).astype(dtype)
    y = layer(x)
    assert layer.W.shape == (3, 2, 3, 3) and layer.in_channels == 3
    assert y.shape == (1, 2, 5, 5) and y.dtype == dtype
    np.testing.assert_allclose(y.data, _deconv_reference(x, layer.W.data, layer.b.data, 2, 1), rtol=1e-5, atol=1e-5)


# =============================================================================
# EmbedID
# =============================================================================
def test_embed_id_lookup_and_gradient():
    np.random.seed(0)
    layer = EmbedID(5, 3)
    assert layer.W.shape == (5, 3) and layer.W.dtype == np.float32
    ids = np.array([[1, 4], [1, 0]])
    y = layer(ids)
    np.testing.assert_array_equal(y.data, layer.W.data[ids])
    y.backward(grad=np.ones((2, 2, 3), dtype=np.float32))
    expected = np.zeros((5, 3), dtype=np.float32)
    expected[1] = 2  # id 1 appears twice: its gradients add up
    expected[4] = expected[0] = 1
    np.testing.assert_array_equal(layer.W.grad.data, expected)


# =============================================================================
# BatchNorm
# =============================================================================
def test_batchnorm_train_then_test_mode(dtype):
    rng = np.random.default_rng(4)
    bn = BatchNorm()
    assert bn.gamma.data is None and bn.avg_mean is None
    x = (rng.standard_normal((8, 3, 2, 2)) * 3 + 5).astype(dtype)
    y = bn(x)
    assert bn.gamma.shape == (3,) and bn.avg_var.shape == (3,) and y.dtype == dtype
    assert bn.avg_mean.dtype == dtype
    # Train mode: each channel normalized with the batch statistics.
    np.testing.assert_allclose(y.data.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(y.data.var(axis=(0, 2, 3)), 1, rtol=1e-3)
    # The running statistics moved 10 % of the way towards the batch's.
    m = x.shape[0] * x.shape[2] * x.shape[3]
    np.testing.assert_allclose(bn.avg_mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-4)
    np.testing.assert_allclose(bn.avg_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1), rtol=1e-4)
    bn.gamma.data[...] = np.array([1.0, 2.0, 0.5], dtype=dtype)
    bn.beta.data[...] = np.array([0.0, -1.0, 3.0], dtype=dtype)
    mean_before = bn.avg_mean.copy()
    with dezero.test_mode():
        y_test = bn(x)
    shape = (1, 3, 1, 1)
    expected = (x - bn.avg_mean.reshape(shape)) / np.sqrt(bn.avg_var.reshape(shape) + 2e-5) * bn.gamma.data.reshape(
        shape
    ) + bn.beta.data.reshape(shape)
    np.testing.assert_allclose(y_test.data, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(bn.avg_mean, mean_before)  # test mode does not update


def test_batchnorm_running_stats_are_persistent_not_parameters():
    bn = BatchNorm()
    bn(np.ones((2, 4), dtype=np.float32))
    assert [p for p, _ in bn.named_params()] == ["gamma", "beta"]
    assert [p for p, _ in bn.named_persistents()] == ["avg_mean", "avg_var"]


# =============================================================================
# Recurrent layers
# =============================================================================
def test_rnn_matches_the_formula_and_resets():
    rng = np.random.default_rng(5)
    rnn = RNN(3, dtype=np.float64)
    x1, x2 = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    h1 = rnn(x1)
    Wx, b, Wh = rnn.x2h.W.data, rnn.x2h.b.data, rnn.h2h.W.data
    assert rnn.h2h.b is None
    np.testing.assert_allclose(h1.data, np.tanh(x1 @ Wx + b))
    h2 = rnn(x2)
    np.testing.assert_allclose(h2.data, np.tanh(x2 @ Wx + b + h1.data @ Wh))
    rnn.reset_state()
    np.testing.assert_allclose(rnn(x2).data, np.tanh(x2 @ Wx + b))


def _lstm_reference(xs, Wx, b, Wh, H):
    h = c = None
    outs = []
    for x in xs:
        g = x @ Wx + b + (h @ Wh if h is not None else 0)
        f, i, o, u = (
            _sigmoid(g[:, :H]),
            _sigmoid(g[:, H : 2 * H]),
            _sigmoid(g[:, 2 * H : 3 * H]),
            np.tanh(g[:, 3 * H :]),
        )
        c = i * u if c is None else f * c + i * u
        h = o * np.tanh(c)
        outs.append(h)
    return outs


def test_lstm_matches_the_standard_gates():
    rng = np.random.default_rng(6)
    lstm = LSTM(3, dtype=np.float64)
    xs = [rng.standard_normal((2, 4)) for _ in range(3)]
    ys = [lstm(x).data for x in xs]
    ref = _lstm_reference(xs, lstm.x2h.W.data, lstm.x2h.b.data, lstm.h2h.W.data, 3)
    for y, r in zip(ys, ref):
        np.testing.assert_allclose(y, r, rtol=1e-10)
    lstm.reset_state()
    assert lstm.h is None and lstm.c is None
    np.testing.assert_allclose(lstm(xs[0]).data, ref[0], rtol=1e-10)


def test_lstm_gradient_through_two_steps():
    rng = np.random.default_rng(7)
    lstm = LSTM(2, in_size=3, dtype=np.float64)
    x1, x2 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))

    def two_steps(a, b):
        lstm.reset_state()
        lstm(a)
        return lstm(b)

    assert gradient_check(two_steps, x1, x2)
    # The recurrent weights, which the layer reads by itself: perturbed in place.
    gy = rng.standard_normal((2, 2))
    lstm.cleargrads()
    two_steps(x1, x2).backward(grad=gy)
    numeric = numerical_grad(lambda W: two_steps(x1, x2), lstm.h2h.W, gy=gy)
    np.testing.assert_allclose(lstm.h2h.W.grad.data, numeric, rtol=1e-6, atol=1e-8)


# =============================================================================
# Devices, summary, plot
# =============================================================================
def test_to_cpu_keeps_numpy_arrays():
    net = Two()
    W = net.l1.W.data
    assert net.to_cpu() is net
    assert net.l1.W.data is W


@pytest.mark.skipif(not gpu_enable, reason="CuPy or a CUDA device is missing")
def test_to_gpu_and_back_including_lazy_and_persistents():
    import cupy

    net = Two()
    net.bn = BatchNorm()
    net.lazy = Linear(2)
    net.bn(np.ones((2, 3), dtype=np.float32))
    net.to_gpu()
    assert all(isinstance(p.data, cupy.ndarray) for p in net.params() if p.data is not None)
    assert isinstance(net.bn.avg_mean, cupy.ndarray)
    net.lazy(cupy.ones((1, 4), dtype=np.float32))
    assert isinstance(net.lazy.W.data, cupy.ndarray)
    net.to_cpu()
    assert all(isinstance(p.data, np.ndarray) for p in net.params())
    assert isinstance(net.bn.avg_var, np.ndarray)


@pytest.mark.skipif(gpu_enable, reason="checks the error of a machine without GPU")
def test_to_gpu_without_a_gpu_says_so_and_changes_nothing():
    net = Two()
    net.lazy = Linear(2)
    with pytest.raises(RuntimeError, match="as_cupy"):
        net.to_gpu()
    assert net._backend is None and net.lazy._backend is None
    assert all(isinstance(p.data, np.ndarray) for p in net.params() if p.data is not None)


def test_summary_table():
    net = Two()
    net.lazy = Linear(7)
    lines = []
    text = net.summary(print_fn=lines.append)
    assert lines == [text]
    assert "l1/W" in text and "(2, 3)" in text and "l2/b" in text
    assert "lazy/W" in text and "(lazy)" in text
    assert "Total parameters: 20 " in text  # 6 + 3 + 3 + 1 + 7 (lazy/b); lazy/W is not counted
    assert "not counting 1 lazy" in text
    assert net.summary(print_fn=None) == text


def test_plot_draws_the_forward_graph(monkeypatch):
    import dezero.visualize

    calls = []

    def fake_plot(output, verbose=True, to_file="graph.png"):
        calls.append((output, verbose, to_file))
        return to_file

    monkeypatch.setattr(dezero.visualize, "plot_dot_graph", fake_plot)
    net = Two()
    with dezero.no_grad():  # plot records the graph anyway
        result = net.plot(np.ones((1, 2), dtype=np.float32), to_file="net.png")
    ((output, verbose, to_file),) = calls
    assert result == "net.png" and to_file == "net.png" and verbose is True
    assert isinstance(output, Variable) and output.shape == (1, 1)
    assert output.creator is not None
    assert as_numpy(output.data).dtype == np.float32


# =============================================================================
# Size arguments
# =============================================================================
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Linear(3, in_size=0), r"Linear: in_size must be a positive int, got 0"),
        (lambda: Linear(0), "Linear: out_size must be a positive int, got 0"),
        (lambda: Linear(-3, in_size=2), "Linear: out_size must be a positive int, got -3"),
        (lambda: Conv2d(4, kernel_size=0), "Conv2d: kernel_size must be positive, got 0"),
        (lambda: Conv2d(4, kernel_size=(3, -1)), r"Conv2d: kernel_size must be positive, got \(3, -1\)"),
        (lambda: Conv2d(4, kernel_size=3, in_channels=0), r"Conv2d: in_channels must be a positive int, got 0"),
        (lambda: Conv2d(0, kernel_size=3), "Conv2d: out_channels must be a positive int, got 0"),
        (lambda: Conv2d(4, kernel_size=3, stride=0), "Conv2d: stride must be positive, got 0"),
        (lambda: Conv2d(4, kernel_size=3, pad=-1), "Conv2d: pad must be non-negative, got -1"),
        (lambda: Deconv2d(4, kernel_size=0), "Deconv2d: kernel_size must be positive, got 0"),
        (lambda: Deconv2d(4, kernel_size=2, stride=(1, 0)), r"Deconv2d: stride must be positive, got \(1, 0\)"),
        (lambda: EmbedID(0, 3), "EmbedID: in_size must be a positive int, got 0"),
        (lambda: EmbedID(5, -1), "EmbedID: out_size must be a positive int, got -1"),
        (lambda: RNN(0), "RNN: hidden_size must be a positive int, got 0"),
        (lambda: LSTM(-2), "LSTM: hidden_size must be a positive int, got -2"),
    ],
)
def test_zero_and_negative_sizes_are_refused_naming_the_layer_and_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Linear(2.5), "Linear: out_size must be a positive int, got float 2.5"),
        (lambda: Linear(3, in_size=True), "Linear: in_size must be a positive int, got bool True"),
        (lambda: Conv2d(4, kernel_size=1.5), "Conv2d: kernel_size must be an int or a pair of ints, got 1.5"),
        (lambda: Conv2d(4, kernel_size=(3, 3, 3)), r"Conv2d: kernel_size must be an int or a pair of ints"),
        (lambda: Conv2d(4, kernel_size=3, pad=0.5), "Conv2d: pad must be an int or a pair of ints, got 0.5"),
    ],
)
def test_sizes_that_are_not_ints_are_refused_rather_than_truncated(make, message):
    with pytest.raises(TypeError, match=message):
        make()


@pytest.mark.parametrize(
    "layer, x",
    [
        (Linear(3), np.ones((2, 0), np.float32)),
        (Conv2d(3, kernel_size=1), np.ones((2, 0, 4, 4), np.float32)),
        (Deconv2d(3, kernel_size=1), np.ones((2, 0, 4, 4), np.float32)),
    ],
    ids=["Linear", "Conv2d", "Deconv2d"],
)
def test_a_lazy_layer_refuses_an_input_without_features(layer, x):
    with pytest.raises(
        ValueError,
        match=r"(in_size|in_channels) \(x.shape\[1\] for a lazy layer\) must be "
        r"a positive int, got 0",
    ):
        layer(x)
    assert layer.W.data is None  # nothing half-created


def test_sizes_may_be_numpy_integers():
    sizes = np.array([4, 3, 2])
    layer = Linear(sizes[2], in_size=sizes[1])
    assert layer.W.shape == (3, 2) and type(layer.out_size) is int
    conv = Conv2d(sizes[0], kernel_size=sizes[2], in_channels=sizes[1])
    assert conv.W.shape == (4, 3, 2, 2)


@pytest.mark.parametrize("layer_class", [RNN, LSTM])
def test_recurrent_state_from_another_batch_size_is_an_error(layer_class):
    layer = layer_class(3, in_size=2)
    layer(np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="batch size 1 but the state has 4; call reset_state"):
        layer(np.ones((1, 2), np.float32))
    layer.reset_state()
    assert layer(np.ones((1, 2), np.float32)).shape == (1, 3)


def test_layers_pickle_after_a_forward_pass():
    model = Sequential(LSTM(4, in_size=3), Linear(2))
    x = np.ones((2, 3), np.float32)
    y = model(x)
    clone = pickle.loads(pickle.dumps(model))
    for (name, p), (name2, q) in zip(model.named_params(), clone.named_params()):
        assert name == name2
        np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_allclose(clone(x).data, model(x).data)
    assert y.shape == (2, 2)


def test_other_libraries_arrays_on_a_layer_are_data_not_containers():
    torch = pytest.importorskip("torch")

    class Holder(Layer):
        def __init__(self):
            super().__init__()
            self.scalar = torch.tensor(1.0)  # 0-d: iterating it fails
            self.stats = [torch.zeros(3), torch.tensor(2.0)]
            self.l1 = Linear(2, in_size=2)

    net = Holder()
    assert [name for name, _ in net.named_params()] == ["l1/W", "l1/b"]


def test_a_container_that_fails_to_iterate_is_taken_as_data():
    class Unreadable(list):
        def __iter__(self):
            raise RuntimeError("cannot iterate")

    class Holder(Layer):
        def __init__(self):
            super().__init__()
            self.odd = Unreadable([1])

    assert list(Holder().params()) == []
