"""Run the self-contained learning-path scripts steps/step01.py ... step22.py.

Each script runs in its own process from a foreign directory (so none depends
on the working directory or on an installed dezero) and must exit with 0. Its
key lines are checked: literal text where the value is exact, and numbers
against closed forms computed here.
"""
import math
import os
import re
import subprocess
import sys

import pytest

STEPS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "steps")
NUM = r"(-?\d+(?:\.\d*)?(?:e[+-]?\d+)?)"


def exp2x2_grad(x):
    """d/dx exp(2 x^2) = 4x exp(2x^2), the composite square(exp(square(x)))."""
    return 4 * x * math.exp(2 * x * x)


def f22(x):
    return -x ** 3 / (2 - x) + 4 / x - 1


def f22_grad(x):
    # quotient rule on -x^3 / (2 - x), plus d(4/x) = -4/x^2
    return -(3 * x ** 2 * (2 - x) + x ** 3) / (2 - x) ** 2 - 4 / x ** 2


# step -> list of checks. A str must appear verbatim in stdout; a tuple
# (pattern, expected values, rel) must match a line whose captured numbers are
# close to the expected values.
CHECKS = {
    "step01": ["after refilling, x.data = 2.0\n",
               "a matrix in a box: ndim = 2, shape = (2, 3)"],
    "step02": ["Square()(x) with x.data = 10.0: a Variable holding 100.0",
               "squared elementwise: [1. 4. 9.]",
               "the base class computes nothing by itself: NotImplementedError Function.forward"],
    "step03": [(rf"^square\(exp\(square\(0\.5\)\)\) = {NUM}$", [math.exp(0.5)], 1e-14)],
    "step04": [(rf"^d/dx x\^2 at 2\.0, numerically: {NUM} ", [4.0], 1e-10),
               (rf"^d/dx exp\(2x\^2\) at 0\.5, central difference: {NUM}$", [exp2x2_grad(0.5)], 1e-7),
               (rf"^exact value: {NUM}$", [exp2x2_grad(0.5)], 1e-14)],
    "step05": [(rf"^dy/dx by the chain rule, output to input: {NUM}$", [exp2x2_grad(0.75)], 1e-14),
               (rf"^dy/dx numerically \(step 04\): {NUM}$", [exp2x2_grad(0.75)], 1e-7),
               # dy/db = 2b with b = exp(x^2): the first factor of the chain
               (rf"^dy/db = {NUM}$", [2 * math.exp(0.75 ** 2)], 1e-14)],
    "step06": ["x.grad = 3.297442541400256\n",
               (rf"^x\.grad = {NUM}$", [exp2x2_grad(0.5)], 1e-14)],
    "step07": ["walking back from y: Square <- Exp <- Square <- x",
               (rf"^x\.grad = {NUM}$", [exp2x2_grad(0.5)], 1e-14)],
    "step08": [(rf"^x\.grad = {NUM}$", [exp2x2_grad(0.5)], 1e-14),
               "recursive walk over 1000 functions: RecursionError",
               # d/dx x^(2^1000) at 1 is 2^1000: exact in float64
               (rf"^loop over 1000 functions: x\.grad = {NUM} ", [2.0 ** 1000], 0.0)],
    "step09": [(rf"^x\.grad = {NUM}$", [exp2x2_grad(0.5)], 1e-14),
               "Variable(1.0) -> TypeError: Variable(data): expected numpy.ndarray, got float",
               "Variable([1.0, 2.0]) -> TypeError: Variable(data): expected numpy.ndarray, got list",
               "square(x).data is a ndarray"],
    "step10": ["Ran 7 tests", "\nOK\n", "test_gradient_check (__main__.CompositeTest"],
    "step11": ["Add()([2.0, 3.0]) -> a list of 1 Variable: 5.0",
               "DivMod()([17.0, 5.0]) -> quotient 3.0, remainder 2.0",
               "d(x^2)/dx at 3.0 = 6.0"],
    "step12": ["add(square(2.0), square(3.0)) = 13.0",
               (rf"^d\(s\^4\)/ds at -1\.5 = {NUM} ", [4 * (-1.5) ** 3], 1e-15)],
    "step13": ["z = x^2 + y^2 at (2.0, 3.0): z = 13.0, x.grad = 4.0, y.grad = 6.0",
               (rf"^v = exp\(u\^2 \+ w\) at \(1\.5, -2\.0\): v = {NUM}, u\.grad = {NUM}, w\.grad = {NUM}$",
                [math.exp(0.25), 2 * 1.5 * math.exp(0.25), math.exp(0.25)], 1e-14),
               "b = a + a: a.grad = 1.0, but"],
    "step14": ["y = x + x: x.grad = 2.0\n",
               "y = x + x + x without cleargrad: x.grad = 5.0",
               "y = x + x + x after cleargrad: x.grad = 3.0",
               "y = x^2 + x: x.grad = 7.0"],
    "step15": ["y = 2 x^4 at 2.0: y = 32.0",
               "naive order: x.grad = 96.0 (wrong)",
               (rf"^correct value 8 x\^3 = 64\.0, numerically {NUM}$", [64.0], 1e-6),
               "functions processed: Add, Square, Square, Square, Square\n"],
    "step16": ["y = 2 x^4 at 2.0: y = 32.0, x.grad = 64.0",
               "functions processed: Add(gen 2), Square(gen 1), Square(gen 1), Square(gen 0)\n",
               (rf"^z = x\^2 \+ x\^8 at 1\.5: x\.grad = {NUM} ", [2 * 1.5 + 8 * 1.5 ** 7], 1e-15)],
    "step17": ["backward still works through weak references: x.grad = 64.0",
               "strong outputs (a cycle): freed by del: False, after gc.collect(): True",
               "weak outputs: freed by del: True"],
    "step18": ["retain_grad=False: y.grad = None, t.grad = None, x0.grad = 2.0, x1.grad = 1.0",
               "retain_grad=True: y.grad = 1.0, t.grad = 1.0, x0.grad = 2.0, x1.grad = 1.0",
               "under no_grad: y = 4.0, y.creator is None: True, recording back on afterwards: True",
               # x2, x4 and y (8 MB each) are held with the graph, only y without
               (rf"with the graph {NUM} MB, under no_grad {NUM} MB$", [24.0, 8.0], 0.1)],
    "step19": ["name = x, shape = (2, 3), ndim = 2, size = 6, dtype = float64",
               "len(x) = 2 ",
               "variable([[1. 2. 3.]\n          [4. 5. 6.]])",
               "variable(None)",
               "variable([[ 2.  6. 12.]\n          [20. 30. 42.]])"],
    "step20": ["y = a * b + c = 6.25",
               "a.grad = 4.0 (= b), b.grad = 1.5 (= a), c.grad = 1.0",
               "z = x*x*x + x*x at 3.0: z = 36.0, x.grad = 33.0"],
    "step21": ["y = 3.0 * x + 1.0 at 2.0: y = 7.0, x.grad = 3.0",
               "np.array(2.0) * x + x * np.array(0.5): a Variable = 5.0, x.grad = 2.5",
               "ndarray + Variable -> Variable: [11. 22. 33.]"],
    "step22": ["-x = -0.5, x - 2.0 = -1.5, 2.0 - x = 1.5, x / 4.0 = 0.125, 4.0 / x = 8.0, x ** 3 = 0.125",
               (rf"at 0\.5: f = {NUM}$", [f22(0.5)], 1e-14),
               (rf"^x\.grad = {NUM}, numerically {NUM}$", [f22_grad(0.5), f22_grad(0.5)], 1e-7)],
}


def test_every_step_is_checked():
    early = re.compile(r"step(0\d|1\d|2[0-2])\.py")
    on_disk = sorted(name[:-3] for name in os.listdir(STEPS_DIR) if early.fullmatch(name))
    assert on_disk == sorted(CHECKS) == [f"step{i:02d}" for i in range(1, 23)]


@pytest.mark.parametrize("step", sorted(CHECKS))
def test_step_runs_and_prints(step, tmp_path):
    script = os.path.join(STEPS_DIR, step + ".py")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    out = proc.stdout
    assert proc.returncode == 0, f"{step} exited with {proc.returncode}:\n{out}\n{proc.stderr}"
    assert "import dezero" not in open(script).read(), "the early steps are self-contained"

    for check in CHECKS[step]:
        if isinstance(check, str):
            assert check in out, f"{step}: expected {check!r} in the output:\n{out}"
            continue
        pattern, expected, rel = check
        match = re.search(pattern, out, flags=re.M)
        assert match, f"{step}: no line matches {pattern!r}:\n{out}"
        values = [float(v) for v in match.groups()]
        for got, want in zip(values, expected, strict=True):
            assert got == pytest.approx(want, rel=rel, abs=0), f"{step}: {match.group(0)!r}"


def test_step04_central_difference_beats_one_sided(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(STEPS_DIR, "step04.py")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    m = re.search(rf"error of the central difference: {NUM}, of the one-sided difference: {NUM}", out)
    central, one_sided = float(m.group(1)), float(m.group(2))
    # O(h^2) against O(h) with h = 1e-4
    assert 0 < central < 1e-6 < 1e-4 < one_sided < 1e-2


def test_step10_reports_a_failing_test(tmp_path):
    """The unittest runner in step 10 must turn a failure into a non-zero exit code."""
    source = open(os.path.join(STEPS_DIR, "step10.py")).read()
    broken = source.replace("return 2 * self.input.data * gy", "return 3 * self.input.data * gy")
    assert broken != source
    path = tmp_path / "step10_broken.py"
    path.write_text(broken)
    proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "FAILED (failures=" in proc.stdout
