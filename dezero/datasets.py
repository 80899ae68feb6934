"""Datasets: indexable collections of (input, label) pairs.

A :class:`Dataset` holds its inputs in ``self.data`` and its labels in
``self.label`` (both arrays, filled by :meth:`Dataset.prepare`), and returns one
transformed pair per index. A :class:`~dezero.dataloaders.DataLoader` turns it
into mini-batches::

    train_set = dezero.datasets.Digits(train=True)
    x, t = train_set[0]                  # x: (64,) float32 in [0, 1], t: int
    loader = dezero.DataLoader(train_set, batch_size=32)

Synthetic data (:class:`Spiral`, :class:`SinCurve`) and :class:`Digits` (bundled
with scikit-learn) need no network. :class:`MNIST`, :class:`FashionMNIST`,
:class:`CIFAR10`, :class:`CIFAR100` and :class:`Shakespeare` download their
files once into the cache (see :mod:`dezero.files`); offline, the error says
where to put them.

Image data is kept as float32 arrays of raw pixel values (0..255) shaped
(N, C, H, W); each class's default ``transform`` says what one item becomes,
and ``transform=None`` gives the raw item.
"""

from __future__ import annotations

import ast
import gzip
import os
import pickle
import shutil
import struct
import tarfile
import tempfile
import zipfile
import zlib
from typing import Any, Callable, Optional

import numpy as np

from dezero.backend import as_numpy
from dezero.core import Variable
from dezero.files import DownloadError, atomic_write, cache_dir, get_file
from dezero.optional import import_optional
from dezero.serialization import check_npz_member, check_npz_names
from dezero.transforms import Compose, Flatten, Normalize

__all__ = [
    "Dataset",
    "NpyFolder",
    "Spiral",
    "get_spiral",
    "SinCurve",
    "Digits",
    "MNIST",
    "FashionMNIST",
    "CIFAR10",
    "CIFAR100",
    "ImageNet",
    "CharText",
    "Shakespeare",
    "read_idx",
    "load_pickle",
    "RestrictedUnpickler",
    "extract_tar",
    "load_cache_npz",
    "save_cache_npz",
]


def _identity(x):
    return x


def _check_train(op: str, train) -> bool:
    """``train`` as a bool; anything but a bool (NumPy's included) is refused,
    since any non-empty string, ``'test'`` among them, would pick the training split."""
    if not isinstance(train, (bool, np.bool_)):
        raise TypeError(
            f"{op}: train must be True (the training split) or False (the test split), "
            f"got {train!r} of type {type(train).__name__}"
        )
    return bool(train)


# =============================================================================
# Base class
# =============================================================================
class Dataset:
    """Base class: subclasses fill ``self.data`` (and ``self.label``, or leave
    it None for unlabelled data) in :meth:`prepare`.

    Parameters
    ----------
    train : bool
        Which split to load, for datasets that have one. Checked here for
        every dataset: anything but True or False (a NumPy bool included)
        raises TypeError before anything is loaded.
    transform, target_transform : callable, optional
        Applied to each input and each label as it is fetched; None is the
        identity.

    Notes
    -----
    ``dataset[i]`` returns ``(transform(data[i]), target_transform(label[i]))``,
    or ``(x, None)`` when there are no labels. Datasets too large for memory
    override ``__getitem__`` and ``__len__`` and read items on access instead
    (see :class:`NpyFolder`).
    """

    def __init__(
        self, train: bool = True, transform: Optional[Callable] = None, target_transform: Optional[Callable] = None
    ):
        self.train = _check_train(type(self).__name__, train)
        self.transform = transform if transform is not None else _identity
        self.target_transform = target_transform if target_transform is not None else _identity
        self.data: Any = None  # arrays once prepare() has run
        self.label: Any = None
        self.prepare()

    def prepare(self) -> None:
        """Load or generate ``self.data`` and ``self.label`` (subclasses override this)."""

    def __len__(self) -> int:
        if self.data is None:
            raise TypeError(
                f"{type(self).__name__}: prepare() left self.data unset; a dataset that loads "
                "items lazily must define __len__ and __getitem__ itself"
            )
        return len(self.data)

    def _check_index(self, index) -> int:
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(
                f"{type(self).__name__}[index]: index must be an int, got {type(index).__name__} "
                "(a DataLoader makes batches)"
            )
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}[{index}]: index out of range for {n} items")
        return int(index)

    def __getitem__(self, index):
        index = self._check_index(index)
        x = self.transform(self.data[index])
        if self.label is None:
            return x, None
        return x, self.target_transform(self.label[index])

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}({split}, {len(self)} items)"


class NpyFolder(Dataset):
    """A dataset read lazily from ``.npy`` files, one per item: nothing is
    loaded until an item is asked for (the book's "big data" case).

    ``data_dir`` holds ``0.npy``, ``1.npy``, ... ``N-1.npy``; ``label_dir``, if
    given, holds the labels under the same names. Files are read with
    ``allow_pickle=False``, so a file can only ever give back an array.

    Example::

        for i, (x, t) in enumerate(samples):
            np.save(f"data/{i}.npy", x); np.save(f"label/{i}.npy", t)
        loader = DataLoader(NpyFolder("data", "label"), batch_size=32)

    Parameters
    ----------
    data_dir : str
        The folder of ``0.npy`` ... ``N-1.npy``.
    label_dir : str, optional
        The folder of the labels, under the same names; None: no labels.
    transform, target_transform : callable, optional
        Applied to each item and each label as it is read.
    """

    def __init__(
        self,
        data_dir: str,
        label_dir: Optional[str] = None,
        transform: Optional[Callable] = None,
        target_transform: Optional[Callable] = None,
    ):
        self.data_dir = data_dir
        self.label_dir = label_dir
        super().__init__(True, transform, target_transform)

    def prepare(self) -> None:
        if not os.path.isdir(self.data_dir):
            raise FileNotFoundError(f"NpyFolder: data_dir {self.data_dir!r} is not a directory")
        stems = [f[:-4] for f in os.listdir(self.data_dir) if f.endswith(".npy")]
        indices = sorted(int(s) for s in stems if s.isdigit())
        self._size = len(indices)
        if indices != list(range(self._size)):
            missing = min(set(range(self._size)) - set(indices))
            raise ValueError(
                f"NpyFolder: {self.data_dir!r} must hold 0.npy .. {self._size - 1}.npy, but {missing}.npy is missing"
            )

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index):
        index = self._check_index(index) % self._size
        x = self.transform(np.load(os.path.join(self.data_dir, f"{index}.npy"), allow_pickle=False))
        if self.label_dir is None:
            return x, None
        t = np.load(os.path.join(self.label_dir, f"{index}.npy"), allow_pickle=False)
        return x, self.target_transform(t)


# =============================================================================
# Synthetic data
# =============================================================================
def get_spiral(train: bool = True):
    """Three interleaved spiral arms of 100 points each, shuffled.

    Returns ``x`` (300, 2) float32 and ``t`` (300,) int64 class ids 0..2. The
    seeds are fixed (different for train and test) and use NumPy's legacy
    RandomState, whose stream NumPy keeps frozen, so the data is the same on
    every machine and version.

    Parameters
    ----------
    train : bool
        The training set or the test set (another fixed seed).

    Returns
    -------
    x : numpy.ndarray
        (300, 2) float32 points.
    t : numpy.ndarray
        (300,) int64 arm (class) of each point.
    """
    num_data, num_class = 100, 3
    rng = np.random.RandomState(1984 if _check_train("get_spiral", train) else 2020)
    rate = np.arange(num_data) / num_data
    xs, ts = [], []
    for j in range(num_class):
        radius = rate
        theta = j * 4.0 + 4.0 * rate + rng.randn(num_data) * 0.2
        xs.append(np.stack([radius * np.sin(theta), radius * np.cos(theta)], axis=1))
        ts.append(np.full(num_data, j, dtype=np.int64))
    x = np.concatenate(xs).astype(np.float32)
    t = np.concatenate(ts)
    perm = rng.permutation(num_data * num_class)
    return x[perm], t[perm]


class Spiral(Dataset):
    """The spiral toy problem (see :func:`get_spiral`): items are ((2,) float32, int)."""

    def prepare(self) -> None:
        self.data, self.label = get_spiral(self.train)


class SinCurve(Dataset):
    """A time series for recurrent nets: predict the next value from the current one.

    Train: ``sin`` over one period (1000 points) with uniform noise in
    [-0.05, 0.05] (fixed seed); test: a clean ``cos``. ``data`` is the series
    without its last point and ``label`` the series shifted by one, both
    (999, 1) float32, so item i is (y[i], y[i + 1]).
    """

    def prepare(self) -> None:
        num_data = 1000
        x = np.linspace(0, 2 * np.pi, num_data)
        if self.train:
            noise = np.random.RandomState(0).uniform(-0.05, 0.05, size=x.shape)
            y = np.sin(x) + noise
        else:
            y = np.cos(x)
        y = y.astype(np.float32)
        self.data = y[:-1, np.newaxis]
        self.label = y[1:, np.newaxis]


# =============================================================================
# scikit-learn's digits: small, bundled, offline
# =============================================================================
def _stratified_split(target: np.ndarray, test_ratio: float, seed: int):
    """Per-class shuffled split; RandomState's stream is frozen by NumPy, so the
    split is the same in every process and on every NumPy version."""
    rng = np.random.RandomState(seed)
    train_idx, test_idx = [], []
    for c in np.unique(target):
        idx = rng.permutation(np.flatnonzero(target == c))
        n_test = int(round(len(idx) * test_ratio))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))


class Digits(Dataset):
    """The 8x8 handwritten digits bundled with scikit-learn (1797 images, no download).

    ``data`` is float32 (N, 1, 8, 8) scaled to [0, 1] and ``label`` int64 0..9.
    The split is a stratified 80/20 one with a fixed seed (1438 train, 359
    test items), identical in every run. The default transform flattens each
    image to (64,) for an MLP; pass ``transform=None`` for (1, 8, 8) images.
    Needs scikit-learn (``pip install scikit-learn``).

    Parameters
    ----------
    train : bool
        The training split (True) or the test split.
    transform : callable, optional
        Applied to each image as it is fetched; None gives the raw item.
    target_transform : callable, optional
        Applied to each label.
    """

    test_ratio = 0.2
    seed = 0

    def __init__(
        self, train: bool = True, transform: Optional[Callable] = Flatten(), target_transform: Optional[Callable] = None
    ):
        super().__init__(train, transform, target_transform)

    def prepare(self) -> None:
        sklearn_datasets = import_optional("sklearn.datasets", "scikit-learn", "Digits")
        digits = sklearn_datasets.load_digits()
        images = digits.images.astype(np.float32) / 16.0  # pixel counts are 0..16
        target = digits.target.astype(np.int64)
        train_idx, test_idx = _stratified_split(target, self.test_ratio, self.seed)
        idx = train_idx if self.train else test_idx
        self.data = images[idx][:, np.newaxis]
        self.label = target[idx]

    @staticmethod
    def labels() -> dict:
        """Class id -> name.

        Returns
        -------
        dict
            ``{0: '0', ..., 9: '9'}``.
        """
        return {i: str(i) for i in range(10)}


# =============================================================================
# Downloads with mirrors
# =============================================================================
def _fetch(file_name: str, urls, sha256: Optional[str]) -> str:
    """get_file from the first mirror that answers."""
    errors = []
    for url in urls:
        try:
            return get_file(url, file_name, sha256)
        except DownloadError as e:
            errors.append(str(e))
    if len(errors) == 1:
        raise DownloadError(errors[0])
    raise DownloadError(f"every mirror failed for {file_name!r}:\n  " + "\n  ".join(errors))


# =============================================================================
# IDX files (MNIST, Fashion-MNIST)
# =============================================================================
# Third byte of the magic number -> element type; IDX is big-endian.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: "str | os.PathLike", ndim: Optional[int] = None) -> np.ndarray:
    """Read an IDX file (gzip'd if the name ends in ``.gz``) into a native-endian array.

    The header is checked (two zero bytes, a known type code, the number of
    dimensions, which must equal ``ndim`` when given) and the payload must
    have exactly the size the header announces; anything else raises
    ``ValueError`` naming the file.

    Parameters
    ----------
    path : str or os.PathLike
        The file, gzip'd when its name ends in ``.gz``.
    ndim : int, optional
        The number of dimensions the file must have.

    Returns
    -------
    numpy.ndarray
        The array, in native byte order.

    Raises
    ------
    ValueError
        If the header or the size of the payload is wrong.
    """
    path = os.fspath(path)
    compressed = path.endswith(".gz")
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as f:
            raw = f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(
            f"read_idx: {path} is truncated or not a valid gzip file ({e}); delete it so that it is downloaded again"
        ) from e
    if len(raw) < 4:
        raise ValueError(f"read_idx: {path} is truncated: {len(raw)} bytes, too short for an IDX header")
    zero0, zero1, code, nd = raw[:4]
    if zero0 != 0 or zero1 != 0 or code not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (magic number 0x{raw[:4].hex()})")
    if ndim is not None and nd != ndim:
        raise ValueError(f"read_idx: {path} holds a {nd}-D array (magic 0x{raw[:4].hex()}), expected {ndim}-D")
    header = 4 + 4 * nd
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated inside its header")
    dims = struct.unpack(f">{nd}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        problem = "is truncated" if found < expected else "has trailing bytes"
        raise ValueError(
            f"read_idx: {path} {problem}: its header announces shape {dims} "
            f"({expected} bytes of data), the file has {found}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


class MNIST(Dataset):
    """The MNIST handwritten digits: 60000 train / 10000 test 28x28 grayscale images.

    ``data`` is float32 (N, 1, 28, 28) with raw pixel values 0..255 and
    ``label`` int64 0..9. The default transform, as in the book, flattens an
    image to (784,) and divides by 255, giving values in [0, 1] for an MLP;
    ``transform=None`` gives the raw (1, 28, 28) image, e.g. for a CNN.
    The four gzip'd IDX files are downloaded once into ``<cache>/mnist/``.

    Parameters
    ----------
    train : bool
        The training split (True) or the test split.
    transform : callable, optional
        Applied to each image as it is fetched; None gives the raw item.
    target_transform : callable, optional
        Applied to each label.
    """

    folder = "mnist"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
    files = {
        True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    sha256 = {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }

    def __init__(
        self,
        train: bool = True,
        transform: Optional[Callable] = Compose([Flatten(), Normalize(0.0, 255.0)]),
        target_transform: Optional[Callable] = None,
    ):
        super().__init__(train, transform, target_transform)

    def _fetch(self, name: str) -> str:
        return _fetch(f"{self.folder}/{name}", [m + name for m in self.mirrors], self.sha256.get(name))

    def _fetch_all(self, names) -> list:
        """Every file's path, or one DownloadError that lists every file that
        could not be fetched, with its URLs and where to put it by hand (so an
        offline user learns all of them in one run, not one per run)."""
        paths, failures = [], []
        for name in names:
            try:
                paths.append(self._fetch(name))
            except DownloadError as e:
                failures.append((name, e))
        if not failures:
            return paths
        lines = [
            f"{type(self).__name__}: {len(failures)} of the {len(names)} files it needs could not be "
            "downloaded. If you are offline, fetch them by other means and put each one at the path shown:"
        ]
        for name, _ in failures:
            lines.append(f"  {name} -> {os.path.join(cache_dir(), self.folder, name)}")
            lines.append(f"      from {' or '.join(m + name for m in self.mirrors)}")
        # Scripts load both splits, one after the other: name the other
        # split's missing files now, not in a second failed run.
        other = not bool(self.train)
        absent = [
            name for name in self.files[other] if not os.path.exists(os.path.join(cache_dir(), self.folder, name))
        ]
        if absent:
            lines.append(f"The {'training' if other else 'test'} split (train={other}) needs these as well:")
            for name in absent:
                lines.append(f"  {name} -> {os.path.join(cache_dir(), self.folder, name)}")
        lines.append("What failed:")
        lines.extend("  " + line for _, e in failures for line in str(e).splitlines())
        raise DownloadError("\n".join(lines))

    def prepare(self) -> None:
        images_name, labels_name = self.files[bool(self.train)]
        images_path, labels_path = self._fetch_all([images_name, labels_name])
        images = read_idx(images_path, ndim=3)
        labels = read_idx(labels_path, ndim=1)
        if len(images) != len(labels):
            raise ValueError(
                f"{type(self).__name__}: {images_path} has {len(images)} images but "
                f"{labels_path} has {len(labels)} labels"
            )
        num_classes = len(self.labels())
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{type(self).__name__}: {labels_path} has labels outside 0..{num_classes - 1}")
        self.data = images[:, np.newaxis].astype(np.float32)
        self.label = labels.astype(np.int64)

    @staticmethod
    def labels() -> dict:
        """Class id -> name.

        Returns
        -------
        dict
            ``{0: '0', ..., 9: '9'}``.
        """
        return {i: str(i) for i in range(10)}


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grayscale clothes, in MNIST's format and
    shapes (see :class:`MNIST`); cached in ``<cache>/fashion-mnist/``."""

    folder = "fashion-mnist"
    mirrors = (
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    )
    sha256 = {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    }

    @staticmethod
    def labels() -> dict:
        """Class id -> name.

        Returns
        -------
        dict
            ``{0: 'T-shirt/top', 1: 'Trouser', ..., 9: 'Ankle boot'}``.
        """
        names = [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ]
        return dict(enumerate(names))


# =============================================================================
# Pickles and tar archives (CIFAR-10, CIFAR-100)
# =============================================================================
_NUMPY2 = int(np.__version__.split(".")[0]) >= 2


def _without_counts(constructor):
    """``bytes`` or ``bytearray`` for a pickle, refusing an int argument:
    pickles only ever pass them data (or nothing, for an empty one), and
    ``bytes(10**12)`` would allocate that many bytes from a few in the file."""

    def build(*args):
        if args and isinstance(args[0], (int, np.integer)):
            raise pickle.UnpicklingError(
                f"refusing {constructor.__name__}({args[0]!r}): a pickled {constructor.__name__} object is "
                "built from its content, never from a count of bytes to allocate"
            )
        return constructor(*args)

    return build


class _NdarrayName:
    """What a pickle gets for ``numpy.ndarray``: a name, not the class.

    NumPy's pickles name ``ndarray`` only as the subtype argument of
    ``_reconstruct`` (which :func:`_empty_first` maps back to the class);
    calling it, as ``ndarray((100000, 3072), 'u1')`` in a pickle would, would
    allocate uninitialised memory of a shape the file gives, so it is refused.
    """

    __slots__ = ()

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError(
            "refusing to call numpy.ndarray: it would allocate an array of uninitialised memory of a "
            "shape the file gives; NumPy pickles rebuild arrays from the data the file holds"
        )

    def __reduce__(self):
        raise TypeError("the numpy.ndarray placeholder of RestrictedUnpickler cannot be pickled")

    def __repr__(self):
        return "<numpy.ndarray, as named by a pickle>"


_NDARRAY_NAME = _NdarrayName()


def _as_ndarray(found):
    """The placeholder handed out for ``numpy.ndarray`` (``found`` is the class)."""
    return _NDARRAY_NAME


def _empty_first(reconstruct):
    """NumPy's ``_reconstruct`` for a pickle, refusing any shape but ``(0,)``:
    NumPy always pickles an array as an empty one that ``__setstate__`` then
    fills from the data in the file, while another shape would allocate an
    array of that shape from a few bytes of pickle. The subtype must be
    ``numpy.ndarray`` (its placeholder, :class:`_NdarrayName`)."""

    def build(subtype, shape, dtype):
        if subtype is not _NDARRAY_NAME:
            raise pickle.UnpicklingError(
                f"refusing to rebuild an array of subtype {subtype!r}: only numpy.ndarray is allowed"
            )
        if tuple(shape) != (0,):
            raise pickle.UnpicklingError(
                f"refusing to allocate an array of shape {tuple(shape)}: NumPy pickles rebuild arrays "
                "from shape (0,) and then fill them with the data the file holds"
            )
        return reconstruct(np.ndarray, shape, dtype)

    return build


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler for data files: it rebuilds plain containers, numbers,
    strings, bytes and NumPy arrays, and refuses every other global.

    Unpickling an untrusted file with :mod:`pickle` can run any code (a pickle
    may name ``os.system`` as a constructor); refusing in ``find_class`` stops
    that before anything is called. The constructors that could allocate
    memory from a number in the file (``bytes(n)``, an array of a given
    shape) are given checked versions that only build from data the file holds;
    ``numpy.ndarray`` itself is handed out as a placeholder that can only be
    the subtype of ``_reconstruct``, never called.
    """

    ALLOWED = {
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),  # pickle protocol 5 arrays
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "bytearray"),
        ("builtins", "bytes"),  # how protocols 0-2 spell an empty bytes object: bytes()
        ("_codecs", "encode"),  # how protocol 2 spells a bytes object
    }
    # The allowed globals that are handed out wrapped, and their wrappers.
    CHECKED = {
        ("builtins", "bytes"): _without_counts,
        ("builtins", "bytearray"): _without_counts,
        ("numpy._core.multiarray", "_reconstruct"): _empty_first,
        # Only ever the subtype argument of _reconstruct, never called.
        ("numpy", "ndarray"): _as_ndarray,
    }

    def find_class(self, module: str, name: str):
        """Resolve a global named by the pickle, refusing all but the allowed ones.

        Parameters
        ----------
        module, name : str
            The global the pickle asks for.

        Returns
        -------
        object
            The class or function, when it is in :attr:`ALLOWED`.

        Raises
        ------
        pickle.UnpicklingError
            For any other global.
        """
        # NumPy 2 renamed numpy.core to numpy._core: pickles name either one
        # (CIFAR's, from Python 2, the old one). Check one spelling, import the
        # one this NumPy has.
        canonical = module
        if module.startswith("numpy.core."):
            canonical = "numpy._core." + module[len("numpy.core.") :]
        elif module == "__builtin__":  # Python 2's name, kept by protocols 0-2
            canonical = "builtins"
        if (canonical, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load the global '{module}.{name}': data files may hold only plain containers, "
                "numbers, strings, bytes and NumPy arrays (loading it could run arbitrary code)"
            )
        wrap = self.CHECKED.get((canonical, name))
        if canonical.startswith("numpy._core.") and not _NUMPY2:
            canonical = "numpy.core." + canonical[len("numpy._core.") :]
        found = super().find_class(canonical, name)
        return wrap(found) if wrap is not None else found


def load_pickle(path: str, encoding: str = "bytes"):
    """Load a pickled data file with :class:`RestrictedUnpickler`.

    ``encoding="bytes"`` reads Python 2 pickles (like CIFAR's) with their
    strings as bytes, the way their authors document.

    Parameters
    ----------
    path : str
        The pickled file.
    encoding : str
        How Python 2 strings are decoded (``"bytes"`` keeps them as bytes).

    Returns
    -------
    object
        Plain containers, numbers, strings, bytes and NumPy arrays only.

    Raises
    ------
    pickle.UnpicklingError
        If the file names any other global (it could run code).
    ValueError
        If the file is truncated or not a pickle, or declares more data
        than it holds (a length field of 10**12 bytes, say).
    """
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, encoding=encoding).load()
        except pickle.UnpicklingError as e:
            raise pickle.UnpicklingError(f"load_pickle: {path}: {e}") from None
        except (EOFError, ValueError, TypeError) as e:
            raise ValueError(f"load_pickle: {path} is truncated or not a valid pickle ({e})") from e
        except (MemoryError, OverflowError) as e:
            # A length field (BINBYTES8, BINUNICODE8) of 10**12 makes pickle
            # allocate that much before reading: a bare MemoryError otherwise.
            size = os.fstat(f.fileno()).st_size
            raise ValueError(
                f"load_pickle: {path} declares more data than it holds ({size} bytes in the file), "
                f"or more than memory allows ({type(e).__name__}: {e or 'out of memory'})"
            ) from None


def _check_member(member: tarfile.TarInfo, archive: str) -> None:
    name = member.name.replace("\\", "/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts or (len(name) > 1 and name[1] == ":"):
        raise ValueError(
            f"extract_tar: refusing {archive}: member {member.name!r} would be written outside the target folder"
        )
    if not (member.isfile() or member.isdir()):
        raise ValueError(
            f"extract_tar: refusing {archive}: member {member.name!r} is a link or a "
            "special file; only regular files and folders are extracted"
        )


def _damaged_tar(archive: str, error: Exception) -> ValueError:
    return ValueError(
        f"extract_tar: {archive} is truncated or not a valid tar archive ({error}); "
        "delete it so that it is downloaded again"
    )


def _check_nesting(members, archive: str) -> None:
    """Refuse a member below another member that is a file ("a" and "a/b"):
    it could not be extracted, and the error would name the temporary folder."""
    files = {m.name.replace("\\", "/").strip("/") for m in members if m.isfile()}
    for m in members:
        parts = [p for p in m.name.replace("\\", "/").split("/") if p not in ("", ".")]
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent in files:
                raise ValueError(
                    f"extract_tar: refusing {archive}: member {m.name!r} lies inside {parent!r}, "
                    "which the archive holds as a file"
                )


def extract_tar(archive: str, dest_dir: str, folder: str) -> str:
    """Extract the folder ``folder/`` of a tar archive into ``dest_dir`` and return its path.

    Every member is checked first: absolute paths, ``..`` components, links and
    device files are refused. The archive is unpacked into a temporary folder
    and moved into place only when complete, so an interrupted extraction
    never looks finished.

    Parameters
    ----------
    archive : str
        The tar file (compressed or not).
    dest_dir : str
        Where the folder is created.
    folder : str
        The folder inside the archive to extract.

    Returns
    -------
    str
        The path of the extracted folder, ``dest_dir/folder``.

    Raises
    ------
    ValueError
        If a member would land outside the folder, is a link or special
        file, or lies below a member that is a file.
    NotADirectoryError
        If a file is where the folder should go.
    OSError
        If the folder cannot be written (a full disk, no permission); the
        message names ``dest_dir`` or the folder, not the temporary one.
    """
    final = os.path.join(dest_dir, folder)
    if os.path.lexists(final) and not os.path.isdir(final):
        raise NotADirectoryError(
            f"extract_tar: cannot extract {folder!r} from {archive}: {final} is a file, not a folder; delete it"
        )
    tmp = tempfile.mkdtemp(prefix=f".{folder}.", dir=dest_dir)
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = tar.getmembers()
                for m in members:
                    _check_member(m, archive)
                _check_nesting(members, archive)
                if hasattr(tarfile, "data_filter"):  # Python >= 3.12 and recent patch releases
                    tar.extractall(tmp, members=members, filter="data")
                else:
                    tar.extractall(tmp, members=members)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise _damaged_tar(archive, e) from e
        except OSError as e:
            if e.errno is None:  # bz2's "Invalid data stream": the archive, not the disk
                raise _damaged_tar(archive, e) from e
            # The error names a file in the temporary folder, which is gone by now.
            raise type(e)(e.errno, f"extract_tar: cannot extract {archive} into {dest_dir}: {e.strerror}") from e
        src = os.path.join(tmp, folder)
        if not os.path.isdir(src):
            raise ValueError(f"extract_tar: {archive} has no folder {folder!r}")
        try:
            os.replace(src, final)
        except OSError as e:  # another process put something there meanwhile
            raise type(e)(e.errno, f"extract_tar: cannot move the extracted folder to {final}: {e.strerror}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


_CIFAR_PIXELS = 3 * 32 * 32


def _rectangular(op: str, value, key: str, path: str) -> np.ndarray:
    """An entry of a pickled batch as an array, or an error naming the file."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:  # NumPy's "inhomogeneous shape" for ragged lists
        raise ValueError(f"{op}: {path} has a {key!r} entry that is not a rectangular array ({e})") from e


def _entry(op: str, batch: dict, key: str, path: str):
    # Python 2 pickles loaded with encoding="bytes" have bytes keys.
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    raise ValueError(f"{op}: {path} has no {key!r} entry (found {list(batch)})")


class CIFAR10(Dataset):
    """CIFAR-10: 50000 train / 10000 test 32x32 colour images in 10 classes.

    ``data`` is float32 (N, 3, 32, 32) with raw pixel values 0..255 and
    ``label`` int64 0..9. The default transform divides by 255 (values in
    [0, 1], shape kept for a CNN); ``transform=None`` gives raw pixels. The
    python-version archive is downloaded once and extracted safely into
    ``<cache>/cifar-10-batches-py/``; its pickled batches are read with
    :class:`RestrictedUnpickler` and must have the archive's format:
    ``data`` of integers 0..255 (uint8 in the real archive) shaped
    (n, 3072) and n integer labels. Anything else raises ValueError naming
    the file. A batch of no images loads as an empty split.

    Parameters
    ----------
    train : bool
        The training split (True) or the test split.
    transform : callable, optional
        Applied to each image as it is fetched; None gives the raw item.
    target_transform : callable, optional
        Applied to each label.
    """

    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    archive = "cifar-10-python.tar.gz"
    archive_sha256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
    folder = "cifar-10-batches-py"

    def __init__(
        self,
        train: bool = True,
        transform: Optional[Callable] = Normalize(0.0, 255.0),
        target_transform: Optional[Callable] = None,
    ):
        super().__init__(train, transform, target_transform)

    def _batch_folder(self) -> str:
        folder = os.path.join(cache_dir(), self.folder)
        if os.path.lexists(folder) and not os.path.isdir(folder):
            # Checked before the download: the archive could not be extracted there anyway.
            raise NotADirectoryError(
                f"{type(self).__name__}: {folder} should be the folder of the extracted archive but is a "
                "file; delete it so that the archive is extracted there"
            )
        if not os.path.isdir(folder):
            archive = get_file(self.url, self.archive, self.archive_sha256)
            folder = extract_tar(archive, cache_dir(), self.folder)
        return folder

    def _batch_names(self) -> list:
        """The pickled batches of this split, in order."""
        return [f"data_batch_{i}" for i in range(1, 6)] if self.train else ["test_batch"]

    def _label_key(self) -> str:
        """The entry of a batch that holds the labels."""
        return "labels"

    def _num_classes(self) -> int:
        return len(self.labels())

    def prepare(self) -> None:
        op = type(self).__name__
        folder = self._batch_folder()
        xs, ts = [], []
        for name in self._batch_names():
            data, labels = self._read_batch(op, folder, os.path.join(folder, name))
            xs.append(data)
            ts.append(labels)
        self.data = np.concatenate(xs).reshape(-1, 3, 32, 32).astype(np.float32)
        self.label = np.concatenate(ts).astype(np.int64)

    def _read_batch(self, op: str, folder: str, path: str):
        """The images (n, 3072) and labels (n,) of one pickled batch, checked
        against the archive's format: anything else raises, naming the file."""
        redo = f"delete {folder} (and {os.path.join(cache_dir(), self.archive)}) so that it is fetched again"
        if not os.path.lexists(path):
            raise FileNotFoundError(f"{op}: {path} is missing; delete {folder} to extract the archive again")
        if not os.path.isfile(path):
            raise ValueError(f"{op}: {path} should be a pickled batch but is a folder or a special file; {redo}")
        batch = load_pickle(path)
        if not isinstance(batch, dict):
            raise ValueError(f"{op}: {path} should hold a dict, got {type(batch).__name__}")
        key = self._label_key()
        raw_data, raw_labels = _entry(op, batch, "data", path), _entry(op, batch, key, path)
        # A pickle can list one row many times by reference at a cost of a few
        # bytes each, which np.asarray would expand into that many full rows:
        # a file of a few kilobytes could ask for gigabytes. Rows that are
        # really stored take at least one byte per pixel (uint8), so a file
        # smaller than its images cannot hold them.
        count = len(raw_data) if isinstance(raw_data, (list, tuple)) else None
        size = os.path.getsize(path)
        if count is not None and count * _CIFAR_PIXELS > size:
            raise ValueError(
                f"{op}: {path} lists {count} images in {size} bytes, fewer than the {_CIFAR_PIXELS} per image "
                f"that real pixels take: it repeats references to the same data; {redo}"
            )
        data = _rectangular(op, raw_data, "data", path)
        labels = _rectangular(op, raw_labels, key, path)
        if data.ndim != 2 or data.shape[1] != _CIFAR_PIXELS or labels.shape != (len(data),):
            raise ValueError(
                f"{op}: {path} has data of shape {data.shape} and {key} of shape {labels.shape}; "
                f"expected (n, {_CIFAR_PIXELS}) and (n,)"
            )
        # CIFAR's pixels are uint8; other integers are taken if they are in
        # 0..255, anything else (floats, NaN, bools, strings) is not pixel data.
        if data.dtype.kind not in "iu":
            raise ValueError(f"{op}: {path} has data of dtype {data.dtype}; expected pixel values 0..255 (uint8)")
        if data.size and data.dtype != np.uint8 and (data.min() < 0 or data.max() > 255):
            raise ValueError(
                f"{op}: {path} has pixel values from {data.min()} to {data.max()}; expected 0..255 (uint8)"
            )
        num_classes = self._num_classes()
        if labels.size and labels.dtype.kind not in "iu":
            raise ValueError(f"{op}: {path} has {key} of dtype {labels.dtype}; expected integer class ids")
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{op}: {path} has {key} outside 0..{num_classes - 1}")
        return data, labels

    @staticmethod
    def labels() -> dict:
        """Class id -> name.

        Returns
        -------
        dict
            ``{0: 'airplane', 1: 'automobile', ..., 9: 'truck'}``.
        """
        names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        return dict(enumerate(names))


# The names of the CIFAR-100 classes, in class-id order: the fine ones as the
# archive's meta file spells them, the coarse ones (superclasses) as the
# book's CIFAR100.labels gives them.
_CIFAR100_FINE = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly "
    "camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup "
    "dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower "
    "leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid "
    "otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray "
    "road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar "
    "sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle "
    "wardrobe whale willow_tree wolf woman worm"
).split()
_CIFAR100_COARSE = [
    "aquatic mammals",
    "fish",
    "flowers",
    "food containers",
    "fruit and vegetables",
    "household electrical device",
    "household furniture",
    "insects",
    "large carnivores",
    "large man-made outdoor things",
    "large natural outdoor scenes",
    "large omnivores and herbivores",
    "medium-sized mammals",
    "non-insect invertebrates",
    "people",
    "reptiles",
    "small mammals",
    "trees",
    "vehicles 1",
    "vehicles 2",
]


def _check_label_type(op: str, label_type) -> str:
    if label_type not in ("fine", "coarse"):
        raise ValueError(
            f"{op}: label_type must be 'fine' (100 classes) or 'coarse' (20 superclasses), got {label_type!r}"
        )
    return label_type


class CIFAR100(CIFAR10):
    """CIFAR-100: 50000 train / 10000 test 32x32 colour images in 100 classes,
    grouped into 20 superclasses.

    As :class:`CIFAR10` (float32 (N, 3, 32, 32) raw pixels, the default
    transform divides by 255), with ``label`` int64 0..99 for the fine
    classes or 0..19 for the coarse ones. The python-version archive is
    downloaded once and extracted safely into ``<cache>/cifar-100-python/``;
    its pickled ``train`` and ``test`` files are read with
    :class:`RestrictedUnpickler`.

    Parameters
    ----------
    train : bool
        The training split (True) or the test split.
    transform : callable, optional
        Applied to each image as it is fetched; None gives the raw item.
    target_transform : callable, optional
        Applied to each label.
    label_type : {'fine', 'coarse'}
        The 100 classes or the 20 superclasses.

    Raises
    ------
    ValueError
        If ``label_type`` is another value.
    """

    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    archive = "cifar-100-python.tar.gz"
    # As Keras (keras.datasets.cifar100) and torchvision's prototype datasets
    # pin it; the dataset's page gives the MD5 eb9058c3a382ffc7106e4002c42a8d85.
    archive_sha256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
    folder = "cifar-100-python"

    def __init__(
        self,
        train: bool = True,
        transform: Optional[Callable] = Normalize(0.0, 255.0),
        target_transform: Optional[Callable] = None,
        label_type: str = "fine",
    ):
        self.label_type = _check_label_type("CIFAR100", label_type)
        super().__init__(train, transform, target_transform)

    def _batch_names(self) -> list:
        return ["train"] if self.train else ["test"]

    def _label_key(self) -> str:
        return f"{self.label_type}_labels"

    def _num_classes(self) -> int:
        return len(self.labels(self.label_type))

    @staticmethod
    def labels(label_type: str = "fine") -> dict:
        """Class id -> name, for the fine classes or the coarse ones.

        Parameters
        ----------
        label_type : {'fine', 'coarse'}
            The 100 classes or the 20 superclasses.

        Returns
        -------
        dict
            ``{0: 'apple', ..., 99: 'worm'}`` (the archive's spelling), or
            ``{0: 'aquatic mammals', ..., 19: 'vehicles 2'}``.

        Raises
        ------
        ValueError
            If ``label_type`` is another value.
        """
        names = _CIFAR100_FINE if _check_label_type("CIFAR100.labels", label_type) == "fine" else _CIFAR100_COARSE
        return dict(enumerate(names))


class ImageNet(Dataset):
    """Only the class names of ImageNet (for labelling a pretrained model's
    predictions); the images themselves are not provided.

    Parameters
    ----------
    *args, **kwargs
        Not used: creating an ImageNet dataset raises NotImplementedError, which says so.
    """

    labels_file = "imagenet_labels.txt"

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("ImageNet: the dataset itself is not provided; only ImageNet.labels() is")

    @staticmethod
    def labels() -> dict:
        """Class id -> name, read from ``<cache>/imagenet_labels.txt``.

        The file holds the 1000 names one per line in class order, or the
        Python dict literal ``{0: 'tench, Tinca tinca', ...}`` of the widely
        shared ``imagenet1000_clsidx_to_labels.txt`` (read with
        ``ast.literal_eval``, never ``eval``).

        Returns
        -------
        dict
            ``{class id: name}`` for the 1000 classes.

        Raises
        ------
        FileNotFoundError, ValueError
            If the file is missing (the message says where to put it) or malformed.
        """
        path = os.path.join(cache_dir(), ImageNet.labels_file)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"ImageNet.labels: no class-name file at {path}. Put the 1000 ImageNet class names there, "
                "one per line in class-id order (or the dict text of imagenet1000_clsidx_to_labels.txt)"
            )
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if text.lstrip().startswith("{"):
            try:
                labels = ast.literal_eval(text)
            except (ValueError, SyntaxError) as e:
                raise ValueError(f"ImageNet.labels: {path} starts with '{{' but is not a dict literal ({e})") from e
            if not isinstance(labels, dict) or not all(
                isinstance(k, int) and isinstance(v, str) for k, v in labels.items()
            ):
                raise ValueError(f"ImageNet.labels: {path} must map int class ids to str names")
            return labels
        return dict(enumerate(line.strip() for line in text.splitlines() if line.strip()))


# =============================================================================
# The book's array cache
# =============================================================================
def _cache_npz_path(op: str, filename, train) -> str:
    train = _check_train(op, train)
    if isinstance(filename, os.PathLike):
        filename = os.fspath(filename)
    if not isinstance(filename, str):
        raise TypeError(f"{op}: filename must be a str (a URL or a path), got {type(filename).__name__}")
    if not filename:
        raise ValueError(f"{op}: filename is empty; it must name a file (a URL or a path)")
    # The book keeps the last component of a URL or a path: the caches of
    # ".../cifar-10-python.tar.gz" are cifar-10-python.tar.gz.train.npz and
    # cifar-10-python.tar.gz.test.npz.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if not name:
        raise ValueError(f"{op}: filename {filename!r} ends with a slash; it must name a file")
    return os.path.join(cache_dir(), name + (".train.npz" if train else ".test.npz"))


def _cache_array(key: str, value) -> np.ndarray:
    """``value`` as an array that an .npz stores without pickle, or a clear error."""
    if isinstance(value, Variable):
        value = value.data
    try:
        array = as_numpy(value)
    except (ValueError, TypeError) as e:  # NumPy's "inhomogeneous shape" for ragged lists
        raise ValueError(
            f"save_cache_npz: {key} is not a rectangular array (nested lists of different lengths?): {e}"
        ) from e
    if array.dtype.hasobject:
        raise TypeError(
            f"save_cache_npz: {key} has dtype object (Python objects, or items of different shapes); "
            "only arrays of numbers can be cached"
        )
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"save_cache_npz: {key} has dtype {array.dtype}, not numbers; only arrays of numbers can be cached"
        )
    if array.ndim == 0:
        raise ValueError(f"save_cache_npz: {key} is a single value; it must hold one item per sample along axis 0")
    return array


def save_cache_npz(data, label, filename: str, train: bool = False) -> str:
    """Save a dataset's arrays to the cache, for :func:`load_cache_npz` (the book's helper).

    The file is ``<cache>/<last component of filename>.train.npz`` (or
    ``.test.npz``), compressed, written atomically: an interrupted save
    leaves the previous file, or none. A file already there is replaced.

    Parameters
    ----------
    data, label : array-like
        The inputs and the labels, one item per sample along the first axis:
        arrays of numbers (NumPy or CuPy arrays, moved to NumPy, or nested
        lists), their dtypes kept. A :class:`~dezero.Variable` is taken as its
        ``.data``, the array it holds (a cache stores values, not a graph).
        Integer labels are class ids and must not be negative; float labels
        (regression targets) may take any value.
    filename : str or os.PathLike
        A URL or a path; only its last component names the cache file.
    train : bool
        Which split this is: the two are kept in two files.

    Returns
    -------
    str
        The path of the file.

    Raises
    ------
    TypeError
        If ``data`` or ``label`` holds Python objects (they could only be
        stored pickled, and :func:`load_cache_npz` never unpickles) or
        strings, if ``filename`` is not a str or ``train`` not a bool.
    ValueError
        If ``data`` or ``label`` is ragged or a single value, if their
        lengths differ, if integer labels are negative, or if ``filename``
        is empty or ends with a slash. Nothing is written then.
    """
    path = _cache_npz_path("save_cache_npz", filename, train)
    arrays = {key: _cache_array(key, value) for key, value in (("data", data), ("label", label))}
    if len(arrays["data"]) != len(arrays["label"]):
        raise ValueError(
            f"save_cache_npz: data has {len(arrays['data'])} items but label has {len(arrays['label'])}; "
            "they must have one label per item"
        )
    label = arrays["label"]
    if label.dtype.kind == "i" and label.size and label.min() < 0:
        raise ValueError(
            f"save_cache_npz: label holds negative class ids (the smallest is {label.min()}); class ids start at 0"
        )
    os.makedirs(cache_dir(), exist_ok=True)
    with atomic_write(path) as f:
        np.savez_compressed(f, data=arrays["data"], label=arrays["label"])
    return path


def load_cache_npz(filename: str, train: bool = False):
    """Load the arrays that :func:`save_cache_npz` cached (the book's helper).

    The file is read with ``allow_pickle=False``: it can only ever give back
    arrays of numbers, never run code.

    Parameters
    ----------
    filename : str
        The URL or path given to :func:`save_cache_npz`; only its last
        component counts.
    train : bool
        Which split to load.

    Returns
    -------
    data, label : numpy.ndarray or None
        The cached arrays, or ``(None, None)`` when nothing is cached.

    Raises
    ------
    ValueError
        If the file is damaged (a header that declares more data than the
        file holds included: it is refused before anything is allocated),
        lacks ``data`` or ``label``, holds pickled objects, holds a member that
        is not an ``.npy`` array or two that load as one entry, or holds data and
        labels of different lengths; the message names the file, which can be
        deleted.
    TypeError
        If ``filename`` is not a str or ``train`` not a bool.
    """
    path = _cache_npz_path("load_cache_npz", filename, train)
    if not os.path.exists(path):
        return None, None
    try:
        loaded = np.load(path, allow_pickle=False)
        if not hasattr(loaded, "files"):  # an .npy file: one bare array
            raise ValueError("it holds one array, not an .npz archive")
        with loaded:
            check_npz_names(loaded)
            arrays = {}
            for key in ("data", "label"):
                if key in loaded.files:
                    check_npz_member(loaded, key, os.path.getsize(path))
                    arrays[key] = loaded[key]
            names = loaded.files
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError) as e:
        # NumPy's ValueError for a pickle says "Cannot load file containing
        # pickled data when allow_pickle=False": kept in the message.
        raise ValueError(f"load_cache_npz: cannot read {path} ({e}); delete it and save the arrays again") from e
    if len(arrays) < 2:
        missing = " or ".join(key for key in ("data", "label") if key not in arrays)
        raise ValueError(
            f"load_cache_npz: {path} has no {missing} array (found {names}); "
            "delete it, it was not written by save_cache_npz"
        )
    if arrays["data"].ndim == 0 or arrays["label"].ndim == 0 or len(arrays["data"]) != len(arrays["label"]):
        raise ValueError(
            f"load_cache_npz: {path} holds data of shape {arrays['data'].shape} and labels of shape "
            f"{arrays['label'].shape}, not one label per item; delete it and save the arrays again"
        )
    return arrays["data"], arrays["label"]


# =============================================================================
# Text
# =============================================================================
class CharText(Dataset):
    """Character-level language-model data from a UTF-8 text file.

    The vocabulary is the sorted set of characters in the file
    (``char_to_id``, ``id_to_char``); ``ids`` is the whole text as int64 ids.
    With ``seq_len=None`` item i is (ids[i], ids[i + 1]): one character and
    the next, the layout :class:`~dezero.dataloaders.SeqDataLoader` expects.
    With ``seq_len=L`` item i is (ids[i:i+L], ids[i+1:i+L+1]), overlapping
    windows for batched sequence training.

    Parameters
    ----------
    path : str
        The UTF-8 text file.
    seq_len : int, optional
        None: items are single characters; L: windows of L characters.
    transform, target_transform : callable, optional
        Applied to each input and each label as it is fetched.
    """

    def __init__(
        self,
        path: str,
        seq_len: Optional[int] = None,
        transform: Optional[Callable] = None,
        target_transform: Optional[Callable] = None,
    ):
        if seq_len is not None and (not isinstance(seq_len, (int, np.integer)) or seq_len < 1):
            raise ValueError(f"CharText: seq_len must be a positive int or None, got {seq_len!r}")
        self.path = path
        self.seq_len = seq_len
        super().__init__(True, transform, target_transform)

    def _read_text(self) -> str:
        with open(self.path, encoding="utf-8") as f:
            return f.read()

    def prepare(self) -> None:
        text = self._read_text()
        need = 2 if self.seq_len is None else self.seq_len + 1
        if len(text) < need:
            raise ValueError(f"CharText: {self.path} has {len(text)} characters; need at least {need}")
        # Unique code points, sorted, and every character's position among them:
        # the vocabulary and the id sequence in one vectorised step.
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        uniq, ids = np.unique(codes, return_inverse=True)
        chars = [chr(c) for c in uniq]
        self.char_to_id = {c: i for i, c in enumerate(chars)}
        self.id_to_char = dict(enumerate(chars))
        self.ids = ids.astype(np.int64).reshape(-1)
        if self.seq_len is None:
            self.data, self.label = self.ids[:-1], self.ids[1:]
        else:
            windows = np.lib.stride_tricks.sliding_window_view
            self.data = windows(self.ids[:-1], self.seq_len)
            self.label = windows(self.ids[1:], self.seq_len)

    @property
    def vocab_size(self) -> int:
        return len(self.char_to_id)

    def encode(self, text: str) -> np.ndarray:
        """Text -> int64 ids (every character must be in the vocabulary).

        Parameters
        ----------
        text : str
            Characters of the vocabulary.

        Returns
        -------
        numpy.ndarray
            int64 ids, one per character.

        Raises
        ------
        KeyError
            If a character is not in the vocabulary.
        """
        unknown = sorted(set(text) - set(self.char_to_id))
        if unknown:
            raise KeyError(f"CharText.encode: characters not in the vocabulary: {unknown!r}")
        return np.array([self.char_to_id[c] for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        """Ids -> text.

        Parameters
        ----------
        ids : array-like of int
            Ids of the vocabulary, of any shape.

        Returns
        -------
        str
            The characters, in order.
        """
        return "".join(self.id_to_char[int(i)] for i in np.asarray(ids).reshape(-1))


class Shakespeare(CharText):
    """Karpathy's tiny-shakespeare (about 1.1 M characters) as a :class:`CharText`,
    downloaded once into the cache.

    Parameters
    ----------
    seq_len : int, optional
        As for :class:`CharText`.
    transform, target_transform : callable, optional
        Applied to each input and each label as it is fetched.
    """

    url = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
    file_name = "tinyshakespeare.txt"
    sha256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

    def __init__(
        self,
        seq_len: Optional[int] = None,
        transform: Optional[Callable] = None,
        target_transform: Optional[Callable] = None,
    ):
        super().__init__(self.file_name, seq_len, transform, target_transform)

    def _read_text(self) -> str:
        self.path = get_file(self.url, self.file_name, self.sha256)
        return super()._read_text()
