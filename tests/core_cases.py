"""Engine cases that ``dezero.core`` and ``dezero.core_simple`` share.

Each case takes the module under test (``core``) and asserts on it, using only
what both modules have: ``Variable``, ``Function``, ``Config``, ``using_config``,
``no_grad`` and the operators ``+ - * / **`` (attached to ``core.Variable``
before the cases run). ``tests/test_core.py`` runs them on ``dezero.core``,
``tests/test_core_simple.py`` on ``dezero.core_simple``.

Gradients differ in kind (a Variable in ``dezero.core``, a plain array in
``dezero.core_simple``): :func:`grad_array` reads either.
"""

import gc
import weakref

import numpy as np
import pytest

# (operator, expected values) with a = [1, 2, 3], b = [4, 5, 6]: the operators
# both cores have. tests/test_core.py adds those only dezero.core has.
OPERATOR_VALUES = [
    (lambda a, b: a + b, [5, 7, 9]),
    (lambda a, b: a - b, [-3, -3, -3]),
    (lambda a, b: a * b, [4, 10, 18]),
    (lambda a, b: a / b, [0.25, 0.4, 0.5]),
    (lambda a, b: a**2, [1, 4, 9]),
    (lambda a, b: -a, [-1, -2, -3]),
    (lambda a, b: 2.0 + a, [3, 4, 5]),
    (lambda a, b: 2.0 - a, [1, 0, -1]),
    (lambda a, b: 2.0 * a, [2, 4, 6]),
    (lambda a, b: 6.0 / a, [6, 3, 2]),
    (lambda a, b: np.array([1.0, 1.0, 1.0]) + a, [2, 3, 4]),
    (lambda a, b: np.array([2.0, 2.0, 2.0]) * a, [2, 4, 6]),
    (lambda a, b: np.array([2.0, 2.0, 2.0]) - a, [1, 0, -1]),
    (lambda a, b: np.array([6.0, 6.0, 6.0]) / a, [6, 3, 2]),
]


def grad_array(x) -> np.ndarray:
    """x.grad as an array, whether the core stores a Variable or an array."""
    g = x.grad
    return g if isinstance(g, np.ndarray) else g.data


def make_square(core):
    """A user-defined Function of the core under test: ``x ** 2``."""

    class Square(core.Function):
        def forward(self, x):
            return x**2

        def backward(self, gy):
            x = self.inputs[0].data
            return 2 * x * gy

    return Square()


ENGINE_CASES = {}


def case(function):
    ENGINE_CASES[function.__name__] = function
    return function


@case
def every_operator_is_differentiable(core):
    a, b = core.Variable(np.array([1.0, 2.0, 3.0])), core.Variable(np.array([4.0, 5.0, 6.0]))
    y = (a + b) * (a - b) / b + (-a) ** 2 - 1.0 / a + 2.0 * b - 3.0
    y.backward()
    x, z = a.data, b.data
    np.testing.assert_allclose(grad_array(a), 2 * x / z + 2 * x + 1 / x**2)
    np.testing.assert_allclose(grad_array(b), -1 - x**2 / z**2 + 2)


@case
def a_function_records_its_graph(core):
    x = core.Variable(np.array(3.0))
    y = make_square(core)(x)
    assert y.creator.inputs[0] is x
    assert y.creator.outputs[0]() is y
    assert y.generation == x.generation + 1
    y.backward()
    assert grad_array(x) == 6.0


@case
def outputs_are_held_weakly(core):
    x = core.Variable(np.array(1.0))
    y = make_square(core)(x)
    func = y.creator
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None and func.outputs[0]() is None


@case
def diamond_graph_is_walked_in_generation_order(core):
    """y = a^2 + a^2 with a = x^2: a's creator may run only once both branches
    have handed back their gradients."""
    x = core.Variable(np.array(2.0))
    a = x**2
    y = a**2 + a**2  # 2 x^4
    y.backward()
    assert y.data == 32.0 and grad_array(x) == 64.0


@case
def a_reused_variable_accumulates_its_gradient(core):
    x = core.Variable(np.array(3.0))
    y = x + x + x
    y.backward()
    assert grad_array(x) == 3.0


@case
def gradients_accumulate_across_backward_calls_until_cleargrad(core):
    x = core.Variable(np.array(3.0))
    (x * x).backward()
    (x * x).backward()
    assert grad_array(x) == 12.0
    x.cleargrad()
    (x * x).backward()
    assert grad_array(x) == 6.0


@case
def intermediate_gradients_are_released_unless_retained(core):
    x = core.Variable(np.array(2.0))
    a = x * x
    y = a * 3.0
    y.backward()
    assert a.grad is None and y.grad is None and grad_array(x) == 12.0
    x.cleargrad()
    a = x * x
    y = a * 3.0
    y.backward(retain_grad=True)
    assert grad_array(a) == 3.0 and grad_array(y) == 1.0 and grad_array(x) == 12.0


@case
def a_long_chain_is_walked_by_a_loop_not_a_recursion(core):
    x = core.Variable(np.array(0.0))
    y = x
    for _ in range(20_000):
        y = y + 1.0
    y.backward()
    assert y.data == 20_000.0 and grad_array(x) == 1.0


@case
def no_grad_records_nothing(core):
    x = core.Variable(np.array(2.0))
    with core.no_grad():
        y = x * x
    assert y.creator is None and core.Config.enable_backprop
    assert (x * x).creator is not None


@case
def using_config_restores_the_setting_when_the_block_raises(core):
    with pytest.raises(RuntimeError):
        with core.using_config("enable_backprop", False):
            assert not core.Config.enable_backprop
            raise RuntimeError("leaves the block early")
    assert core.Config.enable_backprop


@case
def variable_refuses_what_is_not_an_array(core):
    for bad in (1.0, [1, 2], "x"):
        with pytest.raises(TypeError, match=type(bad).__name__):
            core.Variable(bad)
    assert core.Variable(None).data is None


@case
def variable_has_the_array_properties_and_repr(core):
    v = core.Variable(np.zeros((2, 3, 4), dtype=np.float32), name="v")
    assert (v.shape, v.ndim, v.size, v.dtype, len(v), v.name) == ((2, 3, 4), 3, 24, np.float32, 2, "v")
    assert repr(core.Variable(np.array([[1, 2], [3, 4]]))) == "variable([[1 2]\n          [3 4]])"
    assert repr(core.Variable(None)) == "variable(None)"


@case
def newton_method_with_a_hand_written_second_derivative(core):
    """Step 29: x <- x - f'(x) / f''(x) for f = x^4 - 2x^2, f' by backward."""
    x = core.Variable(np.array(2.0))
    for _ in range(10):
        y = x**4 - 2 * x**2
        x.cleargrad()
        y.backward()
        x.data = x.data - grad_array(x) / (12 * x.data**2 - 4)
    assert abs(x.data - 1.0) < 1e-12


@case
def float32_stays_float32_next_to_python_numbers(core):
    x = core.Variable(np.array([0.5, 1.5], dtype=np.float32))
    y = 2.0 * x**2 - 1.0 / x + 3
    assert y.dtype == np.float32
    y.backward()
    assert grad_array(x).dtype == np.float32
