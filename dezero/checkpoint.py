"""Saving training state to disk without ever losing it.

Two guarantees hold for every file dezero writes here (and for
``Layer.save_weights``, which uses the same writer):

* **Atomic**: the archive is written to a temporary file in the target's
  directory, flushed and fsync'd, and only then renamed over the target with
  ``os.replace``. A crash in the middle leaves the previous file as it was
  (at worst a stray ``.NAME.*.tmp`` file remains next to it).
* **Safe to load**: archives are read with ``allow_pickle=False`` and checked
  against the model (keys, shapes, dtypes) before anything is assigned.

A checkpoint holds the model's weights, the optimizer's state (momenta, Adam
moments, step counts) and any extra values you pass, so training resumed from
it continues exactly as if it had never stopped:

    save_checkpoint("ckpt.npz", model, optimizer, epoch=3)
    ...
    extra = load_checkpoint("ckpt.npz", model, optimizer)   # {'epoch': 3}
"""
from __future__ import annotations

import os
import tempfile
import zipfile

import numpy as np

from dezero.backend import as_numpy
from dezero.files import _current_umask

__all__ = ["save_checkpoint", "load_checkpoint", "write_npz_atomic", "read_npz"]

CHECKPOINT_FORMAT = "dezero-checkpoint/1"


# =============================================================================
# Low-level: atomic .npz writes, pickle-free reads
# =============================================================================
def _write_npz(f, arrays: dict) -> None:
    # The layout np.savez writes (a zip of '<key>.npy' members), written here
    # because np.savez takes the names as keyword arguments: a parameter called
    # 'file' or 'allow_pickle' would collide with its own arguments.
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, value in arrays.items():
            with archive.open(key + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def write_npz_atomic(path, arrays: dict) -> None:
    """Write ``arrays`` (name -> array) as an uncompressed ``.npz`` at exactly
    ``path`` (no '.npz' is appended), atomically: temporary file in the same
    directory, flush, fsync, os.replace."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                                    suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, {key: as_numpy(value) for key, value in arrays.items()})
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file readable by its owner only; give it the mode
        # an ordinary open() would have.
        mode = (os.stat(path).st_mode & 0o777) if os.path.exists(path) else 0o666 & ~_current_umask()
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, path)
    except BaseException:
        try:
            os.remove(tmp_path)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not possible on every platform (Windows).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_npz(path, where: str) -> dict:
    """Read every array of an ``.npz`` archive into a dict, never unpickling."""
    path = os.fspath(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: no such file: {path!r}") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as e:  # empty, truncated, not NumPy, a pickle
        raise ValueError(f"{where}: {path!r} is not a readable .npz archive ({e})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{where}: {path!r} holds a single array (.npy), not an .npz archive")
    with loaded:
        arrays = {}
        for key in loaded.files:
            try:
                arrays[key] = loaded[key]
            except ValueError as e:  # an object array would need pickle
                raise ValueError(f"{where}: entry {key!r} of {path!r} cannot be loaded safely ({e})") from None
    return arrays


# =============================================================================
# Checkpoints
# =============================================================================
def save_checkpoint(path, model, optimizer=None, **extra) -> None:
    """Save ``model``'s weights, ``optimizer``'s state and ``extra`` values
    (numbers, strings, arrays: anything NumPy stores without pickle) to ``path``.

    The file name is used exactly as given; the write is atomic.
    """
    path = os.fspath(path)
    where = f"save_checkpoint({path!r})"
    arrays = {"format": np.asarray(CHECKPOINT_FORMAT)}
    for key, value in model._gather_weights(where).items():
        arrays["model/" + key] = value
    if optimizer is not None:
        if optimizer.target is not None and optimizer.target is not model:
            raise ValueError(f"{where}: the optimizer was set up with a different model")
        arrays["optimizer/class"] = np.asarray(type(optimizer).__name__)
        for key, value in optimizer.state_dict().items():
            arrays["optimizer/state/" + key] = value
    for key, value in extra.items():
        array = np.asarray(as_numpy(value) if not isinstance(value, (str, int, float, bool)) else value)
        if array.dtype == object:
            raise TypeError(f"{where}: extra value {key!r} of type {type(value).__name__} cannot be "
                            "stored without pickle; pass numbers, strings or arrays")
        arrays["extra/" + key] = array
    write_npz_atomic(path, arrays)


def load_checkpoint(path, model, optimizer=None) -> dict:
    """Restore a checkpoint written by :func:`save_checkpoint` into ``model``
    and ``optimizer`` (which may be fresh objects: the optimizer is set up with
    ``model`` if it was not yet) and return the extra values (0-d values come
    back as Python scalars and strings, others as arrays).

    Everything is checked before anything is assigned: on any error the model
    and the optimizer are unchanged.
    """
    path = os.fspath(path)
    where = f"load_checkpoint({path!r})"
    arrays = read_npz(path, where)
    marker = arrays.pop("format", None)
    if marker is None or str(marker) != CHECKPOINT_FORMAT:
        raise ValueError(f"{where}: not a dezero checkpoint (no '{CHECKPOINT_FORMAT}' marker); "
                         "a file written by save_weights is read with model.load_weights")
    weights, state, extra = {}, {}, {}
    saved_class = None
    for key, value in arrays.items():
        if key.startswith("model/"):
            weights[key[len("model/"):]] = value
        elif key == "optimizer/class":
            saved_class = str(value)
        elif key.startswith("optimizer/state/"):
            state[key[len("optimizer/state/"):]] = value
        elif key.startswith("extra/"):
            extra[key[len("extra/"):]] = value.item() if value.ndim == 0 else value
        else:
            raise ValueError(f"{where}: unexpected entry {key!r} in the checkpoint")

    weight_plan = model._prepare_weights(weights, where)
    state_plan = None
    if optimizer is not None:
        if saved_class is None:
            raise ValueError(f"{where}: the checkpoint holds no optimizer state")
        if saved_class != type(optimizer).__name__:
            raise TypeError(f"{where}: the checkpoint holds the state of a {saved_class}, "
                            f"not of a {type(optimizer).__name__}")
        if optimizer.target is None:
            optimizer.setup(model)
        elif optimizer.target is not model:
            raise ValueError(f"{where}: the optimizer was set up with a different model")
        # Checked against the weights the model will hold once the file is in.
        incoming = {entry[0]: entry[4] for entry in weight_plan if entry[3] == "param"}
        state_plan = optimizer._prepare_state(state, where, incoming)

    model._apply_weights(weight_plan)
    if state_plan is not None:
        optimizer._apply_state(state_plan)
    return extra
