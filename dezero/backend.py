"""Array backends: NumPy always, CuPy when it is installed and a GPU is present.

Every op finds its backend with one line, ``xp = get_array_module(x)``, so the
same code runs on the CPU and the GPU.
"""

from __future__ import annotations

import numpy as np

try:  # CuPy is optional: importing dezero must never require it.
    import cupy
    import cupyx  # noqa: F401  (cupyx.scipy and friends, used by some ops)

    try:
        gpu_enable = cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # installed, but no driver or no device
        gpu_enable = False
except ImportError:
    cupy = None
    gpu_enable = False

if cupy is not None:
    array_types: tuple = (np.ndarray, cupy.ndarray)
else:
    array_types = (np.ndarray,)


def get_array_module(x):
    """Return the array module (``numpy`` or ``cupy``) that ``x`` belongs to.

    Variables are looked through to their data; anything that is not a CuPy
    array (Python scalars, NumPy arrays, None) maps to NumPy.

    Parameters
    ----------
    x : Variable, array, scalar or None
        What to look at.

    Returns
    -------
    module
        ``cupy`` for a CuPy array (or a Variable holding one), else ``numpy``.
    """
    data = getattr(x, "data", x) if not isinstance(x, array_types) else x
    if cupy is not None and isinstance(data, cupy.ndarray):
        return cupy
    return np


def _require_gpu(what: str) -> None:
    if cupy is None:
        raise RuntimeError(
            f"{what}: CuPy is not installed, so dezero runs on the CPU only "
            "(pip install cupy-cuda12x or cupy-cuda13x, matching your CUDA version)."
        )
    if not gpu_enable:
        raise RuntimeError(f"{what}: CuPy is installed but no CUDA device is available; staying on the CPU.")


def as_numpy(x) -> np.ndarray:
    """Return ``x`` as a NumPy array (copying from the GPU if needed).

    Parameters
    ----------
    x : array, scalar or Variable data
        NumPy arrays are returned as they are; CuPy arrays are copied to the host.

    Returns
    -------
    numpy.ndarray
    """
    if isinstance(x, np.ndarray):
        return x
    if np.isscalar(x):
        return np.asarray(x)
    if cupy is not None and isinstance(x, cupy.ndarray):
        return cupy.asnumpy(x)
    return np.asarray(x)


def as_cupy(x):
    """Return ``x`` as a CuPy array on the current device.

    Parameters
    ----------
    x : array or scalar
        CuPy arrays are returned as they are; anything else is copied to the device.

    Returns
    -------
    cupy.ndarray

    Raises
    ------
    RuntimeError
        If CuPy is not installed or no CUDA device is available.
    """
    _require_gpu("as_cupy")
    if isinstance(x, cupy.ndarray):
        return x
    return cupy.asarray(x)
