"""Models: Layers meant to be trained and used as a whole.

``Model`` is a Layer; ``Sequential`` and ``MLP`` chain layers; ``VGG16`` and
``ResNet`` are the standard ImageNet architectures, optionally loaded with
pretrained weights.

Pretrained weights are ``.npz`` files in dezero's own format (the one
``Layer.save_weights`` writes: one array per parameter path such as
``conv1_1/W``, batch norm statistics included). They are fetched by
:func:`dezero.files.get_file` into the dezero cache (``$DEZERO_HOME``, default
``~/.dezero``); without a network, put the file named by the URL's last part
in that directory (the error says which file and where).

The ``WEIGHTS_URL`` constants point at the release files of the DeZero book,
whose parameter names these models reproduce (``conv1_1/W``,
``res2/a/bn1/avg_mean``...). A file whose keys, shapes or dtypes do not fit is
refused by ``load_weights`` with an error naming the parameter.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

import dezero.functions as F
from dezero import layers as L
from dezero.layers import Layer
from dezero.optional import import_optional

__all__ = ["Model", "Sequential", "MLP", "VGG16", "ResNet", "ResNet50", "ResNet101", "ResNet152"]


class Model(Layer):
    """A Layer that is the whole network: what an optimizer is set up with and
    what ``save_weights``/``plot``/``summary`` are called on."""


class Sequential(Model):
    """Apply ``layers`` one after the other.

    Layers are registered as ``l0``, ``l1``, ...; plain callables (``F.relu``)
    may sit between them. ``seq.l1 = Linear(5)`` replaces a stage.

    Parameters
    ----------
    *layers : Layer or callable
        The stages, applied in this order.

    Raises
    ------
    TypeError
        If a stage is not callable.
    """

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(f"Sequential: stage {i} is a {type(layer).__name__}, not a layer or function")
            setattr(self, f"l{i}", layer)
        self._size = len(layers)

    @property
    def layers(self) -> list:
        """The stages, read from the attributes each time (so never stale)."""
        return [getattr(self, f"l{i}") for i in range(self._size)]

    def __len__(self) -> int:
        return self._size

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class MLP(Model):
    """Multi-layer perceptron: Linear layers of the given output sizes with
    ``activation`` between them (none after the last)::

        MLP((10, 3))   # in -> 10 -> sigmoid -> 3

    Parameters
    ----------
    fc_output_sizes : sequence of int
        The output size of each Linear layer; the input size comes from the data.
    activation : callable
        Applied between the layers (``F.sigmoid``, the book's default; ``F.relu``...).
    """

    def __init__(self, fc_output_sizes: Sequence[int], activation=F.sigmoid):
        super().__init__()
        self.activation = activation
        self._size = len(fc_output_sizes)
        for i, out_size in enumerate(fc_output_sizes):
            setattr(self, f"l{i}", L.Linear(out_size))

    @property
    def layers(self) -> list:
        return [getattr(self, f"l{i}") for i in range(self._size)]

    def forward(self, x):
        layers = self.layers
        for layer in layers[:-1]:
            x = self.activation(layer(x))
        return layers[-1](x)


# =============================================================================
# ImageNet models
# =============================================================================
# The Caffe convention the pretrained VGG/ResNet weights expect: BGR channel
# order, per-channel mean subtracted, no scaling to [0, 1].
_BGR_MEAN = (103.939, 116.779, 123.68)


class _CaffeImageModel(Model):
    """Shared by VGG16 and ResNet: the input preprocessing of their pretrained weights."""

    @staticmethod
    def preprocess(image, size=(224, 224), dtype=np.float32) -> np.ndarray:
        """Turn a Pillow image (or an image file path) into the network's input.

        Resized to ``size`` = (width, height) as Pillow counts, converted to BGR,
        the ImageNet channel mean (B, G, R) = (103.939, 116.779, 123.68)
        subtracted, and laid out as (3, H, W) in ``dtype``: the Caffe convention
        the pretrained weights were trained with. Add the batch axis with
        ``x[np.newaxis]``.
        """
        if isinstance(image, (str, os.PathLike)):
            image = import_optional("PIL.Image", "Pillow", "VGG16.preprocess of an image file").open(image)
        if not hasattr(image, "convert") or not hasattr(image, "resize"):
            raise TypeError(f"preprocess: expected a Pillow image or a file path, got {type(image).__name__}")
        image = image.convert("RGB")
        if size:
            image = image.resize(tuple(size))
        array = np.asarray(image, dtype=dtype)[:, :, ::-1]  # RGB -> BGR
        array = array - np.asarray(_BGR_MEAN, dtype=dtype)
        return np.ascontiguousarray(array.transpose(2, 0, 1))  # (H, W, 3) -> (3, H, W)


def _load_pretrained(model: Layer, url: str) -> None:
    from dezero.files import get_file

    model.load_weights(get_file(url))


class VGG16(_CaffeImageModel):
    """VGG-16 (Simonyan & Zisserman, configuration D): 13 convolutions 3x3 with
    padding 1 and ReLU in five groups (64, 128, 256, 512, 512 channels), each
    group followed by 2x2 max-pooling, then fully connected layers 4096, 4096,
    1000 with dropout on the first two. Input (N, 3, 224, 224) -> (N, 1000) logits.

    Layers are lazy (sizes from the first input), like the book's; with
    ``pretrained=True`` the weights come from ``WEIGHTS_URL`` (see the module
    docstring for the cache directory).

    Parameters
    ----------
    pretrained : bool
        Load the book's ImageNet weights (downloaded once into the cache).
    """

    WEIGHTS_URL = "https://github.com/koki0702/dezero-models/releases/download/v0.1/vgg16.npz"
    _GROUPS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))

    def __init__(self, pretrained: bool = False):
        super().__init__()
        for g, (channels, n_convs) in enumerate(self._GROUPS, start=1):
            for k in range(1, n_convs + 1):
                setattr(self, f"conv{g}_{k}", L.Conv2d(channels, kernel_size=3, stride=1, pad=1))
        self.fc6 = L.Linear(4096)
        self.fc7 = L.Linear(4096)
        self.fc8 = L.Linear(1000)
        if pretrained:
            _load_pretrained(self, self.WEIGHTS_URL)

    def forward(self, x):
        for g, (_, n_convs) in enumerate(self._GROUPS, start=1):
            for k in range(1, n_convs + 1):
                x = F.relu(getattr(self, f"conv{g}_{k}")(x))
            x = F.pooling(x, 2, 2)
        x = F.reshape(x, (x.shape[0], -1))
        x = F.dropout(F.relu(self.fc6(x)))
        x = F.dropout(F.relu(self.fc7(x)))
        return self.fc8(x)


class ResNet(_CaffeImageModel):
    """Deep residual network (He et al. 2015) with bottleneck blocks.

    A 7x7 stride-2 convolution (64 channels) with batch norm and ReLU, 3x3
    stride-2 max-pooling (padding 1), four stages of bottleneck blocks
    (``res2``..``res5``, block counts [3, 4, 6, 3] for 50 layers, [3, 4, 23, 3]
    for 101, [3, 8, 36, 3] for 152; widths 256, 512, 1024, 2048), global
    average pooling and a fully connected layer ``fc6`` of 1000 classes.
    Input (N, 3, 224, 224) -> (N, 1000).

    This is the original (Caffe) variant the pretrained weights come from: a
    stage's stride sits in the first 1x1 convolution of its first block, and
    the stem convolution has a bias while the others, followed by batch norm,
    have none.

    Parameters
    ----------
    n_layers : int
        50, 101 or 152.
    pretrained : bool
        Load the book's ImageNet weights for that depth (downloaded once).

    Raises
    ------
    ValueError
        For another ``n_layers``.
    """

    WEIGHTS_URL = "https://github.com/koki0702/dezero-models/releases/download/v0.1/resnet{}.npz"
    BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

    def __init__(self, n_layers: int = 152, pretrained: bool = False):
        super().__init__()
        if n_layers not in self.BLOCKS:
            raise ValueError(f"ResNet: n_layers must be one of {sorted(self.BLOCKS)}, got {n_layers}")
        self.n_layers = n_layers
        blocks = self.BLOCKS[n_layers]
        self.conv1 = L.Conv2d(64, kernel_size=7, stride=2, pad=3)
        self.bn1 = L.BatchNorm()
        self.res2 = BuildingBlock(blocks[0], 64, 256, stride=1)
        self.res3 = BuildingBlock(blocks[1], 128, 512, stride=2)
        self.res4 = BuildingBlock(blocks[2], 256, 1024, stride=2)
        self.res5 = BuildingBlock(blocks[3], 512, 2048, stride=2)
        self.fc6 = L.Linear(1000)
        if pretrained:
            _load_pretrained(self, self.WEIGHTS_URL.format(n_layers))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.pooling(x, 3, 2, 1)
        x = self.res5(self.res4(self.res3(self.res2(x))))
        x = F.mean(x, axis=(2, 3))  # global average pooling: (N, C, H, W) -> (N, C)
        return self.fc6(x)


class ResNet50(ResNet):
    """The 50-layer :class:`ResNet`.

    Parameters
    ----------
    pretrained : bool
        Load the book's ImageNet weights (downloaded once into the cache).
    """

    def __init__(self, pretrained: bool = False):
        super().__init__(50, pretrained)


class ResNet101(ResNet):
    """The 101-layer :class:`ResNet`.

    Parameters
    ----------
    pretrained : bool
        Load the book's ImageNet weights (downloaded once into the cache).
    """

    def __init__(self, pretrained: bool = False):
        super().__init__(101, pretrained)


class ResNet152(ResNet):
    """The 152-layer :class:`ResNet`.

    Parameters
    ----------
    pretrained : bool
        Load the book's ImageNet weights (downloaded once into the cache).
    """

    def __init__(self, pretrained: bool = False):
        super().__init__(152, pretrained)


class BuildingBlock(Layer):
    """One ResNet stage: a projection block ``a`` then ``n_blocks - 1`` identity blocks ``b1``, ``b2``..."""

    def __init__(self, n_blocks: int, mid_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.a = Bottleneck(mid_channels, out_channels, stride, projection=True)
        for i in range(1, n_blocks):
            setattr(self, f"b{i}", Bottleneck(mid_channels, out_channels, 1, projection=False))
        self.n_blocks = n_blocks

    def forward(self, x):
        x = self.a(x)
        for i in range(1, self.n_blocks):
            x = getattr(self, f"b{i}")(x)
        return x


class Bottleneck(Layer):
    """1x1 (reduce, carries the stride) -> 3x3 -> 1x1 (expand), each with batch
    norm, added to the shortcut and passed through ReLU. The shortcut is the
    input itself, or with ``projection=True`` a strided 1x1 convolution with
    batch norm (``conv4``/``bn4``) that matches the new shape."""

    def __init__(self, mid_channels: int, out_channels: int, stride: int, projection: bool):
        super().__init__()
        self.conv1 = L.Conv2d(mid_channels, 1, stride, 0, nobias=True)
        self.bn1 = L.BatchNorm()
        self.conv2 = L.Conv2d(mid_channels, 3, 1, 1, nobias=True)
        self.bn2 = L.BatchNorm()
        self.conv3 = L.Conv2d(out_channels, 1, 1, 0, nobias=True)
        self.bn3 = L.BatchNorm()
        if projection:
            self.conv4 = L.Conv2d(out_channels, 1, stride, 0, nobias=True)
            self.bn4 = L.BatchNorm()
        self.projection = projection

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        shortcut = self.bn4(self.conv4(x)) if self.projection else x
        return F.relu(h + shortcut)
