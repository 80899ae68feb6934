"""The self-contained learning-path scripts steps/step01.py ... step22.py.

Each step runs in its own process from a foreign directory (so none depends on
the working directory or on an installed dezero) and must exit with 0; the
numbers its ``main()`` returns are checked against closed forms computed here
(see tests/step_runner.py). A few behaviours are checked by importing a step
and calling its functions.
"""

import importlib.util
import math
import os
import re
import subprocess
import sys

import pytest

from tests.step_runner import STEPS_DIR, run_step


def exp2x2_grad(x):
    """d/dx exp(2 x^2) = 4x exp(2x^2), the composite square(exp(square(x)))."""
    return 4 * x * math.exp(2 * x * x)


def f22(x):
    return -(x**3) / (2 - x) + 4 / x - 1


def f22_grad(x):
    # quotient rule on -x^3 / (2 - x), plus d(4/x) = -4/x^2
    return -(3 * x**2 * (2 - x) + x**3) / (2 - x) ** 2 - 4 / x**2


def approx(value, rel=1e-14):
    return pytest.approx(value, rel=rel, abs=0)


def import_step(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(STEPS_DIR, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# step -> a function that checks the dict its main() returned.
def check_step01(r):
    assert r == {"x": 2.0, "matrix_shape": [2, 3]}


def check_step02(r):
    assert r == {"y": 100.0, "squared": [1.0, 4.0, 9.0], "y_is_variable": True}


def check_step03(r):
    assert (r["a"], r["b"]) == (0.25, approx(math.exp(0.25)))
    assert r["y"] == approx(math.exp(0.5))


def check_step04(r):
    assert r["square_slope"] == approx(4.0, rel=1e-10)
    exact = exp2x2_grad(0.5)
    # The central difference is O(h^2) accurate, the one-sided one O(h), h = 1e-4.
    assert 0 < abs(r["central"] - exact) < 1e-6 < 1e-4 < abs(r["one_sided"] - exact) < 1e-2


def check_step05(r):
    assert r["y"] == approx(math.exp(2 * 0.75**2))
    assert r["dy_db"] == approx(2 * math.exp(0.75**2))  # d(b^2)/db = 2b, b = exp(x^2)
    assert r["dy_dx"] == approx(exp2x2_grad(0.75))
    assert r["numeric"] == approx(exp2x2_grad(0.75), rel=1e-7)


def check_step06(r):
    assert r["x_grad"] == approx(exp2x2_grad(0.5))
    assert r["numeric"] == approx(exp2x2_grad(0.5), rel=1e-7)


def check_step07(r):
    assert r["chain"] == ["Square", "Exp", "Square"]
    assert r["x_grad"] == approx(exp2x2_grad(0.5))


def check_step08(r):
    assert r["x_grad"] == approx(exp2x2_grad(0.5))
    assert r["recursive"] == "RecursionError"
    assert r["loop_grad"] == 2.0**1000  # d/dx x^(2^1000) at 1: exact in float64


def check_step09(r):
    assert r["x_grad"] == approx(exp2x2_grad(0.5))
    assert r["square_data_type"] == "ndarray"  # not the NumPy scalar that (0-d) ** 2 gives
    assert r["refused"] == [
        "Variable(data): expected numpy.ndarray, got float",
        "Variable(data): expected numpy.ndarray, got list",
    ]


def check_step10(r):
    assert r == {"tests_run": 7, "problems": 0, "ok": True}


def check_step11(r):
    assert r == {"sum": 5.0, "n_outputs": 1, "quotient": 3.0, "remainder": 2.0, "x_grad": 6.0}


def check_step12(r):
    assert r == {"z": 13.0, "s_grad": 4 * (-1.5) ** 3}


def check_step13(r):
    assert (r["z"], r["x_grad"], r["y_grad"]) == (13.0, 4.0, 6.0)
    v = math.exp(1.5**2 - 2.0)
    assert (r["v"], r["u_grad"], r["w_grad"]) == (approx(v), approx(2 * 1.5 * v), approx(v))
    assert r["a_grad"] == 1.0  # the bug of this step: b = a + a overwrites instead of adding


def check_step14(r):
    # x + x; x + x + x with 2 left over; after cleargrad; x^2 + x at 3
    assert r["grads"] == [2.0, 5.0, 3.0, 7.0]


def check_step15(r):
    assert r["y"] == 32.0
    assert r["naive_grad"] == 96.0  # wrong: the correct 8 x^3 = 64
    assert r["numeric"] == approx(64.0, rel=1e-6)
    assert r["processed"] == ["Add", "Square", "Square", "Square", "Square"]


def check_step16(r):
    assert (r["y"], r["diamond_grad"]) == (32.0, 64.0)
    assert r["processed"] == [["Add", 2], ["Square", 1], ["Square", 1], ["Square", 0]]
    assert r["z_grad"] == approx(2 * 1.5 + 8 * 1.5**7, rel=1e-15)


def check_step17(r):
    assert r["x_grad"] == 64.0
    assert r["strong_freed"] == [False, True]  # a cycle: only the collector frees it
    assert r["weak_freed"][0] is True


def check_step18(r):
    assert r["dropped"] == [None, None, 2.0, 1.0]
    assert r["retained"] == [1.0, 1.0, 2.0, 1.0]
    assert r["no_grad_value"] == 4.0 and r["no_grad_creator"] is None and r["backprop_back_on"] is True
    # x2, x4 and y (8 MB each) are held with the graph; only y without it.
    assert r["megabytes_with_graph"] == pytest.approx(24.0, abs=2.5)
    assert r["megabytes_without_graph"] == pytest.approx(8.0, abs=1.0)


def check_step19(r):
    assert (r["shape"], r["ndim"], r["size"], r["dtype"], r["len"]) == ([2, 3], 2, 6, "float64", 2)
    assert r["repr"] == "variable([[1. 2. 3.]\n          [4. 5. 6.]])"
    assert r["y"] == [[2.0, 6.0, 12.0], [20.0, 30.0, 42.0]]


def check_step20(r):
    assert r == {"y": 6.25, "a_grad": 4.0, "b_grad": 1.5, "c_grad": 1.0, "z": 36.0, "x_grad": 33.0}


def check_step21(r):
    assert r["first"] == [7.0, 3.0]
    assert r["second"] == [5.0, 2.5]  # 2x + 0.5x at x = 2, ndarrays on either side
    assert r["w_type"] == "Variable" and r["w"] == [11.0, 22.0, 33.0]


def check_step22(r):
    assert r["operators"] == [-0.5, -1.5, 1.5, 0.125, 8.0, 0.125]
    assert r["f"] == approx(f22(0.5))
    assert r["x_grad"] == approx(f22_grad(0.5))
    assert r["numeric"] == approx(f22_grad(0.5), rel=1e-7)


CHECKS = {name[len("check_") :]: check for name, check in globals().items() if name.startswith("check_step")}


def test_every_step_is_checked():
    early = re.compile(r"step(0\d|1\d|2[0-2])\.py")
    on_disk = sorted(name[:-3] for name in os.listdir(STEPS_DIR) if early.fullmatch(name))
    assert on_disk == sorted(CHECKS) == [f"step{i:02d}" for i in range(1, 23)]


@pytest.mark.parametrize("step", sorted(CHECKS))
def test_step_runs_and_computes_the_closed_forms(step, tmp_path):
    script = os.path.join(STEPS_DIR, step + ".py")
    assert "import dezero" not in open(script).read(), "the early steps are self-contained"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc, results = run_step(step, tmp_path, env=env, timeout=60)
    assert proc.returncode == 0, f"{step} exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    CHECKS[step](results)


def test_step02_base_function_refuses_to_compute():
    step = import_step("step02")
    with pytest.raises(NotImplementedError):
        step.Function()(step.Variable(step.np.array(1.0)))


def test_step10_exits_non_zero_when_a_test_fails(tmp_path):
    """The unittest runner in step 10 must turn a failure into a non-zero exit code."""
    source = open(os.path.join(STEPS_DIR, "step10.py")).read()
    broken = source.replace("return 2 * self.input.data * gy", "return 3 * self.input.data * gy")
    assert broken != source
    path = tmp_path / "step10_broken.py"
    path.write_text(broken)
    proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1


def test_a_step_runs_as_a_plain_script(tmp_path):
    """The runner calls main(); the scripts' own `if __name__ == "__main__"` does the same."""
    proc = subprocess.run(
        [sys.executable, os.path.join(STEPS_DIR, "step22.py")], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout
