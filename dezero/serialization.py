"""Saving and loading: model weights, optimizer state and checkpoints.

This module owns every file dezero writes for a model. It talks to a model
only through :meth:`Layer.state_entries <dezero.layers.Layer.state_entries>`
and to an optimizer only through its public state (``slots``, ``counters``,
``step_counters``, ``state``), so the file format lives in one place.

Two guarantees hold for every file:

* **Atomic**: written to a temporary file next to the target, flushed, fsync'd
  and renamed over it (:func:`dezero.files.atomic_write`). A crash in the
  middle leaves the previous file as it was.
* **Safe to load**: archives are read with ``allow_pickle=False`` and checked
  against the model (keys, shapes, dtypes) and the optimizer before anything
  is assigned, so a file that does not fit leaves both unchanged.

A checkpoint holds the model's weights, the optimizer's state (momenta, Adam
moments, step counts), the state of NumPy's global random generator (which
shuffles the DataLoader and draws dropout masks) and any extra values you pass::

    save_checkpoint("ckpt.npz", model, optimizer, epoch=3)
    ...
    extra = load_checkpoint("ckpt.npz", model, optimizer)   # {'epoch': 3}
"""

from __future__ import annotations

import math
import os
import struct
import warnings
import weakref
import zipfile
import zlib
from typing import Optional

import numpy as np

from dezero.backend import as_numpy, get_array_module
from dezero.files import atomic_write

__all__ = [
    "save_weights",
    "load_weights",
    "save_checkpoint",
    "load_checkpoint",
    "optimizer_state",
    "load_optimizer_state",
    "write_npz",
    "read_npz",
    "WeightsKeyError",
]

CHECKPOINT_FORMAT = "dezero-checkpoint/2"  # 2: with the random state
_READABLE_FORMATS = ("dezero-checkpoint/1", CHECKPOINT_FORMAT)


class WeightsKeyError(KeyError):
    """A KeyError whose message prints as written (KeyError would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0])


# =============================================================================
# .npz archives: atomic writes, pickle-free reads
# =============================================================================
def write_npz(path, arrays: dict) -> None:
    """Write ``arrays`` (name -> array, NumPy or CuPy) as an uncompressed ``.npz``
    at exactly ``path`` (no '.npz' is appended), atomically.

    The layout is the one ``np.savez`` writes (a zip of ``<name>.npy`` members),
    written here because ``np.savez`` takes the names as keyword arguments: a
    parameter called 'file' or 'allow_pickle' would collide with its own.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    arrays : dict of str to array
        The names and arrays to store.
    """
    with atomic_write(path) as f:
        with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for key, value in arrays.items():
                with archive.open(key + ".npy", mode="w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(as_numpy(value)), allow_pickle=False)


# What reading a damaged zip can raise, besides ValueError: zipfile's own
# BadZipFile, NotImplementedError for a compression method or version that a
# flipped byte turned into an unknown one, RuntimeError for a flipped
# "encrypted" flag, zlib.error for a member flipped into "deflated", EOFError
# and OSError for members cut short.
_DAMAGE = (
    ValueError,
    EOFError,
    OSError,
    zipfile.BadZipFile,
    NotImplementedError,
    RuntimeError,
    zlib.error,
    struct.error,
    OverflowError,
)


# Deflate never shrinks data more than about 1032 to 1 (zlib's documented
# limit), so a deflated member cannot hold more than this many bytes per
# compressed byte; a little slack for its headers.
_DEFLATE_MAX_RATIO = 1032
_DEFLATE_SLACK = 1024


def check_npz_names(npz) -> None:
    """Refuse an open ``.npz`` whose member names NumPy would read wrongly.

    NumPy returns the raw bytes of a member whose name lacks ``.npy`` (not an
    array), and of two members that load as one entry (``W.npy`` twice, or
    ``W`` and ``W.npy``) silently keeps one. ``np.savez`` never writes either.

    Parameters
    ----------
    npz : numpy.lib.npyio.NpzFile
        The archive, as ``np.load`` opened it.

    Raises
    ------
    ValueError
        Naming the member; callers add the operation and the file.
    """
    seen: dict = {}
    names = npz.zip.namelist()
    for name in names:
        key = name[: -len(".npy")] if name.endswith(".npy") else name
        if key in seen:
            if seen[key] == name:
                raise ValueError(f"member {name!r} appears twice: only one of them could be loaded")
            raise ValueError(
                f"members {seen[key]!r} and {name!r} would both load as entry {key!r}: only one of them could be loaded"
            )
        seen[key] = name
    for name in names:
        if not name.endswith(".npy"):
            raise ValueError(
                f"member {name!r} is not an .npy array: every member of an .npz archive must be one "
                "(NumPy would hand back its raw bytes)"
            )


def check_npz_member(npz, key: str, archive_size: int) -> None:
    """Refuse an array of an open ``.npz`` whose header does not match its size,
    before NumPy allocates it.

    NumPy allocates the whole array an ``.npy`` header declares before it
    reads any data, so a file of a few hundred bytes whose header claims shape
    ``(10**13,)`` would raise MemoryError, or use up the memory, rather than
    say that the file is damaged. Here the declared size must equal the bytes
    the member holds, and the member's size, read from the zip directory,
    must itself fit the archive: a stored member no larger than the file, a
    deflated one no more than deflate's limit of about 1032 times its
    compressed size. Members compressed otherwise (NumPy never writes them)
    are checked against their declared size only.

    Parameters
    ----------
    npz : numpy.lib.npyio.NpzFile
        The archive, as ``np.load`` opened it.
    key : str
        The entry, as ``npz[key]`` would read it.
    archive_size : int
        The archive's size in bytes.

    Raises
    ------
    ValueError
        What does not fit; callers add the operation and the file.
    """
    names = npz.zip.namelist()
    name = key if key in names else key + ".npy"  # the lookup NpzFile does
    info = npz.zip.getinfo(name)
    if info.header_offset + info.compress_size > archive_size:
        raise ValueError(f"member {name!r} claims {info.compress_size} bytes but the archive has only {archive_size}")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise ValueError(
            f"member {name!r} is stored uncompressed in {info.compress_size} bytes but claims {info.file_size}"
        )
    if (
        info.compress_type == zipfile.ZIP_DEFLATED
        and info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + _DEFLATE_SLACK
    ):
        raise ValueError(
            f"member {name!r} claims {info.file_size} bytes, more than its {info.compress_size} "
            "compressed bytes can hold"
        )
    with npz.zip.open(info) as member:
        if member.read(len(np.lib.format.MAGIC_PREFIX)) != np.lib.format.MAGIC_PREFIX:
            return  # not an array: NumPy gives back its bytes, no more than the member holds
        member.seek(0)
        version = np.lib.format.read_magic(member)
        # Versions 2 and 3 differ only in how field names are encoded, which
        # changes neither the shape nor the item size.
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(member)
        data_size = info.file_size - member.tell()
    if dtype.hasobject:
        return  # pickled objects: refused by allow_pickle=False, without allocating
    declared = math.prod(shape) * dtype.itemsize
    if declared != data_size:
        raise ValueError(
            f"the header of {name!r} declares a {dtype} array of shape {tuple(shape)} ({declared} bytes) "
            f"but the member holds {data_size} bytes of data"
        )


def read_npz(path, where: str) -> dict:
    """Read every array of an ``.npz`` archive into a dict, never unpickling.

    Any damage (a missing, empty, truncated or corrupted file, a pickle, a
    single ``.npy``, a member that is not an ``.npy`` array, two members that
    load as one entry) raises an error that starts with ``where`` and names ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The archive.
    where : str
        The operation, for the error messages (``"load_weights('m.npz')"``).

    Returns
    -------
    dict of str to numpy.ndarray

    Raises
    ------
    FileNotFoundError, ValueError
        If the file is missing or is not a readable, pickle-free archive.
    """
    path = os.fspath(path)
    try:
        # Opened here, not by np.load: np.load leaves its file open when the
        # zip directory cannot be read, and this closes it on every path.
        with open(path, "rb") as f:
            return _read_npz_file(f, path, where, os.fstat(f.fileno()).st_size)
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: no such file: {path!r}") from None
    except IsADirectoryError:
        raise ValueError(f"{where}: {path!r} is a folder, not an .npz archive") from None


def _read_npz_file(f, path: str, where: str, size: int) -> dict:
    try:
        loaded = np.load(f, allow_pickle=False)
    except _DAMAGE as e:
        raise ValueError(f"{where}: {path!r} is not a readable .npz archive ({type(e).__name__}: {e})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{where}: {path!r} holds a single array (.npy), not an .npz archive")
    with loaded:
        try:
            check_npz_names(loaded)
        except ValueError as e:
            raise ValueError(f"{where}: {path!r} is not a valid .npz archive: {e}") from None
        arrays = {}
        for key in loaded.files:
            try:
                check_npz_member(loaded, key, size)
            except _DAMAGE as e:
                raise ValueError(f"{where}: {path!r} is damaged: entry {key!r} cannot be read ({e})") from None
            try:
                arrays[key] = loaded[key]
            except ValueError as e:  # an object array would need pickle, or a damaged .npy header
                raise ValueError(f"{where}: entry {key!r} of {path!r} cannot be loaded safely ({e})") from None
            except _DAMAGE as e:  # a damaged member (bad CRC, cut short, flags flipped)
                raise ValueError(
                    f"{where}: {path!r} is damaged: entry {key!r} cannot be read ({type(e).__name__}: {e})"
                ) from None
    return arrays


# =============================================================================
# Model weights
# =============================================================================
def model_arrays(model, where: str) -> dict:
    """``{path: numpy array}`` of every parameter and persistent array of ``model``.

    Raises ValueError if a lazy layer has not created its weights yet (a file
    without them could not be loaded back). GPU arrays are copied to the host;
    the model itself never changes device because it was saved.
    """
    arrays = {}
    for path, layer, attribute, kind in model.state_entries():
        value = getattr(layer, attribute)
        data = value.data if kind == "param" else value
        if data is None:
            raise ValueError(
                f"{where}: parameter '{path}' of {type(layer).__name__} is not initialized yet: "
                "the lazy layer creates it on its first call; run one forward pass (or give "
                "in_size/in_channels) before saving"
            )
        arrays[path] = as_numpy(data)
    return arrays


def check_model_arrays(model, arrays: dict, where: str) -> dict:
    """Check ``arrays`` against ``model`` and return them converted to the
    backend each one will live on, keyed by path. Nothing is assigned.

    Raises WeightsKeyError for missing or unexpected keys, ValueError for a
    shape and TypeError for a dtype that does not fit, each naming the parameter.
    """
    entries = list(model.state_entries())
    expected = [entry[0] for entry in entries]
    missing = [k for k in expected if k not in arrays]
    if missing:
        raise WeightsKeyError(
            f"{where}: parameter '{missing[0]}' missing from the file"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + f" (found: {', '.join(arrays) if arrays else 'nothing'})"
        )
    unexpected = [k for k in arrays if k not in set(expected)]
    if unexpected:
        raise WeightsKeyError(
            f"{where}: unexpected key(s) in the file: {', '.join(unexpected)} (the model has: {', '.join(expected)})"
        )
    checked = {}
    shared: dict = {}  # (layer id, size name) -> (size, dtype, path that fixed them)
    for path, layer, attribute, kind in entries:
        value = getattr(layer, attribute)
        current = value.data if kind == "param" else value
        new = arrays[path]
        if current is not None:
            if tuple(new.shape) != tuple(current.shape):
                raise ValueError(
                    f"{where}: parameter '{path}' has shape {tuple(current.shape)} in the model "
                    f"but {tuple(new.shape)} in the file"
                )
            if new.dtype != current.dtype:
                raise TypeError(
                    f"{where}: parameter '{path}' has dtype {current.dtype} in the model but {new.dtype} in the file"
                )
            xp = get_array_module(current)
        else:
            _check_lazy_array(layer, attribute, path, new, where)
            xp = layer.array_module()
        _check_shared_sizes(layer, attribute, path, new, shared, where)
        checked[path] = xp.asarray(new)
    return checked


def _check_shared_sizes(layer, attribute: str, path: str, array, shared: dict, where: str) -> None:
    """Arrays of one layer that name the same size in their ``lazy_shape`` (all
    four arrays of a BatchNorm have ``'channels'`` entries) must agree on it and
    on their dtype: a lazy layer takes them from the file one by one, so
    nothing else would notice gamma (3,) next to beta (5,)."""
    shape = layer.lazy_shape(attribute)
    if shape is None or len(shape) != array.ndim:
        return
    for axis, size_name in enumerate(shape):
        if not isinstance(size_name, str):
            continue
        key = (id(layer), size_name)
        if key not in shared:
            shared[key] = (array.shape[axis], array.dtype, path)
            continue
        size, dtype, first = shared[key]
        if array.shape[axis] != size:
            raise ValueError(
                f"{where}: parameter '{path}' has shape {tuple(array.shape)} but '{first}' has "
                f"{size} {size_name}: the arrays of one {type(layer).__name__} must agree"
            )
        if array.dtype != dtype:
            raise TypeError(
                f"{where}: parameter '{path}' has dtype {array.dtype} but '{first}' has {dtype}: "
                f"the arrays of one {type(layer).__name__} must have one dtype"
            )


def _check_lazy_array(layer, attribute: str, path: str, new, where: str) -> None:
    """Checks for an array loaded into a weight that does not exist yet."""
    shape = layer.lazy_shape(attribute)
    if shape is not None:
        fits = len(shape) == new.ndim and all(
            s is None or isinstance(s, str) or s == n for s, n in zip(shape, new.shape)
        )
        if not fits:
            want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
            raise ValueError(
                f"{where}: parameter '{path}' must have shape {want} for this model "
                f"but has {tuple(new.shape)} in the file"
            )
    dtype = getattr(layer, "dtype", None)
    if dtype is not None and new.dtype != np.dtype(dtype):
        raise TypeError(
            f"{where}: parameter '{path}' has dtype {np.dtype(dtype)} in the model but {new.dtype} in the file"
        )
    if new.dtype.kind != "f":
        raise TypeError(f"{where}: parameter '{path}' must be floating point, got {new.dtype} in the file")


def assign_model_arrays(model, checked: dict) -> None:
    """Assign what :func:`check_model_arrays` returned (cannot fail)."""
    for path, layer, attribute, kind in model.state_entries():
        if kind == "param":
            getattr(layer, attribute).data = checked[path]
        else:
            setattr(layer, attribute, checked[path])


def save_weights(model, path) -> None:
    """Write every parameter (and persistent array) of ``model`` to ``path`` as
    an ``.npz`` archive keyed by parameter path (``l1/W``).

    Parameters
    ----------
    model : Layer
        The model to save; lazy layers must have run once.
    path : str or os.PathLike
        Used exactly as given (no '.npz' is appended). The write is atomic.
    """
    path = os.fspath(path)
    write_npz(path, model_arrays(model, f"save_weights({path!r})"))


def load_weights(model, path) -> None:
    """Load weights written by :func:`save_weights` into ``model``.

    Parameters
    ----------
    model : Layer
        The model to fill; lazy layers may be empty (their shapes come from the file).
    path : str or os.PathLike
        An ``.npz`` archive (no pickle is ever loaded).

    Raises
    ------
    WeightsKeyError, ValueError, TypeError
        A missing or unexpected key, a shape or a dtype that does not fit; the
        model is left unchanged. Weights go onto the backend each parameter lives on.
    """
    path = os.fspath(path)
    where = f"load_weights({path!r})"
    arrays = read_npz(path, where)
    if "format" in arrays and any(key.startswith("model/") for key in arrays):
        raise ValueError(
            f"{where}: this file is a checkpoint; read it with dezero.load_checkpoint(path, model, optimizer)"
        )
    assign_model_arrays(model, check_model_arrays(model, arrays, where))


# =============================================================================
# Optimizer state
# =============================================================================
def optimizer_state(optimizer) -> dict:
    """``{key: numpy array}``: the optimizer-wide counters by name, and each
    parameter's state as ``'<param path>/<slot>'`` (e.g. ``'l1/W/m'``).

    Parameters
    ----------
    optimizer : Optimizer
        Set up with a model (its parameter paths name the state).

    Returns
    -------
    dict of str to numpy.ndarray
    """
    out = {name: np.asarray(getattr(optimizer, name), dtype=np.int64) for name in optimizer.step_counters}
    if optimizer.target is None:
        return out
    for path, param in optimizer.target.named_params():
        state = optimizer.state.get(param)
        if state is None:
            continue
        for name in optimizer.slots:
            out[f"{path}/{name}"] = as_numpy(state[name])
        for name in optimizer.counters:
            out[f"{path}/{name}"] = np.asarray(state[name], dtype=np.int64)
    return out


def check_optimizer_state(optimizer, arrays: dict, where: str, incoming: Optional[dict] = None):
    """Validate ``arrays`` for ``optimizer`` and convert them to each parameter's
    backend; nothing is assigned. ``incoming`` maps parameter paths to the
    arrays they are about to be given (a checkpoint being loaded); other
    parameters are checked against their current data."""
    kind = type(optimizer).__name__
    if optimizer.target is None:
        raise RuntimeError(f"{where}: call setup(model) before loading optimizer state")
    incoming = incoming or {}
    steps = {}
    for name in optimizer.step_counters:
        if name not in arrays:
            raise KeyError(f"{where}: optimizer counter '{name}' missing from the state")
        steps[name] = _as_count(arrays[name], name, where)
    params = dict(optimizer.target.named_params())
    known = optimizer.slots + optimizer.counters
    grouped: dict = {}
    for key, value in arrays.items():
        if key in optimizer.step_counters:
            continue
        path, _, slot = key.rpartition("/")
        if path not in params or slot not in known:
            raise KeyError(
                f"{where}: unexpected optimizer state '{key}' for {kind} "
                f"(parameters: {', '.join(params) or 'none'}; state per parameter: {', '.join(known)})"
            )
        grouped.setdefault(path, {})[slot] = value
    per_param = []
    for path, entries in grouped.items():
        missing = [s for s in known if s not in entries]
        if missing:
            raise KeyError(f"{where}: optimizer state '{path}/{missing[0]}' missing")
        reference = incoming.get(path, params[path].data)
        if reference is None:
            raise ValueError(f"{where}: parameter '{path}' is not initialized, but the state has values for it")
        xp = get_array_module(reference)
        state = {}
        for slot in optimizer.slots:
            value = entries[slot]
            if value.shape != reference.shape or value.dtype != reference.dtype:
                raise ValueError(
                    f"{where}: optimizer state '{path}/{slot}' has shape {tuple(value.shape)} and "
                    f"dtype {value.dtype}, but the parameter has shape {tuple(reference.shape)} "
                    f"and dtype {reference.dtype}"
                )
            state[slot] = xp.array(value, copy=True)
        for slot in optimizer.counters:
            state[slot] = _as_count(entries[slot], f"{path}/{slot}", where)
        per_param.append((path, state))
    return steps, per_param


def assign_optimizer_state(optimizer, checked) -> None:
    """Assign what :func:`check_optimizer_state` returned (cannot fail)."""
    steps, per_param = checked
    params = dict(optimizer.target.named_params())
    for name, value in steps.items():
        setattr(optimizer, name, value)
    optimizer.state = weakref.WeakKeyDictionary()
    for path, state in per_param:
        optimizer.state[params[path]] = state


def load_optimizer_state(optimizer, arrays: dict) -> None:
    """Restore what :func:`optimizer_state` returned, after ``setup``; all or nothing.

    Parameters
    ----------
    optimizer : Optimizer
        Set up with the model the state belongs to.
    arrays : dict of str to array
        What :func:`optimizer_state` returned.

    Raises
    ------
    KeyError, ValueError, TypeError
        If the state does not fit; nothing is changed then.
    """
    where = f"{type(optimizer).__name__}.load_state_dict"
    assign_optimizer_state(optimizer, check_optimizer_state(optimizer, arrays, where))


def _as_count(value, name: str, where: str) -> int:
    if value.ndim != 0 or value.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: counter '{name}' must be a 0-d integer, got shape {tuple(value.shape)} dtype {value.dtype}"
        )
    return int(value)


# =============================================================================
# The random state
# =============================================================================
# Why NumPy's global generator, not a generator of dezero's own: dropout, the
# DataLoader's shuffling and weight initialisation all draw from ``np.random``
# (``xp.random`` on the GPU), so ``np.random.seed(0)`` alone makes a run
# repeatable, as the book and its readers expect. A separate generator would
# need a seed of its own and would ignore that call. Saving the global state
# also covers what a training loop draws from np.random itself (augmentation,
# noise). It is stored as plain arrays (the MT19937 key and position), never
# pickled.
_RANDOM_KEYS = ("random/numpy/key", "random/numpy/pos", "random/numpy/has_gauss", "random/numpy/cached_gaussian")


def random_state_arrays() -> dict:
    """The state of NumPy's global generator as arrays, keyed as in a checkpoint."""
    state = np.random.get_state()
    if not isinstance(state, tuple) or state[0] != "MT19937":
        # np.random.set_bit_generator can install another generator, whose
        # state is not a fixed set of arrays: leave it out rather than fail the save.
        warnings.warn(
            "save_checkpoint: NumPy's global generator is not MT19937; its state is not saved, "
            "so a resumed run will not draw the same random numbers",
            RuntimeWarning,
            stacklevel=3,
        )
        return {}
    _, key, pos, has_gauss, cached_gaussian = state
    return {
        "random/numpy/key": np.asarray(key, dtype=np.uint32),
        "random/numpy/pos": np.asarray(pos, dtype=np.int64),
        "random/numpy/has_gauss": np.asarray(has_gauss, dtype=np.int64),
        "random/numpy/cached_gaussian": np.asarray(cached_gaussian, dtype=np.float64),
    }


def check_random_state(arrays: dict, where: str) -> Optional[tuple]:
    """The state tuple for ``np.random.set_state`` from checkpoint entries, or
    None if the checkpoint has none (format 1); ValueError if it is damaged."""
    present = [key for key in _RANDOM_KEYS if key in arrays]
    if not present:
        return None
    if len(present) != len(_RANDOM_KEYS):
        missing = ", ".join(key for key in _RANDOM_KEYS if key not in arrays)
        raise ValueError(f"{where}: the random state is incomplete (missing {missing})")
    key, pos, has_gauss, cached = (arrays[k] for k in _RANDOM_KEYS)
    if key.shape != (624,) or key.dtype != np.uint32:
        raise ValueError(
            f"{where}: 'random/numpy/key' must be 624 uint32 values, got shape {tuple(key.shape)} dtype {key.dtype}"
        )
    for name, value in (("pos", pos), ("has_gauss", has_gauss)):
        if value.shape != () or value.dtype.kind not in "iu":
            raise ValueError(
                f"{where}: 'random/numpy/{name}' must be a 0-d integer, got shape "
                f"{tuple(value.shape)} dtype {value.dtype}"
            )
    if not 0 <= int(pos) <= 624 or int(has_gauss) not in (0, 1):
        raise ValueError(f"{where}: the random state is out of range (pos {int(pos)}, has_gauss {int(has_gauss)})")
    if cached.shape != () or cached.dtype.kind != "f":
        raise ValueError(
            f"{where}: 'random/numpy/cached_gaussian' must be a 0-d float, got shape "
            f"{tuple(cached.shape)} dtype {cached.dtype}"
        )
    return ("MT19937", key.copy(), int(pos), int(has_gauss), float(cached))


# =============================================================================
# Checkpoints
# =============================================================================
def save_checkpoint(path, model, optimizer=None, **extra) -> None:
    """Save ``model``'s weights, ``optimizer``'s state, the random state and
    ``extra`` values to ``path``.

    Training resumed with :func:`load_checkpoint` continues exactly as if it
    had never stopped when the checkpoint is written between epochs: same
    weights, same optimizer state, and the same random numbers from then on,
    since the state of NumPy's global generator (``np.random``) is saved too.
    That generator draws the DataLoader's shuffles (each epoch's order is drawn
    when its first batch is taken), dropout masks on the CPU and initial
    weights; it is the one ``np.random.seed`` seeds, which is why dezero uses
    it rather than a generator of its own. A checkpoint taken in the middle of
    an epoch does not hold the DataLoader's position in it.

    On the GPU, dropout draws from CuPy's generator, whose state CuPy does not
    expose; it is not saved, so seed ``cupy.random`` after loading for a
    repeatable (though not identical) continuation.

    Parameters
    ----------
    path : str or os.PathLike
        Used exactly as given; the write is atomic.
    model : Layer
        The model; lazy layers must have run once.
    optimizer : Optimizer, optional
        Set up with ``model`` (or not set up yet).
    **extra
        Numbers, strings, arrays: anything NumPy stores without pickle
        (epoch, best accuracy, ...). They come back from :func:`load_checkpoint`.
    """
    path = os.fspath(path)
    where = f"save_checkpoint({path!r})"
    arrays = {"format": np.asarray(CHECKPOINT_FORMAT)}
    for key, value in model_arrays(model, where).items():
        arrays["model/" + key] = value
    if optimizer is not None:
        if optimizer.target is not None and optimizer.target is not model:
            raise ValueError(f"{where}: the optimizer was set up with a different model")
        arrays["optimizer/class"] = np.asarray(type(optimizer).__name__)
        for key, value in optimizer_state(optimizer).items():
            arrays["optimizer/state/" + key] = value
    for key, value in extra.items():
        try:
            array = np.asarray(as_numpy(value) if not isinstance(value, (str, int, float, bool)) else value)
        except (ValueError, TypeError) as e:
            # NumPy's own words ("inhomogeneous shape after 1 dimensions")
            # say what is wrong but not with which value.
            raise ValueError(
                f"{where}: extra value {key!r} cannot be made into one array ({e}); "
                "pass numbers, strings or rectangular arrays, not nested lists of different lengths"
            ) from e
        if array.dtype == object:
            raise TypeError(
                f"{where}: extra value {key!r} of type {type(value).__name__} cannot be "
                "stored without pickle; pass numbers, strings or arrays"
            )
        arrays["extra/" + key] = array
    arrays.update(random_state_arrays())
    write_npz(path, arrays)


def load_checkpoint(path, model, optimizer=None, restore_random_state: bool = True) -> dict:
    """Restore a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    model : Layer
        Receives the weights (may be a fresh model with lazy layers).
    optimizer : Optimizer, optional
        Receives the state; set up with ``model`` here if it was not yet.
    restore_random_state : bool
        Put NumPy's global generator back in the state it had when the
        checkpoint was saved (default), so shuffling and dropout continue
        as in the original run. False leaves the generator alone (to
        fine-tune from a checkpoint with fresh randomness, for instance).

    Returns
    -------
    dict
        The extra values: 0-d values as Python scalars and strings, others as arrays.

    Raises
    ------
    ValueError, TypeError, KeyError
        The file is not a checkpoint, or does not fit the model or the
        optimizer; everything is checked before anything is assigned, so the
        model and the optimizer are unchanged.
    """
    path = os.fspath(path)
    where = f"load_checkpoint({path!r})"
    arrays = read_npz(path, where)
    marker = arrays.pop("format", None)
    if marker is None or str(marker) not in _READABLE_FORMATS:
        raise ValueError(
            f"{where}: not a dezero checkpoint (no '{CHECKPOINT_FORMAT}' marker); "
            "a file written by save_weights is read with model.load_weights"
        )
    random_state = check_random_state(arrays, where)
    weights, state, extra = {}, {}, {}
    saved_class = None
    for key, value in arrays.items():
        if key in _RANDOM_KEYS:
            continue
        if key.startswith("model/"):
            weights[key[len("model/") :]] = value
        elif key == "optimizer/class":
            saved_class = str(value)
        elif key.startswith("optimizer/state/"):
            state[key[len("optimizer/state/") :]] = value
        elif key.startswith("extra/"):
            extra[key[len("extra/") :]] = value.item() if value.ndim == 0 else value
        else:
            raise ValueError(f"{where}: unexpected entry {key!r} in the checkpoint")

    checked_weights = check_model_arrays(model, weights, where)
    checked_state = None
    if optimizer is not None:
        if saved_class is None:
            raise ValueError(f"{where}: the checkpoint holds no optimizer state")
        if saved_class != type(optimizer).__name__:
            raise TypeError(
                f"{where}: the checkpoint holds the state of a {saved_class}, not of a {type(optimizer).__name__}"
            )
        if optimizer.target is None:
            optimizer.setup(model)
        elif optimizer.target is not model:
            raise ValueError(f"{where}: the optimizer was set up with a different model")
        # Checked against the weights the model will hold once the file is in.
        params = {path for path, _ in model.named_params()}
        incoming = {key: value for key, value in checked_weights.items() if key in params}
        checked_state = check_optimizer_state(optimizer, state, where, incoming)

    assign_model_arrays(model, checked_weights)
    if checked_state is not None:
        assign_optimizer_state(optimizer, checked_state)
    if restore_random_state and random_state is not None:
        np.random.set_state(random_state)
    return extra
