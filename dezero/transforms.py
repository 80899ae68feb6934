"""Transforms applied to one data item at a time (a dataset's ``transform=``).

Array transforms work on NumPy arrays; image transforms work on Pillow images
and need Pillow (``pip install Pillow``). Chain them with :class:`Compose`::

    transform = Compose([Convert("RGB"), Resize(224), ToArray(), Normalize(mean=[0.5] * 3, std=0.5)])
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from dezero.functions.shapes import pair
from dezero.optional import import_optional

__all__ = [
    "Compose",
    "Normalize",
    "Flatten",
    "AsType",
    "ToFloat",
    "ToInt",
    "Convert",
    "Resize",
    "CenterCrop",
    "RandomHorizontalFlip",
    "ToArray",
    "ToPILImage",
    "ToPIL",
]


def _pil_image():
    """Import Pillow's Image module on first use: array-only users do not need Pillow."""
    return import_optional("PIL.Image", "Pillow", "dezero's image transforms")


def _check_pil(img, op: str) -> None:
    Image = _pil_image()
    if not isinstance(img, Image.Image):
        raise TypeError(
            f"{op}: expected a PIL.Image.Image, got {type(img).__name__} "
            "(use ToPILImage() first to turn a (C, H, W) array into an image)"
        )


class Compose:
    """Apply several transforms in order; an empty list is the identity.

    Parameters
    ----------
    transforms : sequence of callables
        Each takes an item and returns the transformed item.
    """

    def __init__(self, transforms: Sequence[Callable] = ()):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


# =============================================================================
# Array transforms
# =============================================================================
class Normalize:
    """``(x - mean) / std``; a sequence of means or stds applies one per channel
    (axis 0 of a (C, H, W) array).

    Floating arrays keep their dtype (float32 stays float32); integer arrays
    (e.g. raw uint8 pixels) become float32 first.

    Parameters
    ----------
    mean, std : float or sequence of floats
        One value for all, or one per channel.
    """

    def __init__(self, mean=0.0, std=1.0):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        for name, value in (("mean", self.mean), ("std", self.std)):
            if value.ndim > 1:
                raise ValueError(f"Normalize: {name} must be a number or a 1-D sequence, got shape {value.shape}")
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {std!r}")

    def _per_channel(self, value: np.ndarray, x: np.ndarray, name: str) -> np.ndarray:
        value = value.astype(x.dtype)
        if value.ndim == 0 or value.size == 1:
            return value.reshape(())
        if x.ndim == 0 or x.shape[0] != value.size:
            raise ValueError(
                f"Normalize: {value.size} {name} values need an array with {value.size} channels "
                f"on axis 0, got shape {x.shape}"
            )
        return value.reshape((value.size,) + (1,) * (x.ndim - 1))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind != "f":
            x = x.astype(np.float32)
        return (x - self._per_channel(self.mean, x, "mean")) / self._per_channel(self.std, x, "std")

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Flatten:
    """Flatten an item to 1-D, e.g. a (1, 28, 28) image to (784,) for an MLP."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).reshape(-1)

    def __repr__(self) -> str:
        return "Flatten()"


class AsType:
    """Cast an array to ``dtype``.

    Parameters
    ----------
    dtype : numpy dtype
        The dtype of the result.
    """

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).astype(self.dtype, copy=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dtype.name})"


class ToFloat(AsType):
    """Cast to a float dtype (float32 unless told otherwise).

    Parameters
    ----------
    dtype : numpy dtype
        A floating dtype.
    """

    def __init__(self, dtype=np.float32):
        if np.dtype(dtype).kind != "f":
            raise ValueError(f"ToFloat: dtype must be a floating type, got {np.dtype(dtype)}")
        super().__init__(dtype)


class ToInt(AsType):
    """Cast to an integer dtype (int64 unless told otherwise), e.g. for labels.

    Parameters
    ----------
    dtype : numpy dtype
        An integer dtype.
    """

    def __init__(self, dtype=np.int64):
        if np.dtype(dtype).kind not in "iu":
            raise ValueError(f"ToInt: dtype must be an integer type, got {np.dtype(dtype)}")
        super().__init__(dtype)


# =============================================================================
# Image transforms (Pillow)
# =============================================================================
class Convert:
    """Convert a PIL image to another mode ("RGB", "L", ...); "BGR" gives an RGB
    image with the channels reversed, the order Caffe-trained models expect.

    Parameters
    ----------
    mode : str
        A Pillow mode, or ``"BGR"``.
    """

    def __init__(self, mode: str = "RGB"):
        self.mode = mode

    def __call__(self, img):
        _check_pil(img, "Convert")
        Image = _pil_image()
        if self.mode == "BGR":
            r, g, b = img.convert("RGB").split()
            return Image.merge("RGB", (b, g, r))
        return img.convert(self.mode)

    def __repr__(self) -> str:
        return f"Convert({self.mode!r})"


class Resize:
    """Resize a PIL image to ``size`` (an int for a square, or (width, height),
    Pillow's order).

    Parameters
    ----------
    size : int or (int, int)
        The new size.
    mode : int, optional
        Pillow's resampling filter (``PIL.Image.NEAREST``...); None: bilinear.
    """

    def __init__(self, size, mode=None):
        self.size = pair(size)
        self.mode = mode  # None: Pillow's BILINEAR, resolved at call time (lazy import)

    def __call__(self, img):
        _check_pil(img, "Resize")
        mode = self.mode if self.mode is not None else _pil_image().BILINEAR
        return img.resize(self.size, mode)

    def __repr__(self) -> str:
        return f"Resize({self.size})"


class CenterCrop:
    """Cut the central ``size`` region (int or (width, height)) out of a PIL image.

    Parameters
    ----------
    size : int or (int, int)
        The size of the crop.
    """

    def __init__(self, size):
        self.size = pair(size)

    def __call__(self, img):
        _check_pil(img, "CenterCrop")
        W, H = img.size
        w, h = self.size
        if w > W or h > H:
            raise ValueError(f"CenterCrop: crop {self.size} is larger than the image {img.size} (width, height)")
        left, top = (W - w) // 2, (H - h) // 2
        return img.crop((left, top, left + w, top + h))

    def __repr__(self) -> str:
        return f"CenterCrop({self.size})"


class RandomHorizontalFlip:
    """Mirror a PIL image left-right with probability ``p`` (data augmentation).

    Draws from ``np.random`` unless a ``seed`` gives the transform its own
    generator, so ``np.random.seed`` makes runs repeatable as elsewhere in dezero.

    Parameters
    ----------
    p : float
        The probability of a flip.
    seed : int, optional
        A seed for the transform's own generator.
    """

    def __init__(self, p: float = 0.5, seed=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p
        self._rng = None if seed is None else np.random.default_rng(seed)

    def __call__(self, img):
        _check_pil(img, "RandomHorizontalFlip")
        u = np.random.random() if self._rng is None else self._rng.random()
        if u < self.p:
            return img.transpose(_pil_image().Transpose.FLIP_LEFT_RIGHT)
        return img

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class ToArray:
    """PIL image -> (C, H, W) array of ``dtype`` (a grayscale image gets C = 1).
    Arrays pass through unchanged. Pixel values keep their 0..255 range.

    Parameters
    ----------
    dtype : numpy dtype
        Of the array.
    """

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)

    def __call__(self, img):
        if isinstance(img, np.ndarray):
            return img
        _check_pil(img, "ToArray")
        x = np.asarray(img)
        x = x[np.newaxis] if x.ndim == 2 else x.transpose(2, 0, 1)
        return x.astype(self.dtype)

    def __repr__(self) -> str:
        return f"ToArray({self.dtype.name})"


class ToPILImage:
    """(C, H, W) array (C = 1, 3 or 4, values 0..255) -> PIL image; the inverse of ToArray."""

    def __call__(self, x):
        Image = _pil_image()
        if isinstance(x, Image.Image):
            return x
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[0] not in (1, 3, 4):
            raise ValueError(f"ToPILImage: expected a (C, H, W) array with C in (1, 3, 4), got shape {x.shape}")
        if x.dtype != np.uint8:
            # Rounded and clipped so that ToArray(ToPILImage(x)) gives x back for 0..255 data.
            x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        x = x.transpose(1, 2, 0)
        return Image.fromarray(x[:, :, 0] if x.shape[2] == 1 else x)

    def __repr__(self) -> str:
        return "ToPILImage()"


ToPIL = ToPILImage  # the book's name for it
