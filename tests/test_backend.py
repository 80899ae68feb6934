"""The backend module: array modules, device transfers, and import-time settings."""

import subprocess
import sys

import numpy as np
import pytest

import dezero
from dezero import Variable, backend


def test_get_array_module_looks_through_variables():
    assert backend.get_array_module(np.ones(2)) is np
    assert backend.get_array_module(Variable(np.ones(2))) is np
    assert backend.get_array_module(3.0) is np


def test_as_numpy_accepts_scalars_and_arrays():
    a = np.arange(3)
    assert backend.as_numpy(a) is a
    assert backend.as_numpy(2.5).shape == ()


@pytest.mark.skipif(backend.gpu_enable, reason="checks the CPU-only message")
def test_asking_for_the_gpu_without_one_says_what_is_missing():
    with pytest.raises(RuntimeError, match="as_cupy: CuPy"):
        backend.as_cupy(np.ones(2))
    with pytest.raises(RuntimeError, match="CuPy"):
        Variable(np.ones(2)).to_gpu()


def test_import_does_not_need_cupy():
    code = "import sys; sys.modules['cupy'] = None; import dezero; print(dezero.backend.gpu_enable)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _tuning_report(env: dict) -> dict:
    import ast
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "DEZERO_"))}
    code = "import dezero; print(dezero.tuning.report())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**clean, **env})
    return ast.literal_eval(out.stdout.strip())


def _allocator_part(report: dict) -> dict:
    return {k: v for k, v in report.items() if k.startswith("malloc")}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the allocator setting is glibc's")
def test_import_reports_the_allocator_settings_it_applied():
    assert _allocator_part(_tuning_report({})) == {
        "malloc M_MMAP_MAX": 0,
        "malloc M_MMAP_THRESHOLD": 32 * 2**20,
        "malloc M_TRIM_THRESHOLD": 256 * 2**20,
    }


@pytest.mark.parametrize("env", [{"DEZERO_KEEP_MEMORY": "0"}, {"MALLOC_TRIM_THRESHOLD_": "1000000"}])
def test_allocator_tuning_can_be_turned_off(env):
    assert _allocator_part(_tuning_report(env)) == {}


def test_process_tuning_can_be_turned_off():
    assert _tuning_report({"DEZERO_TUNING": "0"}) == {}


def test_cuda_alias_module():
    assert dezero.cuda.get_array_module is backend.get_array_module
    assert dezero.cuda.gpu_enable == backend.gpu_enable
