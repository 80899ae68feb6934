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
            reason="CuPy or a CUDA device is missing"
            if backend.cupy is None
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


# =============================================================================
# In CI, a test skipped for a missing package is a failure
# =============================================================================
# A fresh machine without, say, PyTorch would otherwise skip every comparison
# with it and still report green. `.ci/run` sets DEZERO_STRICT_SKIPS=1 (CI=true
# does the same); CuPy is exempt, since no GPU is needed to run the suite.
_EXEMPT_MODULES = ("cupy", "cupyx")


def _missing_package_skips(terminalreporter) -> list:
    found = []
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        if "could not import" not in message:
            continue
        module = message.split("could not import", 1)[1].strip(" '\"").split("'")[0]
        if module.split(".")[0] not in _EXEMPT_MODULES:
            found.append((report.nodeid, module))
    return found


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    import os

    strict = os.environ.get("DEZERO_STRICT_SKIPS") == "1" or os.environ.get("CI", "").lower() in ("1", "true")
    if not strict or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    terminalreporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if terminalreporter is None:
        return
    missing = _missing_package_skips(terminalreporter)
    if missing:
        modules = sorted({module for _, module in missing})
        terminalreporter.write_line(
            f"\nERROR: {len(missing)} test(s) skipped because these packages are missing: "
            f'{", ".join(modules)} (install the test extra: python3 -m pip install -e ".[test]")',
            red=True,
        )
        for nodeid, module in missing[:20]:
            terminalreporter.write_line(f"  {nodeid}: {module}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
