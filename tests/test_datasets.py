"""Datasets, with every file they read generated here in a temporary $DEZERO_HOME."""

import errno
import gzip
import io
import os
import pickle
import re
import struct
import subprocess
import sys
import tarfile
import warnings
import zipfile

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Variable
from dezero.dataloaders import DataLoader, SeqDataLoader
from dezero.datasets import (
    CIFAR10,
    CIFAR100,
    MNIST,
    CharText,
    Dataset,
    Digits,
    FashionMNIST,
    ImageNet,
    NpyFolder,
    Shakespeare,
    SinCurve,
    Spiral,
    extract_tar,
    get_spiral,
    load_cache_npz,
    load_pickle,
    read_idx,
    save_cache_npz,
)
from dezero.files import DownloadError
from dezero.transforms import Flatten

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DEZERO_HOME", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    return tmp_path / "cache"


# =============================================================================
# Base class and lazy loading
# =============================================================================
class Squares(Dataset):
    def prepare(self):
        self.data = np.arange(5, dtype=np.float32)
        self.label = np.arange(5) ** 2


def test_dataset_items_and_transforms():
    ds = Squares()
    assert len(ds) == 5
    x, t = ds[3]
    assert x == 3.0 and t == 9
    assert ds[-1][1] == 16
    ds2 = Squares(transform=lambda x: x * 10, target_transform=lambda t: t + 1)
    assert ds2[2] == (20.0, 5)
    assert [t for _, t in ds] == [0, 1, 4, 9, 16]  # iteration stops at IndexError


def test_dataset_index_errors():
    ds = Squares()
    with pytest.raises(IndexError, match=r"Squares\[5\].*5 items"):
        ds[5]
    with pytest.raises(TypeError, match="index must be an int"):
        ds[1:3]


@pytest.mark.parametrize("train", ["test", "", 1, None])
@pytest.mark.parametrize("cls", [Spiral, SinCurve, Squares, Digits, MNIST, FashionMNIST, CIFAR10, CIFAR100])
def test_datasets_refuse_a_train_that_is_not_a_bool_before_loading_anything(home, cls, train):
    with pytest.raises(
        TypeError, match=f"{cls.__name__}: train must be True .* or False .*, got {re.escape(repr(train))}"
    ):
        cls(train=train)
    assert os.listdir(home) == []  # nothing was downloaded or extracted


def test_get_spiral_refuses_a_train_that_is_not_a_bool():
    with pytest.raises(TypeError, match="get_spiral: train must be True .* or False .*, got 'test'"):
        get_spiral("test")


def test_datasets_take_numpy_bools_for_train():
    test = Spiral(train=np.bool_(False))
    assert test.train is False and repr(test) == "Spiral(test, 300 items)"
    np.testing.assert_array_equal(test.data, Spiral(train=False).data)
    assert Spiral(train=np.True_).train is True
    x, t = get_spiral(np.False_)
    np.testing.assert_array_equal(x, get_spiral(False)[0])


def test_dataset_without_labels():
    class Unlabelled(Dataset):
        def prepare(self):
            self.data = np.zeros((3, 2))

    x, t = Unlabelled()[1]
    assert t is None and x.shape == (2,)


def test_npyfolder_reads_lazily(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "label").mkdir()
    for i in range(5):
        np.save(tmp_path / "data" / f"{i}.npy", np.full((2, 2), i, dtype=np.float32))
        np.save(tmp_path / "label" / f"{i}.npy", np.array(i % 2))
    ds = NpyFolder(str(tmp_path / "data"), str(tmp_path / "label"))
    assert len(ds) == 5
    # Nothing was read at construction: a file changed afterwards is seen.
    np.save(tmp_path / "data" / "3.npy", np.full((2, 2), 42, dtype=np.float32))
    x, t = ds[3]
    assert x.dtype == np.float32 and np.all(x == 42) and t == 1
    xs, ts = next(DataLoader(ds, batch_size=5, shuffle=False))
    assert xs.shape == (5, 2, 2)
    np.testing.assert_array_equal(ts, [0, 1, 0, 1, 0])


def test_npyfolder_missing_file_and_pickles_refused(tmp_path):
    np.save(tmp_path / "0.npy", np.zeros(2))
    np.save(tmp_path / "2.npy", np.zeros(2))
    with pytest.raises(ValueError, match="1.npy is missing"):
        NpyFolder(str(tmp_path))
    os.remove(tmp_path / "2.npy")
    np.save(tmp_path / "1.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    ds = NpyFolder(str(tmp_path))
    with pytest.raises(ValueError, match="allow_pickle"):
        ds[1]


# =============================================================================
# Synthetic data
# =============================================================================
def _spiral_loop(seed):
    # The same recipe written point by point, as in the book.
    rng = np.random.RandomState(seed)
    x = np.zeros((300, 2))
    t = np.zeros(300, dtype=int)
    for j in range(3):
        for i in range(100):
            rate = i / 100
            theta = j * 4.0 + 4.0 * rate + rng.randn() * 0.2
            x[100 * j + i] = [rate * np.sin(theta), rate * np.cos(theta)]
            t[100 * j + i] = j
    perm = rng.permutation(300)
    return x[perm], t[perm]


@pytest.mark.parametrize("train, seed", [(True, 1984), (False, 2020)])
def test_spiral(train, seed):
    x, t = get_spiral(train)
    assert x.shape == (300, 2) and x.dtype == np.float32
    assert t.shape == (300,) and t.dtype.kind == "i"
    assert np.bincount(t).tolist() == [100, 100, 100]
    x_ref, t_ref = _spiral_loop(seed)
    np.testing.assert_allclose(x, x_ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(t, t_ref)
    x2, t2 = get_spiral(train)
    np.testing.assert_array_equal(x, x2)
    ds = Spiral(train=train)
    np.testing.assert_array_equal(ds.data, x)
    assert ds[0][0].shape == (2,)


def test_spiral_train_and_test_differ():
    assert not np.array_equal(get_spiral(True)[0], get_spiral(False)[0])


def test_sincurve():
    train, test = SinCurve(train=True), SinCurve(train=False)
    for ds in (train, test):
        assert ds.data.shape == (999, 1) and ds.label.shape == (999, 1)
        assert ds.data.dtype == np.float32 and ds.label.dtype == np.float32
        np.testing.assert_array_equal(ds.label[:-1], ds.data[1:])  # label = next value
    grid = np.linspace(0, 2 * np.pi, 1000)
    np.testing.assert_allclose(test.data[:, 0], np.cos(grid[:-1]), atol=1e-6)
    noise = train.data[:, 0] - np.sin(grid[:-1])
    assert np.abs(noise).max() <= 0.05 + 1e-6 and noise.std() > 0.01
    np.testing.assert_array_equal(train.data, SinCurve(train=True).data)  # fixed seed


# =============================================================================
# Digits (scikit-learn)
# =============================================================================
def test_digits_shapes_split_and_values():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    train = Digits(train=True, transform=None)
    test = Digits(train=False, transform=None)
    assert train.data.shape == (1438, 1, 8, 8) and test.data.shape == (359, 1, 8, 8)
    assert train.data.dtype == np.float32 and train.label.dtype == np.int64
    assert train.data.min() == 0.0 and train.data.max() == 1.0
    assert set(train.label.tolist()) == set(range(10)) == set(test.label.tolist())
    # stratified: every class is about 20 % test
    ratio = np.bincount(test.label) / (np.bincount(test.label) + np.bincount(train.label))
    assert np.all(np.abs(ratio - 0.2) < 0.01)
    # the two parts are exactly scikit-learn's images, each used once
    ref = sklearn_datasets.load_digits()
    both = np.concatenate([train.data, test.data]).reshape(-1, 64) * 16

    def key(imgs, labels):
        return sorted(map(tuple, np.column_stack([imgs, labels]).astype(int).tolist()))

    assert key(both, np.concatenate([train.label, test.label])) == key(ref.data, ref.target)
    # default transform flattens for an MLP
    x, t = Digits()[0]
    assert x.shape == (64,) and x.dtype == np.float32
    assert Digits.labels()[7] == "7"


def test_digits_split_is_stable_across_processes():
    pytest.importorskip("sklearn")
    code = (
        "import hashlib; from dezero.datasets import Digits; d = Digits(train=False); "
        "print(hashlib.sha256(d.data.tobytes() + d.label.tobytes()).hexdigest())"
    )
    env = dict(os.environ, PYTHONPATH=REPO, PYTHONHASHSEED="123")
    out1 = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    d = Digits(train=False)
    import hashlib

    here = hashlib.sha256(d.data.tobytes() + d.label.tobytes()).hexdigest()
    assert out1.stdout.strip() == here


def _softmax_cross_entropy_plain(y, t):
    # log-softmax from basic ops; used until F.softmax_cross_entropy exists.
    z = y - y.data.max(axis=1, keepdims=True)
    log_p = z - F.log(F.sum(F.exp(z), axis=1, keepdims=True))
    return -F.sum(log_p[np.arange(len(t)), t]) / len(t)


def test_digits_mlp_reaches_90_percent():
    pytest.importorskip("sklearn")
    loss_fn = getattr(F, "softmax_cross_entropy", _softmax_cross_entropy_plain)
    train, test = Digits(train=True), Digits(train=False)
    rng = np.random.RandomState(0)
    W1 = Variable((rng.randn(64, 64) / 8.0).astype(np.float32))
    b1 = Variable(np.zeros(64, np.float32))
    W2 = Variable((rng.randn(64, 10) / 8.0).astype(np.float32))
    b2 = Variable(np.zeros(10, np.float32))
    params = [W1, b1, W2, b2]

    def predict(x):
        return F.linear(F.tanh(F.linear(x, W1, b1)), W2, b2)

    np.random.seed(0)
    loader = DataLoader(train, batch_size=32)
    for _epoch in range(10):
        for x, t in loader:
            loss = loss_fn(predict(x), t)
            for p in params:
                p.cleargrad()
            loss.backward()
            for p in params:
                assert p.grad.dtype == np.float32
                p.data -= 0.2 * p.grad.data
    with dezero.no_grad():
        x, t = next(DataLoader(test, batch_size=len(test), shuffle=False))
        accuracy = float((predict(x).data.argmax(axis=1) == t).mean())
    assert accuracy > 0.9, accuracy


# =============================================================================
# IDX files: MNIST and Fashion-MNIST
# =============================================================================
def _idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_gz(path, payload: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(payload)


def _make_mnist(home, folder="mnist", n_train=5, n_test=3):
    rng = np.random.RandomState(0)
    out = {}
    for split, n, prefix in (("train", n_train, "train"), ("test", n_test, "t10k")):
        images = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
        labels = rng.randint(0, 10, size=n).astype(np.uint8)
        _write_gz(home / folder / f"{prefix}-images-idx3-ubyte.gz", _idx_bytes(images))
        _write_gz(home / folder / f"{prefix}-labels-idx1-ubyte.gz", _idx_bytes(labels))
        out[split] = (images, labels)
    return out


@pytest.mark.parametrize("cls, folder", [(MNIST, "mnist"), (FashionMNIST, "fashion-mnist")])
def test_mnist_like_from_cache(home, cls, folder):
    made = _make_mnist(home, folder)
    for train, split in ((True, "train"), (False, "test")):
        images, labels = made[split]
        raw = cls(train=train, transform=None)
        assert raw.data.shape == (len(images), 1, 28, 28) and raw.data.dtype == np.float32
        np.testing.assert_array_equal(raw.data[:, 0], images)  # 0..255, not rescaled
        assert raw.label.dtype == np.int64
        np.testing.assert_array_equal(raw.label, labels)
        x, t = cls(train=train)[1]  # default: flattened and divided by 255
        assert x.shape == (784,) and x.dtype == np.float32
        np.testing.assert_allclose(x, images[1].reshape(-1) / 255.0, rtol=1e-6)
        assert 0.0 <= x.min() and x.max() <= 1.0 and t == labels[1]
    names = cls.labels()
    assert len(names) == 10
    assert names[9] == ("9" if cls is MNIST else "Ankle boot")


def test_mnist_offline_error_names_every_mirror_and_the_path(home, monkeypatch):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    monkeypatch.setattr(MNIST, "mirrors", (f"http://127.0.0.1:{port}/a/", f"http://127.0.0.1:{port}/b/"))
    with pytest.raises(DownloadError) as info:
        MNIST(train=True)
    msg = str(info.value)
    assert f"http://127.0.0.1:{port}/a/train-images-idx3-ubyte.gz" in msg
    assert f"http://127.0.0.1:{port}/b/train-images-idx3-ubyte.gz" in msg
    assert str(home / "mnist" / "train-images-idx3-ubyte.gz") in msg


def _refusing_mirrors(monkeypatch, cls):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # bound, then closed: nothing listens on this port
    port = s.getsockname()[1]
    s.close()
    mirrors = (f"http://127.0.0.1:{port}/a/", f"http://127.0.0.1:{port}/b/")
    monkeypatch.setattr(cls, "mirrors", mirrors)
    return mirrors


@pytest.mark.parametrize("cls, folder", [(MNIST, "mnist"), (FashionMNIST, "fashion-mnist")])
@pytest.mark.parametrize("train", [True, False])
def test_mnist_offline_reports_every_missing_file_in_one_error(home, monkeypatch, cls, folder, train):
    mirrors = _refusing_mirrors(monkeypatch, cls)
    with pytest.raises(DownloadError) as info:
        cls(train=train)
    msg = str(info.value)
    names = cls.files[train]
    assert msg.startswith(f"{cls.__name__}: 2 of the 2 files it needs could not be downloaded")
    for name in names:
        assert f"  {name} -> {home / folder / name}\n" in msg
        assert f"from {mirrors[0]}{name} or {mirrors[1]}{name}" in msg
    # Scripts load both splits: the other split's files are named in the same error.
    assert f"split (train={not train}) needs these as well:" in msg
    for name in cls.files[not train]:
        assert f"  {name} -> {home / folder / name}\n" in msg
    assert not (home / folder).exists() or os.listdir(home / folder) == []  # nothing half-written


def test_mnist_offline_lists_only_the_files_that_are_missing(home, monkeypatch):
    _make_mnist(home)
    os.remove(home / "mnist" / "t10k-labels-idx1-ubyte.gz")
    _refusing_mirrors(monkeypatch, MNIST)
    with pytest.raises(DownloadError, match="MNIST: 1 of the 2 files it needs could not be downloaded") as info:
        MNIST(train=False)
    assert "t10k-labels-idx1-ubyte.gz ->" in str(info.value)
    assert "t10k-images-idx3-ubyte.gz ->" not in str(info.value)
    assert "needs these as well" not in str(info.value)  # the training files are in the cache


@pytest.mark.parametrize(
    "code, dtype",
    [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)],
)
def test_read_idx_types_and_header_dims(tmp_path, code, dtype):
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == np.uint8:
        a = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    path = tmp_path / "a.idx"
    path.write_bytes(_idx_bytes(a, code))
    b = read_idx(str(path), ndim=3)
    assert b.shape == (2, 3, 5) and b.dtype == np.dtype(dtype)  # native byte order
    np.testing.assert_array_equal(b, a)


def test_read_idx_corrupt_files(tmp_path):
    images = np.zeros((4, 28, 28), np.uint8)
    good = _idx_bytes(images)
    cases = {
        "short.gz": (good[:-10], "truncated"),
        "long.gz": (good + b"xx", "trailing bytes"),
        "magic.gz": (b"\x01\x02" + good[2:], "not an IDX file"),
        "code.gz": (b"\x00\x00\x07" + good[3:], "not an IDX file"),
        "tiny.gz": (b"\x00\x00", "too short"),
        "header.gz": (good[:8], "inside its header"),
    }
    for name, (payload, message) in cases.items():
        path = tmp_path / name
        _write_gz(path, payload)
        with pytest.raises(ValueError, match=message) as info:
            read_idx(str(path), ndim=3)
        assert str(path) in str(info.value)
    labels = tmp_path / "labels.gz"
    _write_gz(labels, _idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match="1-D.*expected 3-D"):
        read_idx(str(labels), ndim=3)
    # a gzip stream cut short (an interrupted copy)
    whole = tmp_path / "whole.gz"
    _write_gz(whole, good)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(whole.read_bytes()[:40])
    with pytest.raises(ValueError, match="cut.gz.*truncated or not a valid gzip"):
        read_idx(str(cut))
    not_gzip = tmp_path / "plain.gz"
    not_gzip.write_bytes(b"hello world, not gzip")
    with pytest.raises(ValueError, match="plain.gz"):
        read_idx(str(not_gzip))


def test_mnist_inconsistent_files(home):
    _make_mnist(home)
    _write_gz(home / "mnist" / "t10k-labels-idx1-ubyte.gz", _idx_bytes(np.zeros(2, np.uint8)))
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        MNIST(train=False)
    _write_gz(home / "mnist" / "t10k-labels-idx1-ubyte.gz", _idx_bytes(np.array([0, 1, 12], np.uint8)))
    with pytest.raises(ValueError, match="labels outside 0..9"):
        MNIST(train=False)


# =============================================================================
# CIFAR-10: restricted unpickling, safe extraction
# =============================================================================
MARKER_NAME = "pwned"


class _Evil:
    """Unpickling this would call os.system (if the unpickler allowed it)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _cifar_batch(rng, n):
    data = rng.randint(0, 256, size=(n, 3072)).astype(np.uint8)
    labels = rng.randint(0, 10, size=n).tolist()
    # bytes keys, as CIFAR's Python-2 pickles read with encoding="bytes"
    return {
        b"batch_label": b"testing batch",
        b"labels": labels,
        b"data": data,
        b"filenames": [b"img%d.png" % i for i in range(n)],
    }


def _make_cifar_archive(
    home, batches, extra_members=(), archive="cifar-10-python.tar.gz", folder="cifar-10-batches-py"
):
    path = home / archive
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in batches.items():
            payload = obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        for info, payload in extra_members:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def _cifar_batches(rng):
    batches = {f"data_batch_{i}": _cifar_batch(rng, 2) for i in range(1, 6)}
    batches["test_batch"] = _cifar_batch(rng, 3)
    batches["batches.meta"] = {b"label_names": [b"airplane"], b"num_vis": 3072}
    return batches


def test_cifar10_from_archive(home):
    batches = _cifar_batches(np.random.RandomState(0))
    archive = _make_cifar_archive(home, batches)
    train = CIFAR10(train=True, transform=None)
    assert train.data.shape == (10, 3, 32, 32) and train.data.dtype == np.float32
    expected = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    np.testing.assert_array_equal(train.data, expected.reshape(-1, 3, 32, 32))
    assert train.label.dtype == np.int64
    np.testing.assert_array_equal(train.label, sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), []))
    assert os.path.isdir(home / "cifar-10-batches-py")
    assert [p for p in os.listdir(home) if p.startswith(".")] == []  # no temp folder left
    os.remove(archive)  # extracted once: the archive is no longer needed
    test = CIFAR10(train=False)
    x, t = test[2]
    assert x.shape == (3, 32, 32) and x.dtype == np.float32
    np.testing.assert_allclose(x, batches["test_batch"][b"data"][2].reshape(3, 32, 32) / 255.0, rtol=1e-6)
    assert t == batches["test_batch"][b"labels"][2]
    assert CIFAR10.labels()[0] == "airplane" and CIFAR10.labels()[9] == "truck"


def test_cifar10_malicious_batch_is_refused_without_running(home, tmp_path):
    marker = tmp_path / MARKER_NAME
    batches = _cifar_batches(np.random.RandomState(1))
    batches["data_batch_3"] = pickle.dumps(_Evil(marker), protocol=2)
    _make_cifar_archive(home, batches)
    with pytest.raises(pickle.UnpicklingError) as info:
        CIFAR10(train=True)
    msg = str(info.value)
    assert "system" in msg and "refusing" in msg and "data_batch_3" in msg
    assert not marker.exists()


def _cifar100_file(rng, n):
    # What the archive's train and test files hold (bytes keys, as read with encoding="bytes")
    return {
        b"filenames": [b"img%d.png" % i for i in range(n)],
        b"batch_label": b"training batch 1 of 1",
        b"fine_labels": rng.randint(0, 100, size=n).tolist(),
        b"coarse_labels": rng.randint(0, 20, size=n).tolist(),
        b"data": rng.randint(0, 256, size=(n, 3072)).astype(np.uint8),
    }


def _make_cifar100_archive(home, train, test):
    files = {"train": train, "test": test, "meta": {b"fine_label_names": [b"apple"], b"coarse_label_names": [b"fish"]}}
    return _make_cifar_archive(home, files, archive="cifar-100-python.tar.gz", folder="cifar-100-python")


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("label_type", ["fine", "coarse"])
def test_cifar100_from_archive(home, train, label_type):
    rng = np.random.RandomState(2)
    files = {"train": _cifar100_file(rng, 4), "test": _cifar100_file(rng, 3)}
    _make_cifar100_archive(home, files["train"], files["test"])
    expected = files["train" if train else "test"]
    ds = CIFAR100(train=train, transform=None, label_type=label_type)
    n = len(expected[b"data"])
    assert len(ds) == n and ds.data.shape == (n, 3, 32, 32) and ds.data.dtype == np.float32
    np.testing.assert_array_equal(ds.data, expected[b"data"].reshape(-1, 3, 32, 32))
    assert ds.label.dtype == np.int64
    np.testing.assert_array_equal(ds.label, expected[f"{label_type}_labels".encode()])
    assert os.path.isdir(home / "cifar-100-python")
    assert [p for p in os.listdir(home) if p.startswith(".")] == []  # no temp folder left


def test_cifar100_default_transform_scales_pixels_to_0_1(home):
    rng = np.random.RandomState(3)
    test = _cifar100_file(rng, 2)
    _make_cifar100_archive(home, _cifar100_file(rng, 2), test)
    x, t = CIFAR100(train=False)[1]
    assert x.shape == (3, 32, 32) and x.dtype == np.float32
    np.testing.assert_allclose(x, test[b"data"][1].reshape(3, 32, 32) / 255.0, rtol=1e-6)
    assert t == test[b"fine_labels"][1]


def test_cifar100_refuses_another_label_type(home):
    with pytest.raises(ValueError, match="CIFAR100: label_type must be 'fine' .* or 'coarse' .*, got 'superclass'"):
        CIFAR100(label_type="superclass")
    assert os.listdir(home) == []  # refused before anything is fetched
    with pytest.raises(ValueError, match="CIFAR100.labels: label_type must be"):
        CIFAR100.labels("Fine")


def test_cifar100_labels_name_the_fine_and_the_coarse_classes():
    fine, coarse = CIFAR100.labels(), CIFAR100.labels("coarse")
    assert len(fine) == 100 and len(set(fine.values())) == 100
    assert (fine[0], fine[1], fine[99]) == ("apple", "aquarium_fish", "worm")
    assert len(coarse) == 20 and (coarse[0], coarse[19]) == ("aquatic mammals", "vehicles 2")
    assert CIFAR100.labels("fine") == fine


def test_cifar100_labels_outside_the_classes_are_an_error(home):
    rng = np.random.RandomState(4)
    train = _cifar100_file(rng, 2)
    train[b"coarse_labels"] = [3, 20]
    _make_cifar100_archive(home, train, _cifar100_file(rng, 2))
    assert len(CIFAR100(train=True)) == 2  # the fine labels are fine
    with pytest.raises(ValueError, match="CIFAR100: .*train has coarse_labels outside 0..19"):
        CIFAR100(train=True, label_type="coarse")


def test_cifar100_malicious_file_is_refused_without_running(home, tmp_path):
    marker = tmp_path / MARKER_NAME
    rng = np.random.RandomState(5)
    _make_cifar100_archive(home, pickle.dumps(_Evil(marker), protocol=2), _cifar100_file(rng, 2))
    assert len(CIFAR100(train=False)) == 2  # the test file is clean
    with pytest.raises(pickle.UnpicklingError) as info:
        CIFAR100(train=True)
    msg = str(info.value)
    assert "system" in msg and "refusing" in msg and "cifar-100-python" in msg
    assert not marker.exists()


def test_cifar100_downloads_from_the_books_url_and_checks_the_archive(home, monkeypatch):
    import dezero.datasets as datasets

    asked = []

    def offline(url, file_name=None, sha256=None):
        asked.append((url, file_name, sha256))
        raise DownloadError(f"offline: {url}")

    monkeypatch.setattr(datasets, "get_file", offline)
    with pytest.raises(DownloadError):
        CIFAR100()
    assert asked == [
        (
            "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
            "cifar-100-python.tar.gz",
            "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
        )
    ]


def test_cifar10_labels_outside_the_classes_are_an_error(home):
    batches = _cifar_batches(np.random.RandomState(6))
    batches["test_batch"][b"labels"] = [0, 10, 1]
    _make_cifar_archive(home, batches)
    with pytest.raises(ValueError, match="CIFAR10: .*test_batch has labels outside 0..9"):
        CIFAR10(train=False)


@pytest.mark.parametrize(
    "pixels, message",
    [
        (np.full((3, 3072), np.nan), "has data of dtype float64"),
        (np.full((3, 3072), np.inf, dtype=np.float32), "has data of dtype float32"),
        (np.full((3, 3072), 1 + 0j), "has data of dtype complex128"),
        (np.ones((3, 3072), dtype=bool), "has data of dtype bool"),
        (np.full((3, 3072), "12"), "has data of dtype <U2"),
        (np.full((3, 3072), -1), "has pixel values from -1 to -1"),
        (np.full((3, 3072), 300, dtype=np.int16), "has pixel values from 300 to 300"),
        (np.zeros((3, 3071), dtype=np.uint8), r"has data of shape \(3, 3071\) and labels of shape \(3,\)"),
        (np.zeros((3, 3, 32, 32), dtype=np.uint8), r"has data of shape \(3, 3, 32, 32\)"),
    ],
    ids=["nan", "inf", "complex", "bool", "strings", "negative", "300", "short rows", "4-D"],
)
def test_cifar10_refuses_data_that_are_not_pixels_0_to_255_naming_the_file(home, pixels, message):
    batches = _cifar_batches(np.random.RandomState(7))
    batches["test_batch"][b"data"] = pixels
    _make_cifar_archive(home, batches)
    with pytest.raises(ValueError, match=f"CIFAR10: .*test_batch {message}"):
        CIFAR10(train=False)


def test_cifar10_takes_pixels_stored_as_other_integers_in_0_to_255(home):
    batches = _cifar_batches(np.random.RandomState(8))
    pixels = batches["test_batch"][b"data"]
    batches["test_batch"][b"data"] = pixels.astype(np.int64).tolist()  # a list of lists of ints
    _make_cifar_archive(home, batches)
    np.testing.assert_array_equal(CIFAR10(train=False).data, pixels.reshape(-1, 3, 32, 32))


@pytest.mark.parametrize(
    "key, value, message",
    [
        (b"data", [[0] * 3072, [0] * 3071, [0] * 3072], "a 'data' entry that is not a rectangular array"),
        (b"labels", [[0], [1, 2], [3]], "a 'labels' entry that is not a rectangular array"),
        (b"labels", [True, False, True], "labels of dtype bool; expected integer class ids"),
        (b"labels", ["1", "2", "3"], "labels of dtype <U1; expected integer class ids"),
    ],
    ids=["ragged data", "ragged labels", "bool labels", "string labels"],
)
def test_cifar10_refuses_ragged_or_non_integer_entries_naming_the_file(home, key, value, message):
    batches = _cifar_batches(np.random.RandomState(9))
    batches["test_batch"][key] = value
    _make_cifar_archive(home, batches)
    with pytest.raises(ValueError, match=f"CIFAR10: .*test_batch has {message}"):
        CIFAR10(train=False)


def test_cifar10_refuses_a_batch_that_repeats_one_row_by_reference(home):
    # 20000 references to one row pickle into about 40 KB (and gzip to far
    # less); expanded they would be 20000 x 3072 int64 pixels, 490 MB.
    row = list(range(256)) * 12
    batch = {b"data": [row] * 20_000, b"labels": [0] * 20_000}
    archive = _make_cifar_archive(home, {"test_batch": batch})
    assert os.path.getsize(archive) < 10_000
    with pytest.raises(ValueError, match="CIFAR10: .*test_batch lists 20000 images in [0-9]+ bytes, fewer than"):
        CIFAR10(train=False)


def test_cifar_split_of_no_images_loads_as_empty(home):
    rng = np.random.RandomState(11)
    _make_cifar100_archive(home, _cifar100_file(rng, 0), _cifar100_file(rng, 2))
    empty = CIFAR100(train=True)
    assert len(empty) == 0 and empty.data.shape == (0, 3, 32, 32) and empty.label.shape == (0,)
    assert len(CIFAR100(train=False)) == 2


def test_cifar100_archive_with_a_folder_where_a_batch_should_be_names_the_path(home):
    info = tarfile.TarInfo("cifar-100-python/train")
    info.type = tarfile.DIRTYPE
    _make_cifar_archive(
        home,
        {"test": _cifar100_file(np.random.RandomState(12), 2)},
        extra_members=[(info, None)],
        archive="cifar-100-python.tar.gz",
        folder="cifar-100-python",
    )
    path = home / "cifar-100-python" / "train"
    with pytest.raises(ValueError, match=f"CIFAR100: {re.escape(str(path))} should be a pickled batch but is a folder"):
        CIFAR100(train=True)


def test_cifar100_with_a_file_where_its_folder_should_be_names_that_file(home, monkeypatch):
    import dezero.datasets as datasets

    (home / "cifar-100-python").write_text("not a folder")
    monkeypatch.setattr(datasets, "get_file", lambda *a, **k: pytest.fail("nothing is downloaded"))
    folder = re.escape(str(home / "cifar-100-python"))
    with pytest.raises(NotADirectoryError, match=f"CIFAR100: {folder} should be the folder .* but is a file"):
        CIFAR100(train=True)
    assert os.listdir(home) == ["cifar-100-python"]  # no temporary folder left


def test_extract_tar_with_a_file_where_the_folder_goes_names_it(tmp_path):
    archive = _tar_with(tmp_path, tarfile.TarInfo("pkg/more.txt"))
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "pkg").write_text("in the way")
    with pytest.raises(NotADirectoryError, match=f"extract_tar: .*: {re.escape(str(dest / 'pkg'))} is a file"):
        extract_tar(str(archive), str(dest), "pkg")
    assert os.listdir(dest) == ["pkg"] and (dest / "pkg").read_text() == "in the way"


def test_extract_tar_names_the_destination_not_the_temporary_folder_when_the_disk_fails(tmp_path, monkeypatch):
    archive = _tar_with(tmp_path, tarfile.TarInfo("pkg/more.txt"))
    dest = tmp_path / "dest"
    dest.mkdir()

    def full_disk(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", os.path.join(path, "pkg", "more.txt"))

    monkeypatch.setattr(tarfile.TarFile, "extractall", full_disk)
    with pytest.raises(OSError) as raised:
        extract_tar(str(archive), str(dest), "pkg")
    assert raised.value.errno == errno.ENOSPC
    assert str(raised.value) == (
        f"[Errno {errno.ENOSPC}] extract_tar: cannot extract {archive} into {dest}: No space left on device"
    )
    assert os.listdir(dest) == []


def test_extract_tar_refuses_a_member_inside_a_member_that_is_a_file(tmp_path):
    archive = _tar_with(tmp_path, tarfile.TarInfo("pkg/ok.txt/inner.txt"))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ValueError, match="member 'pkg/ok.txt/inner.txt' lies inside 'pkg/ok.txt', which .* a file"):
        extract_tar(str(archive), str(dest), "pkg")
    assert os.listdir(dest) == []


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_load_pickle_accepts_numpy_data(tmp_path, protocol):
    obj = {
        "data": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "f": np.float32(1.5),
        "nested": [(1, 2.0, "s", b"b", None, True)],
        "set": {1, 2},
        "frozen": frozenset([3]),
    }
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    back = load_pickle(str(path), encoding="ASCII")
    np.testing.assert_array_equal(back["data"], obj["data"])
    assert back["f"] == np.float32(1.5) and back["f"].dtype == np.float32
    assert back["nested"] == obj["nested"] and back["set"] == {1, 2} and back["frozen"] == frozenset([3])


def test_load_pickle_accepts_old_numpy_module_names(tmp_path):
    # Pickles written by NumPy 1 (CIFAR's among them) name numpy.core, not numpy._core.
    payload = pickle.dumps(np.arange(5, dtype=np.int16), protocol=2)
    legacy = payload.replace(b"numpy._core.", b"numpy.core.")
    path = tmp_path / "legacy.pkl"
    path.write_bytes(legacy)
    np.testing.assert_array_equal(load_pickle(str(path)), np.arange(5))


@pytest.mark.parametrize("culprit", ["os.system", "builtins.eval", "subprocess.Popen"])
def test_load_pickle_refuses_other_globals(tmp_path, culprit):
    module, name = culprit.rsplit(".", 1)
    # Hand-written protocol-0 pickle: GLOBAL module name, then call it on a tuple.
    payload = f"c{module}\n{name}\n(S'touch {tmp_path / MARKER_NAME}'\ntR.".encode()
    path = tmp_path / "evil.pkl"
    path.write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError, match=f"refusing to load the global '{culprit}'"):
        load_pickle(str(path))
    assert not (tmp_path / MARKER_NAME).exists()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_load_pickle_accepts_empty_bytes_and_empty_arrays(tmp_path, protocol):
    # Protocols 0-2 spell b'' as a call of builtins.bytes with no argument.
    obj = {"b": b"", "ba": bytearray(b""), "ba2": bytearray(b"xy"), "empty": np.zeros((0, 3072), np.uint8)}
    path = tmp_path / "empty.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    back = load_pickle(str(path))
    assert back["b"] == b"" and back["ba"] == bytearray() and back["ba2"] == bytearray(b"xy")
    assert back["empty"].shape == (0, 3072) and back["empty"].dtype == np.uint8


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"c__builtin__\nbytes\n(I1000000000000\ntR.", r"refusing bytes\(1000000000000\)"),
        (b"cbuiltins\nbytearray\n(I1000000000000\ntR.", r"refusing bytearray\(1000000000000\)"),
        (
            b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I1000000000000\ntS'b'\ntR.",
            r"refusing to allocate an array of shape \(1000000000000,\)",
        ),
    ],
    ids=["bytes", "bytearray", "array"],
)
def test_load_pickle_refuses_to_allocate_from_a_number_in_the_file(tmp_path, payload, message):
    path = tmp_path / "bomb.pkl"
    path.write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError, match=f"load_pickle: .*bomb.pkl: {message}"):
        load_pickle(str(path))


class _CallsNdarray:
    """Unpickled, this would call numpy.ndarray: uninitialised memory of any shape."""

    def __reduce__(self):
        return (np.ndarray, ((100000, 3072), "u1"))


def test_cifar10_batch_that_calls_ndarray_is_refused_naming_the_file(home):
    batches = _cifar_batches(np.random.RandomState(3))
    batches["data_batch_2"][b"data"] = _CallsNdarray()
    _make_cifar_archive(home, batches)
    with pytest.raises(pickle.UnpicklingError, match=r"data_batch_2: refusing to call numpy\.ndarray"):
        CIFAR10(train=True)


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(_CallsNdarray(), protocol=4),
        b"cnumpy\nndarray\n(I1000000000\ntR.",
    ],
    ids=["reduce", "protocol-0"],
)
def test_load_pickle_refuses_to_call_ndarray(tmp_path, payload):
    path = tmp_path / "bomb.pkl"
    path.write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError, match=r"load_pickle: .*bomb.pkl: refusing to call numpy\.ndarray"):
        load_pickle(str(path))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_load_pickle_accepts_numpy_arrays_of_every_protocol(tmp_path, protocol):
    arrays = [
        np.arange(6, dtype=np.uint8).reshape(2, 3),
        np.linspace(0, 1, 5, dtype=np.float32),
        np.array([[1.5, -2.0]], dtype=np.float64),
        np.array([-3, 4], dtype=np.int64),
        np.array([True, False]),
        np.zeros((0, 3072), np.uint8),
        np.zeros(0, np.float32),
        np.array(7, dtype=np.int16),
        np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
    ]
    path = tmp_path / "arrays.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=protocol))
    back = load_pickle(str(path))
    assert len(back) == len(arrays)
    for got, want in zip(back, arrays):
        assert type(got) is np.ndarray and got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("opcode", [b"\x8e", b"\x8d"], ids=["BINBYTES8", "BINUNICODE8"])
def test_load_pickle_with_a_length_field_beyond_the_file_names_the_file(tmp_path, opcode):
    payload = b"\x80\x04" + opcode + struct.pack("<Q", 10**12) + b"abcdefghi"
    assert len(payload) == 20
    path = tmp_path / "huge.pkl"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=r"load_pickle: .*huge.pkl declares more data than it holds"):
        load_pickle(str(path))


def test_load_pickle_truncated(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"a": np.zeros(100)})[:30])
    with pytest.raises((ValueError, pickle.UnpicklingError), match="cut.pkl"):
        load_pickle(str(path))


def _tar_with(tmp_path, info, payload=b"x"):
    path = tmp_path / "bad.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("pkg/ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        if info.isfile():
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        else:
            tar.addfile(info)
    return path


@pytest.mark.parametrize("member", ["pkg/../../escape.txt", "/tmp/abs_escape.txt", "../escape.txt"])
def test_extract_tar_refuses_path_traversal(tmp_path, member):
    dest = tmp_path / "dest"
    dest.mkdir()
    archive = _tar_with(tmp_path, tarfile.TarInfo(member))
    with pytest.raises(ValueError, match="outside the target folder"):
        extract_tar(str(archive), str(dest), "pkg")
    assert not (tmp_path / "escape.txt").exists()
    assert os.listdir(dest) == []  # nothing extracted, temp folder removed


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_extract_tar_refuses_links(tmp_path, kind):
    info = tarfile.TarInfo("pkg/link")
    info.type = kind
    info.linkname = "/etc/passwd"
    archive = _tar_with(tmp_path, info)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ValueError, match="link or a special file"):
        extract_tar(str(archive), str(dest), "pkg")
    assert os.listdir(dest) == []


def test_extract_tar_truncated_archive(tmp_path):
    archive = _tar_with(tmp_path, tarfile.TarInfo("pkg/big.bin"), payload=os.urandom(50_000))
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[:5000])
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ValueError, match="cut.tar.gz is truncated"):
        extract_tar(str(cut), str(dest), "pkg")
    assert os.listdir(dest) == []


# =============================================================================
# ImageNet class names
# =============================================================================
def test_imagenet_labels(home):
    with pytest.raises(FileNotFoundError, match=str(home / "imagenet_labels.txt")):
        ImageNet.labels()
    (home / "imagenet_labels.txt").write_text("tench, Tinca tinca\ngoldfish\n\n")
    assert ImageNet.labels() == {0: "tench, Tinca tinca", 1: "goldfish"}
    (home / "imagenet_labels.txt").write_text("{0: 'tench, Tinca tinca',\n 1: 'goldfish'}\n")
    assert ImageNet.labels() == {0: "tench, Tinca tinca", 1: "goldfish"}
    marker = home / MARKER_NAME
    (home / "imagenet_labels.txt").write_text(f"{{0: __import__('os').system('touch {marker}')}}")
    with pytest.raises(ValueError, match="not a dict literal"):
        ImageNet.labels()
    assert not marker.exists()
    with pytest.raises(NotImplementedError):
        ImageNet()


# =============================================================================
# Character-level text
# =============================================================================
def test_chartext_vocab_and_items(tmp_path):
    path = tmp_path / "t.txt"
    text = "hello, wörld\nhello"
    path.write_text(text, encoding="utf-8")
    ds = CharText(str(path))
    chars = sorted(set(text))
    assert ds.char_to_id == {c: i for i, c in enumerate(chars)}
    assert ds.id_to_char == dict(enumerate(chars))
    assert ds.vocab_size == len(chars)
    assert ds.ids.dtype == np.int64 and ds.decode(ds.ids) == text
    assert len(ds) == len(text) - 1
    for i in range(len(ds)):
        x, t = ds[i]
        assert ds.id_to_char[int(x)] == text[i] and ds.id_to_char[int(t)] == text[i + 1]
    np.testing.assert_array_equal(ds.encode("hello"), ds.ids[:5])
    with pytest.raises(KeyError, match="'z'"):
        ds.encode("zz")


def test_chartext_windows_and_seq_loader(tmp_path):
    path = tmp_path / "t.txt"
    text = "abcdefghij" * 3
    path.write_text(text)
    ds = CharText(str(path), seq_len=4)
    assert len(ds) == len(text) - 4
    x, t = ds[5]
    assert ds.decode(x) == text[5:9] and ds.decode(t) == text[6:10]
    xb, tb = next(DataLoader(ds, batch_size=3, shuffle=False))
    assert xb.shape == (3, 4) and xb.dtype == np.int64
    steps = list(SeqDataLoader(CharText(str(path)), batch_size=2))
    assert len(steps) == (len(text) - 1) // 2
    x0, t0 = steps[0]
    jump = (len(text) - 1) // 2
    assert CharText(str(path)).decode(x0) == text[0] + text[jump]


def test_chartext_errors(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("ab")
    with pytest.raises(ValueError, match="need at least 4"):
        CharText(str(path), seq_len=3)
    with pytest.raises(ValueError, match="seq_len"):
        CharText(str(path), seq_len=0)


def test_shakespeare_reads_cached_file(home):
    (home / "tinyshakespeare.txt").write_text("First Citizen:\nBefore we proceed", encoding="utf-8")
    ds = Shakespeare()
    assert ds.decode(ds.ids[:5]) == "First"
    assert ds.path == str(home / "tinyshakespeare.txt")


def test_transform_on_image_dataset_item():
    pytest.importorskip("sklearn")
    ds = Digits(train=False, transform=Flatten(), target_transform=lambda t: t + 100)
    x, t = ds[0]
    assert x.shape == (64,) and t >= 100


def test_read_idx_accepts_path_objects(tmp_path):
    data = np.arange(6, dtype=np.uint8).reshape(2, 3)
    header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    path = tmp_path / "a.idx.gz"
    with gzip.open(path, "wb") as f:
        f.write(header + data.tobytes())
    np.testing.assert_array_equal(read_idx(path), data)


# =============================================================================
# The book's array cache: save_cache_npz / load_cache_npz
# =============================================================================
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def test_cache_npz_round_trip_keeps_values_and_dtypes(home):
    data = np.random.default_rng(0).standard_normal((4, 3, 2, 2)).astype(np.float32)
    label = np.array([3, 1, 4, 1], dtype=np.int64)
    path = save_cache_npz(data, label, URL, train=True)
    assert path == str(home / "cifar-10-python.tar.gz.train.npz")
    back_data, back_label = load_cache_npz(URL, train=True)
    assert back_data.dtype == np.float32 and back_label.dtype == np.int64
    np.testing.assert_array_equal(back_data, data)
    np.testing.assert_array_equal(back_label, label)
    assert [p for p in os.listdir(home) if p.startswith(".")] == []  # no temporary file left


def test_cache_npz_absent_file_gives_none_none(home):
    assert load_cache_npz(URL, train=True) == (None, None)
    assert load_cache_npz("cifar-10-python.tar.gz") == (None, None)


def test_cache_npz_keeps_train_and_test_apart(home):
    save_cache_npz(np.zeros(3), np.zeros(3, dtype=int), URL, train=True)
    assert load_cache_npz(URL, train=False) == (None, None)  # test is the default split
    save_cache_npz(np.ones(2), np.ones(2, dtype=int), URL)
    assert load_cache_npz(URL, train=True)[0].tolist() == [0, 0, 0]
    assert load_cache_npz(URL)[0].tolist() == [1, 1]
    assert sorted(os.listdir(home)) == ["cifar-10-python.tar.gz.test.npz", "cifar-10-python.tar.gz.train.npz"]


def test_cache_npz_names_the_file_by_the_last_component_only(home):
    save_cache_npz(np.zeros(1), np.zeros(1), "some/local/folder/archive.tgz", train=True)
    assert load_cache_npz("https://elsewhere.example/archive.tgz", train=True)[0].tolist() == [0]


def test_save_cache_npz_replaces_an_older_file_and_creates_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEZERO_HOME", str(tmp_path / "new" / "cache"))
    save_cache_npz(np.zeros(2), np.zeros(2), URL)
    path = save_cache_npz(np.full(2, 7.0), np.ones(2), URL)
    assert os.path.dirname(path) == str(tmp_path / "new" / "cache")
    assert load_cache_npz(URL)[0].tolist() == [7.0, 7.0]


def test_save_cache_npz_refuses_python_objects_and_writes_nothing(home):
    with pytest.raises(TypeError, match="save_cache_npz: label has dtype object"):
        save_cache_npz(np.zeros(2), np.array([{"a": 1}, None], dtype=object), URL)
    with pytest.raises(ValueError, match="save_cache_npz: filename .* ends with a slash"):
        save_cache_npz(np.zeros(2), np.zeros(2), "https://host/dir/")
    assert os.listdir(home) == []


@pytest.mark.parametrize(
    "members, message",
    [
        ([("data.npy", None), ("label", b"hello")], "member 'label' is not an .npy array"),
        ([("data.npy", None), ("label.npy", None), ("label.npy", None)], "member 'label.npy' appears twice"),
        (
            [("data.npy", None), ("label.npy", None), ("label", None)],
            "members 'label.npy' and 'label' would both load as entry 'label'",
        ),
    ],
    ids=["raw-bytes", "same-name", "without-suffix"],
)
def test_load_cache_npz_refuses_members_that_are_not_one_array_each(home, members, message):
    path = home / "cifar-10-python.tar.gz.test.npz"
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a repeated name
        with zipfile.ZipFile(path, "w") as archive:
            for name, payload in members:
                archive.writestr(name, buffer.getvalue() if payload is None else payload)
    with pytest.raises(ValueError, match=f"load_cache_npz: cannot read .*{re.escape(path.name)} .*{message}"):
        load_cache_npz(URL)


def test_load_cache_npz_never_unpickles(home, tmp_path):
    marker = tmp_path / MARKER_NAME
    path = home / "cifar-10-python.tar.gz.test.npz"
    np.savez(path, data=np.array([_Evil(marker)], dtype=object), label=np.zeros(1))
    with pytest.raises(ValueError, match="load_cache_npz: cannot read .*pickle"):
        load_cache_npz(URL)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content,message",
    [
        (b"not a zip archive", "cannot read"),
        ("npy", "one array, not an .npz archive"),
        ("no label", "has no label array"),
    ],
)
def test_load_cache_npz_names_a_damaged_file(home, content, message):
    path = home / "cifar-10-python.tar.gz.test.npz"
    if content == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(2))
    elif content == "no label":
        np.savez(path, data=np.zeros(2))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=f"load_cache_npz: .*{message}") as info:
        load_cache_npz(URL)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "data, label, error, message",
    [
        ([[1, 2], [3]], [0, 1], ValueError, "data is not a rectangular array"),
        (np.zeros(2), [[0], [1, 2]], ValueError, "label is not a rectangular array"),
        (np.zeros((3, 2)), np.zeros(2, dtype=np.int64), ValueError, "data has 3 items but label has 2"),
        (np.zeros(2), np.array([0, -1]), ValueError, "label holds negative class ids .*smallest is -1"),
        (np.array(["a", "b"]), np.zeros(2), TypeError, "data has dtype <U1, not numbers"),
        (np.zeros(2), np.array([b"1", b"2"]), TypeError, "label has dtype |S1, not numbers"),
        (np.float32(1.0), np.zeros(1), ValueError, "data is a single value"),
    ],
    ids=["ragged data", "ragged label", "lengths", "negative", "strings", "bytes", "scalar"],
)
def test_save_cache_npz_refuses_data_it_cannot_cache_naming_the_argument(home, data, label, error, message):
    save_cache_npz(np.ones(1), np.ones(1), URL)
    before = (home / "cifar-10-python.tar.gz.test.npz").read_bytes()
    with pytest.raises(error, match="save_cache_npz: " + message.replace("|", r"\|")):
        save_cache_npz(data, label, URL)
    assert (home / "cifar-10-python.tar.gz.test.npz").read_bytes() == before  # the cache already there is kept
    assert os.listdir(home) == ["cifar-10-python.tar.gz.test.npz"]


def test_save_cache_npz_takes_float_labels_of_any_sign_and_bool_or_complex_data(home):
    save_cache_npz(np.array([True, False]), np.array([-0.5, 2.0]), URL, train=True)
    data, label = load_cache_npz(URL, train=True)
    assert data.dtype == np.bool_ and label.tolist() == [-0.5, 2.0]
    save_cache_npz(np.array([1 + 2j]), np.array([0], dtype=np.uint8), URL)
    data, label = load_cache_npz(URL)
    assert data.tolist() == [1 + 2j] and label.dtype == np.uint8


def test_save_cache_npz_takes_a_variable_as_the_array_it_holds(home):
    x = Variable(np.arange(6, dtype=np.float32).reshape(3, 2))
    t = Variable(np.array([2, 0, 1]))
    save_cache_npz(x, t, URL)
    data, label = load_cache_npz(URL)
    np.testing.assert_array_equal(data, x.data)
    np.testing.assert_array_equal(label, t.data)
    assert data.dtype == np.float32


@pytest.mark.parametrize("op", ["save", "load"])
@pytest.mark.parametrize(
    "filename, error, message",
    [
        (None, TypeError, "filename must be a str .*, got NoneType"),
        (b"cifar.tar.gz", TypeError, "filename must be a str .*, got bytes"),
        ("", ValueError, "filename is empty"),
        ("https://host/dir/", ValueError, "filename 'https://host/dir/' ends with a slash"),
    ],
)
def test_cache_npz_refuses_a_filename_that_names_no_file(home, op, filename, error, message):
    name = f"{op}_cache_npz"
    with pytest.raises(error, match=f"{name}: {message}"):
        if op == "save":
            save_cache_npz(np.zeros(2), np.zeros(2), filename)
        else:
            load_cache_npz(filename)
    assert os.listdir(home) == []


@pytest.mark.parametrize("op", ["save", "load"])
def test_cache_npz_refuses_a_train_that_is_not_a_bool(home, op):
    with pytest.raises(TypeError, match=f"{op}_cache_npz: train must be True .* or False .*, got 'test'"):
        if op == "save":
            save_cache_npz(np.zeros(2), np.zeros(2), URL, train="test")
        else:
            load_cache_npz(URL, train="test")
    assert os.listdir(home) == []


def test_cache_npz_takes_a_path_object_as_filename(home, tmp_path):
    save_cache_npz(np.zeros(2), np.zeros(2), tmp_path / "archive.tgz", train=True)
    assert os.listdir(home) == ["archive.tgz.train.npz"]
    assert load_cache_npz(tmp_path / "archive.tgz", train=True)[0].tolist() == [0, 0]


def test_load_cache_npz_refuses_a_header_claiming_a_huge_array_before_allocating(home):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**13,)})
    path = home / "cifar-10-python.tar.gz.test.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.npy", header.getvalue() + bytes(16))
        archive.writestr("label.npy", header.getvalue() + bytes(16))
    with pytest.raises(ValueError) as raised:  # not MemoryError
        load_cache_npz(URL)
    message = str(raised.value)
    assert message.startswith(f"load_cache_npz: cannot read {path} (the header of 'data.npy' declares a float64")
    assert "(10000000000000,)" in message and "holds 16 bytes of data" in message


def test_load_cache_npz_refuses_data_and_labels_of_different_lengths(home):
    path = home / "cifar-10-python.tar.gz.test.npz"
    np.savez(path, data=np.zeros((3, 2)), label=np.zeros(2))
    with pytest.raises(ValueError, match=f"load_cache_npz: {re.escape(str(path))} holds data of shape .*not one label"):
        load_cache_npz(URL)
