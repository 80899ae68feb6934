"""Models: Sequential, MLP, and the ImageNet architectures (shapes, parameter
counts, block structure, pretrained loading through the cache, preprocessing)."""

import urllib.error
import urllib.request

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero.layers import BatchNorm, Conv2d, Linear
from dezero.models import MLP, VGG16, Model, ResNet, ResNet50, ResNet101, ResNet152, Sequential


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# =============================================================================
# Sequential and MLP
# =============================================================================
def test_sequential_applies_stages_in_order():
    np.random.seed(0)
    seq = Sequential(Linear(4, in_size=3), F.relu, Linear(2, in_size=4))
    assert isinstance(seq, Model) and len(seq) == 3
    assert [p for p, _ in seq.named_params()] == ["l0/W", "l0/b", "l2/W", "l2/b"]
    x = np.random.randn(5, 3).astype(np.float32)
    expected = np.maximum(x @ seq.l0.W.data + seq.l0.b.data, 0) @ seq.l2.W.data + seq.l2.b.data
    np.testing.assert_allclose(seq(x).data, expected, rtol=1e-5)
    seq.l2 = Linear(7)  # replacing a stage is seen by forward and params
    assert seq(x).shape == (5, 7) and seq.layers[2] is seq.l2
    with pytest.raises(TypeError, match="stage 1"):
        Sequential(Linear(2), 3)


def test_mlp_default_sigmoid_and_custom_activation():
    np.random.seed(0)
    mlp = MLP((4, 3, 2))
    x = np.random.randn(6, 5).astype(np.float32)
    y = mlp(x)
    W = [getattr(mlp, f"l{i}").W.data for i in range(3)]
    b = [getattr(mlp, f"l{i}").b.data for i in range(3)]
    h = _sigmoid(x @ W[0] + b[0])
    h = _sigmoid(h @ W[1] + b[1])
    np.testing.assert_allclose(y.data, h @ W[2] + b[2], rtol=1e-5)
    assert [p for p, _ in mlp.named_params()][-2:] == ["l2/W", "l2/b"]
    relu_mlp = MLP((3, 1), activation=F.relu)
    relu_mlp(x)
    h = np.maximum(x @ relu_mlp.l0.W.data + relu_mlp.l0.b.data, 0)
    np.testing.assert_allclose(relu_mlp(x).data, h @ relu_mlp.l1.W.data + relu_mlp.l1.b.data, rtol=1e-5)


# =============================================================================
# ImageNet models
# =============================================================================
def _image():
    np.random.seed(0)
    return np.random.randn(1, 3, 224, 224).astype(np.float32)


def _save_as_pretrained(model, tmp_path, monkeypatch, file_name):
    """Put ``model``'s weights where get_file(URL) finds them: a tmp $DEZERO_HOME."""
    from dezero.files import cache_dir

    monkeypatch.setenv("DEZERO_HOME", str(tmp_path))
    model.save_weights(f"{cache_dir()}/{file_name}")


def _no_network(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", offline)


def test_vgg16_forward_shape_parameters_and_pretrained(tmp_path, monkeypatch):
    # One test, one model: VGG16 has 138 M parameters, created at the first call.
    _no_network(monkeypatch)
    model = VGG16()
    x = _image()
    with dezero.no_grad(), dezero.test_mode():
        y = model(x)
    assert y.shape == (1, 1000) and y.dtype == np.float32
    assert sum(p.size for p in model.params()) == 138_357_544
    names = [p for p, _ in model.named_params()]
    assert sum(n.startswith("conv") and n.endswith("/W") for n in names) == 13
    assert names[-6:] == ["fc6/W", "fc6/b", "fc7/W", "fc7/b", "fc8/W", "fc8/b"]
    assert model.fc6.W.shape == (512 * 7 * 7, 4096)
    with dezero.no_grad():  # training mode: dropout on fc6 and fc7 makes the output differ
        assert not np.array_equal(model(x).data, y.data)

    _save_as_pretrained(model, tmp_path, monkeypatch, "vgg16.npz")
    loaded = VGG16(pretrained=True)  # through get_file(VGG16.WEIGHTS_URL), no download
    with dezero.no_grad(), dezero.test_mode():
        np.testing.assert_array_equal(loaded(x).data, y.data)


def test_resnet50_forward_shape_parameters_and_pretrained(tmp_path, monkeypatch):
    _no_network(monkeypatch)
    model = ResNet50()
    x = _image()
    with dezero.no_grad(), dezero.test_mode():
        y = model(x)
    assert y.shape == (1, 1000) and y.dtype == np.float32
    # torchvision's resnet50 has 25,557,032; our stem convolution has a 64-element bias.
    assert sum(p.size for p in model.params()) == 25_557_032 + 64
    assert model.fc6.W.shape == (2048, 1000)
    assert model.res2.a.conv4.W.shape == (256, 64, 1, 1)
    assert model.res5.b2.conv3.W.shape == (2048, 512, 1, 1)
    persistents = [p for p, _ in model.named_persistents()]
    assert "res3/b1/bn2/avg_var" in persistents and len(persistents) == 2 * 53

    _save_as_pretrained(model, tmp_path, monkeypatch, "resnet50.npz")
    loaded = ResNet(50, pretrained=True)
    with dezero.no_grad(), dezero.test_mode():
        np.testing.assert_array_equal(loaded(x).data, y.data)


def _count(model, cls):
    return sum(isinstance(layer, cls) for layer in model.layers_tree())


@pytest.mark.parametrize(
    "make,n_layers,blocks",
    [
        (ResNet50, 50, (3, 4, 6, 3)),
        (ResNet101, 101, (3, 4, 23, 3)),
        (ResNet152, 152, (3, 8, 36, 3)),
        (lambda: ResNet(), 152, (3, 8, 36, 3)),
    ],
)
def test_resnet_block_structure(make, n_layers, blocks):
    model = make()  # lazy: nothing allocated, no forward
    assert model.n_layers == n_layers
    for stage, n in zip((model.res2, model.res3, model.res4, model.res5), blocks):
        assert stage.n_blocks == n
        assert hasattr(stage, "a") and hasattr(stage, f"b{n - 1}") and not hasattr(stage, f"b{n}")
    # The name counts the weighted layers on the main path: stem + 3 per block + fc.
    convs = _count(model, Conv2d)
    projections = 4  # the shortcut convolutions of the first block of each stage
    assert convs - projections + _count(model, Linear) == n_layers
    assert _count(model, BatchNorm) == convs
    # conv1 W and b, the other convolutions W only, gamma and beta per batch norm, fc W and b.
    assert len(list(model.params())) == 2 + (convs - 1) + 2 * convs + 2


def test_resnet_rejects_unknown_depth():
    with pytest.raises(ValueError, match="n_layers must be one of"):
        ResNet(34)


def test_pretrained_offline_says_where_to_put_the_file(tmp_path, monkeypatch):
    _no_network(monkeypatch)
    monkeypatch.setenv("DEZERO_HOME", str(tmp_path))
    with pytest.raises(Exception) as info:
        ResNet101(pretrained=True)
    message = str(info.value)
    assert "resnet101.npz" in message and str(tmp_path) in message


def test_preprocess_caffe_convention():
    Image = pytest.importorskip("PIL.Image")
    image = Image.new("RGB", (8, 6), color=(200, 100, 50))  # (width, height)
    x = VGG16.preprocess(image, size=(5, 4))
    assert x.shape == (3, 4, 5) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_allclose(x[0], 50 - 103.939, rtol=1e-6)  # B first
    np.testing.assert_allclose(x[1], 100 - 116.779, rtol=1e-6)
    np.testing.assert_allclose(x[2], 200 - 123.68, rtol=1e-6)
    assert ResNet.preprocess(image).shape == (3, 224, 224)
    assert ResNet.preprocess(image, dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="Pillow image"):
        VGG16.preprocess(np.zeros((3, 3)))
