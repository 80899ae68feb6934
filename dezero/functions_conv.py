"""The book's ``dezero.functions_conv``, for code that imports it by that name.

Here the convolution and pooling functions live in :mod:`dezero.functions.conv`
and :mod:`dezero.functions.pooling`, and ``dezero.functions`` exports them all
(``F.conv2d``, ``F.pooling``...); this module re-exports them under the book's
module name, with the Function classes under the book's class names
(``Conv2d`` is :class:`~dezero.functions.conv.Conv2D`, ``Pooling`` is
:class:`~dezero.functions.pooling.Pooling2D`...). The classes take the book's
arguments, so ``Conv2d(stride, pad)(x, W, b)`` is ``conv2d(x, W, b, stride, pad)``,
with the same checks of the arguments and shapes: the class makes them itself
(in its constructor or its forward), and its messages name the class where the
function's name the function (``Conv2D: x has 3 channels but W expects 2 ...``).
"""

from dezero.functions.conv import (  # noqa: F401
    Col2im,
    Conv2D,
    Conv2DGradW,
    Deconv2D,
    Im2col,
    col2im,
    col2im_array,
    conv2d,
    conv2d_simple,
    deconv2d,
    im2col,
    im2col_array,
)
from dezero.functions.pooling import (  # noqa: F401
    AveragePooling2D,
    Pooling2D,
    Pooling2DGrad,
    Pooling2DWithIndexes,
    average_pooling,
    pooling,
    pooling_simple,
)

# The book's class names: the same classes, so that a graph built with them is
# the one the functions build (an ONNX exporter, isinstance, all agree).
Conv2d = Conv2D
Deconv2d = Deconv2D
Pooling = Pooling2D
AveragePooling = AveragePooling2D

__all__ = [
    "conv2d",
    "conv2d_simple",
    "deconv2d",
    "pooling",
    "pooling_simple",
    "average_pooling",
    "im2col",
    "col2im",
    "im2col_array",
    "col2im_array",
    "Conv2d",
    "Deconv2d",
    "Conv2DGradW",
    "Pooling",
    "Pooling2DGrad",
    "Pooling2DWithIndexes",
    "AveragePooling",
    "Im2col",
    "Col2im",
]
