"""The benchmark scripts stay runnable: every contender does one real step (no timing
assertions: speed is reported by the scripts, never asserted in tests)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import cnn  # noqa: E402
import mlp  # noqa: E402


@pytest.mark.parametrize("module", [mlp, cnn], ids=["mlp", "cnn"])
def test_dezero_step_lowers_the_loss_like_the_other_contenders(module):
    x, t = module.make_data()
    step = module.make_dezero_step(x, t)
    for _ in range(3):
        step()
    if module is mlp:
        mlp.make_numpy_step(x, t)()
    torch = pytest.importorskip("torch")
    module.make_torch_step(torch, x, t)()


def test_interleaved_timing_returns_one_median_per_contender():
    import _common

    calls = []
    medians = _common.interleaved_medians({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                                          repeats=3, warmup=1, inner=2)
    assert set(medians) == {"a", "b"} and all(m >= 0 for m in medians.values())
    assert calls.count("a") == 1 + 3 * (1 + 2)


def test_gpu_script_says_when_there_is_no_gpu():
    from dezero import backend

    if backend.gpu_enable:
        pytest.skip("a GPU is present: the script would run the real benchmark")
    out = subprocess.run([sys.executable, str(BENCH / "gpu.py")], capture_output=True, text=True, check=True)
    assert "no GPU" in out.stdout


def test_overhead_chain_gives_the_right_gradient():
    import overhead  # noqa: F401  (the module must import cleanly)
    import dezero

    x = dezero.Variable(np.array(1.0))
    y = x
    for _ in range(100):
        y = y * 1.0001 + 0.0001
    y.backward()
    assert np.isclose(x.grad.data, 1.0001 ** 100)
