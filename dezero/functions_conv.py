"""The book's ``dezero.functions_conv``, for code that imports it by that name.

Here the convolution and pooling functions live in :mod:`dezero.functions.conv`
and :mod:`dezero.functions.pooling`, and ``dezero.functions`` exports them all
(``F.conv2d``, ``F.pooling``...); this module only re-exports the functions
under the book's module name. The book's Function classes (``Conv2d``,
``Pooling``...) are not here: see docs/book_compatibility.md.
"""

from dezero.functions.conv import (  # noqa: F401
    col2im,
    col2im_array,
    conv2d,
    conv2d_simple,
    deconv2d,
    im2col,
    im2col_array,
)
from dezero.functions.pooling import average_pooling, pooling, pooling_simple  # noqa: F401

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
]
