"""Shared fixtures: the array backends every case table runs on.

GPU cases are parametrized like CPU ones and skip, with the reason, when CuPy
or a CUDA device is missing, so CI without a GPU stays green.
"""
import numpy as np
import pytest

from dezero import backend

BACKENDS = [
    pytest.param("numpy", id="numpy"),
    pytest.param(
        "cupy",
        id="cupy",
        marks=pytest.mark.skipif(
            not backend.gpu_enable,
            reason="CuPy or a CUDA device is missing" if backend.cupy is None
            else "CuPy is installed but no CUDA device is available",
        ),
    ),
]

DTYPES = [np.float32, np.float64]


@pytest.fixture(params=BACKENDS)
def xp(request):
    """The array module of the backend under test (numpy or cupy)."""
    if request.param == "cupy":
        return backend.cupy
    return np


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return request.param


def tolerances(dtype):
    """(rtol, atol) for gradient checks: float32 numerics are coarse."""
    if np.dtype(dtype) == np.float32:
        return {"rtol": 1e-2, "atol": 1e-2}
    return {"rtol": 1e-4, "atol": 1e-6}
