"""dezero.core_simple, the core of steps 23-32: the engine cases it shares with
dezero.core (tests/core_cases.py), and what is its own: plain-array gradients,
independence from dezero.core, and the book's use of it in steps 28 and 29."""

import os
import subprocess
import sys

import numpy as np
import pytest

from dezero import core_simple
from tests.core_cases import ENGINE_CASES, OPERATOR_VALUES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

core_simple.setup_variable()
Variable = core_simple.Variable


@pytest.mark.parametrize("case", ENGINE_CASES.values(), ids=ENGINE_CASES.keys())
def test_engine_case_shared_with_core(case):
    case(core_simple)


@pytest.mark.parametrize("op, expected", OPERATOR_VALUES)
def test_operator_values(op, expected):
    y = op(Variable(np.array([1.0, 2.0, 3.0])), Variable(np.array([4.0, 5.0, 6.0])))
    assert isinstance(y, Variable)
    np.testing.assert_allclose(y.data, expected)


def test_gradients_are_plain_arrays():
    x = Variable(np.array([1.0, 2.0]))
    (x * x * 3.0).backward()
    assert type(x.grad) is np.ndarray
    np.testing.assert_array_equal(x.grad, [6.0, 12.0])
    s = Variable(np.array(2.0))
    (s * s).backward()  # 0-d arithmetic gives a NumPy scalar: stored as a 0-d array
    assert type(s.grad) is np.ndarray and s.grad.shape == () and s.grad == 4.0


def test_a_function_with_two_outputs():
    class Halves(core_simple.Function):
        def forward(self, x):
            return x[:2], x[2:]

        def backward(self, gy0, gy1):
            return np.concatenate([gy0, gy1])

    x = Variable(np.array([1.0, 2.0, 3.0, 4.0]))
    a, b = Halves()(x)
    assert a.creator is b.creator and a.generation == b.generation == 1
    (a * 2.0 + b * b).backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 6.0, 8.0])


def test_does_not_import_dezero_core():
    """Readable on its own: importing it loads neither dezero.core nor the package's other modules."""
    code = (
        "import importlib.util, sys; "
        "spec = importlib.util.spec_from_file_location('core_simple', 'dezero/core_simple.py'); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        "print(sorted(k for k in sys.modules if k.startswith('dezero')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_setup_variable_can_run_twice():
    core_simple.setup_variable()
    core_simple.setup_variable()
    x = Variable(np.array(2.0))
    (x**3).backward()
    assert x.grad == 12.0


def test_rosenbrock_by_gradient_descent_as_in_step28():
    """The book's step 28 on this core: the same iterates as gradient descent
    with the gradient derived by hand."""

    def rosenbrock(x0, x1):
        return 100 * (x1 - x0**2) ** 2 + (x0 - 1) ** 2

    x0, x1 = Variable(np.array(0.0)), Variable(np.array(2.0))
    a, b = 0.0, 2.0
    for _ in range(1000):
        y = rosenbrock(x0, x1)
        x0.cleargrad()
        x1.cleargrad()
        y.backward()
        ga, gb = -400 * a * (b - a**2) + 2 * (a - 1), 200 * (b - a**2)
        assert (float(x0.grad), float(x1.grad)) == pytest.approx((ga, gb), rel=1e-12, abs=1e-12)
        x0.data -= 0.001 * x0.grad
        x1.data -= 0.001 * x1.grad
        a, b = a - 0.001 * ga, b - 0.001 * gb
    assert (float(x0.data), float(x1.data)) == pytest.approx((a, b), rel=1e-9)
    assert 0.6 < a < 0.7 and 0.4 < b < 0.5  # on the way to the minimum (1, 1)


def test_no_grad_keeps_no_function_alive():
    x = Variable(np.ones(3))
    with core_simple.no_grad():
        y = x * 2.0
    assert y.creator is None and y.generation == 0
