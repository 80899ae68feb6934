"""Array and image transforms."""

import sys

import numpy as np
import pytest

import dezero.transforms as T

PIL = pytest.importorskip("PIL.Image")


# =============================================================================
# Array transforms
# =============================================================================
def test_compose_order_and_identity():
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    assert T.Compose()(x) is x
    y = T.Compose([lambda a: a + 1, lambda a: a * 10])(x)
    np.testing.assert_array_equal(y, (x + 1) * 10)  # first transform first


def test_normalize_scalar_keeps_float32():
    x = np.array([[0.0, 127.5, 255.0]], dtype=np.float32)
    y = T.Normalize(0.0, 255.0)(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [[0.0, 0.5, 1.0]])


def test_normalize_numpy_float64_scalars_do_not_upcast():
    x = np.ones((3, 2, 2), dtype=np.float32)
    y = T.Normalize(np.float64(0.5), np.sqrt(2.0))(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, (1 - 0.5) / np.sqrt(2.0), rtol=1e-6)


def test_normalize_per_channel_matches_loop():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(3, 4, 5)).astype(np.float32)
    mean, std = [10.0, 20.0, 30.0], [1.0, 2.0, 4.0]
    y = T.Normalize(mean, std)(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    for c in range(3):
        np.testing.assert_allclose(y[c], (x[c] - mean[c]) / std[c], rtol=1e-6)


def test_normalize_float64_stays_float64_and_uint8_becomes_float32():
    assert T.Normalize(1.0, 2.0)(np.ones((2, 2))).dtype == np.float64
    y = T.Normalize(0.0, 255.0)(np.full((1, 2, 2), 255, dtype=np.uint8))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.ones((1, 2, 2), np.float32))


def test_normalize_errors():
    with pytest.raises(ValueError, match="3 mean values.*shape \\(2, 4, 4\\)"):
        T.Normalize([0.0, 0.0, 0.0], 1.0)(np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="std must be non-zero"):
        T.Normalize(0.0, [1.0, 0.0])


def test_flatten_astype_tofloat_toint():
    x = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    f = T.Flatten()(x)
    assert f.shape == (12,)
    np.testing.assert_array_equal(f, np.arange(12))
    assert T.AsType(np.float64)(x).dtype == np.float64
    assert T.ToFloat()(x).dtype == np.float32
    assert T.ToInt()(np.array([1.7, 2.2])).dtype == np.int64
    np.testing.assert_array_equal(T.ToInt(np.int32)(np.array([1.7, 2.2])), [1, 2])
    with pytest.raises(ValueError, match="ToFloat"):
        T.ToFloat(np.int32)
    with pytest.raises(ValueError, match="ToInt"):
        T.ToInt(np.float32)


# =============================================================================
# Image transforms
# =============================================================================
def _rgb_image(w=6, h=4):
    # Pixel (row r, col c) = (10 r + c, 100 + c, 200 - r): every pixel distinct per channel.
    r, c = np.mgrid[0:h, 0:w]
    arr = np.stack([10 * r + c, 100 + c, 200 - r], axis=-1).astype(np.uint8)
    return PIL.fromarray(arr), arr


def test_toarray_is_chw_float32_and_topil_inverts_it():
    img, arr = _rgb_image()
    x = T.ToArray()(img)
    assert x.shape == (3, 4, 6) and x.dtype == np.float32
    np.testing.assert_array_equal(x, arr.transpose(2, 0, 1))
    back = T.ToPILImage()(x)
    assert back.size == (6, 4) and back.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(back), arr)


def test_grayscale_gets_one_channel():
    img, _ = _rgb_image()
    gray = T.Convert("L")(img)
    assert gray.mode == "L"
    x = T.ToArray(np.float64)(gray)
    assert x.shape == (1, 4, 6) and x.dtype == np.float64
    assert T.ToPILImage()(x).mode == "L"


def test_convert_bgr_reverses_channels():
    img, arr = _rgb_image()
    np.testing.assert_array_equal(np.asarray(T.Convert("BGR")(img)), arr[:, :, ::-1])


def test_resize_and_center_crop():
    img, arr = _rgb_image(w=6, h=4)
    assert T.Resize(8)(img).size == (8, 8)
    assert T.Resize((3, 2))(img).size == (3, 2)  # (width, height), Pillow's order
    crop = T.CenterCrop((2, 2))(img)
    np.testing.assert_array_equal(np.asarray(crop), arr[1:3, 2:4])
    with pytest.raises(ValueError, match="CenterCrop"):
        T.CenterCrop(10)(img)


def test_random_horizontal_flip():
    img, arr = _rgb_image()
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(p=1.0)(img)), arr[:, ::-1])
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(p=0.0)(img)), arr)
    flip = T.RandomHorizontalFlip(p=0.5, seed=0)
    flipped = [np.array_equal(np.asarray(flip(img)), arr[:, ::-1]) for _ in range(200)]
    assert 60 < sum(flipped) < 140  # about half, both outcomes happen
    with pytest.raises(ValueError, match="p must be"):
        T.RandomHorizontalFlip(p=1.5)


def test_image_pipeline_to_normalized_array():
    img, _ = _rgb_image(w=10, h=8)
    pipeline = T.Compose(
        [T.Convert("RGB"), T.Resize(6), T.CenterCrop(4), T.ToArray(), T.Normalize([0.0, 0.0, 0.0], 255.0)]
    )
    x = pipeline(img)
    assert x.shape == (3, 4, 4) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_image_transform_rejects_array():
    with pytest.raises(TypeError, match="Resize: expected a PIL.Image.Image, got ndarray"):
        T.Resize(4)(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="ToPILImage"):
        T.ToPILImage()(np.zeros((4, 4)))


def test_missing_pillow_message_names_the_package(monkeypatch):
    # None in sys.modules makes `import PIL` raise ImportError, as if absent.
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match=r"needs Pillow: pip install Pillow$"):
        T.Convert("RGB")(object())
    # Array transforms never need Pillow.
    assert T.Normalize(0.0, 2.0)(np.ones(2, np.float32)).tolist() == [0.5, 0.5]
