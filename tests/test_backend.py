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


@pytest.mark.parametrize("env, expected", [({"DEZERO_KEEP_MEMORY": "0"}, "False"),
                                           ({"MALLOC_TRIM_THRESHOLD_": "1000000"}, "False")])
def test_malloc_tuning_can_be_turned_off(env, expected):
    import os

    code = "import dezero; print(dezero.backend.malloc_tuned)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    assert out.stdout.strip() == expected


def test_cuda_alias_module():
    assert dezero.cuda.get_array_module is backend.get_array_module
    assert dezero.cuda.gpu_enable == backend.gpu_enable
