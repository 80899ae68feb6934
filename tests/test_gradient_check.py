"""gradient_check must catch the mistakes it exists for, and say what they are."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Function, Variable
from dezero.utils import GradientCheckError, double_gradient_check, gradient_check, numerical_grad


class ForgetsUpstream(Function):
    """A buggy sin whose backward ignores gy: invisible when gy is all ones."""

    def forward(self, x):
        return np.sin(x)

    def backward(self, gy):
        (x,) = self.inputs
        return F.cos(x)


class WrongSecondDerivative(Function):
    """x**3 with a first derivative that is right in value but not differentiable correctly."""

    def forward(self, x):
        return x ** 3

    def backward(self, gy):
        (x,) = self.inputs
        return gy * Variable(3 * x.data ** 2)  # a constant: the graph is cut here


def test_passes_on_a_correct_function():
    assert gradient_check(lambda x: F.tanh(x) * x, np.random.randn(3, 2)) is True


def test_perturbs_the_given_array_in_place_and_restores_it_exactly():
    x = np.random.default_rng(0).standard_normal(5)
    before = x.copy()
    seen = []

    def f(v):
        seen.append((v.data if isinstance(v, Variable) else v) is x)
        return Variable(v) * 2.0 if not isinstance(v, Variable) else v * 2.0

    numerical_grad(f, x)
    assert all(seen) and np.array_equal(x, before)
    gradient_check(f, x)
    assert np.array_equal(x, before)


class StaleSquare(Function):
    """A layer that kept an old copy of its input: forward reads the copy, backward
    still computes 2x. The numerical gradient of such an f is all zeros."""

    def __init__(self, snapshot):
        self.snapshot = snapshot

    def forward(self, x):
        return self.snapshot ** 2

    def backward(self, gy):
        (x,) = self.inputs
        return 2.0 * x * gy


def test_stale_copy_is_reported_in_plain_words():
    x = np.random.default_rng(5).standard_normal(4)
    snapshot = x.copy()
    with pytest.raises(GradientCheckError, match="the output does not depend on x: does f read the array you passed"):
        gradient_check(lambda v: StaleSquare(snapshot)(v), x)


def test_mismatch_reports_index_and_both_values():
    x = np.random.default_rng(1).standard_normal((2, 3))
    with pytest.raises(GradientCheckError) as info:
        gradient_check(lambda v: ForgetsUpstream()(v), x)
    message = str(info.value)
    assert "input 0" in message and "index (" in message and "numerical" in message and "analytic" in message


def test_random_upstream_gradient_exposes_a_backward_that_ignores_gy():
    # with ones as upstream gradient this buggy backward would pass
    x = np.random.default_rng(2).standard_normal(4)
    with pytest.raises(GradientCheckError):
        gradient_check(lambda v: ForgetsUpstream()(v), x)


def test_every_differentiable_input_is_checked():
    class BadSecondInput(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, gy):
            a, b = self.inputs
            return gy * b, gy * a * 2.0  # second gradient is wrong

    a, b = np.random.randn(3), np.random.randn(3)
    with pytest.raises(GradientCheckError, match="input 1"):
        gradient_check(lambda x, y: BadSecondInput()(x, y), a, b)


def test_non_float_arguments_are_not_perturbed():
    t = np.array([0, 2, 1])
    x = np.random.randn(3, 3)
    assert gradient_check(lambda v, idx: F.get_item(v, (np.arange(3), idx)) ** 2, x, t)


def test_works_in_float64_for_float32_inputs_with_loose_tolerance():
    x = np.random.default_rng(3).standard_normal((3, 3)).astype(np.float32)
    assert gradient_check(F.tanh, x, rtol=1e-2, atol=1e-3)


def test_double_gradient_check_catches_a_non_differentiable_backward():
    x = np.random.default_rng(4).uniform(0.5, 1.5, 3)
    assert gradient_check(lambda v: WrongSecondDerivative()(v), x)
    with pytest.raises(GradientCheckError):
        double_gradient_check(lambda v: WrongSecondDerivative()(v), x)
    assert double_gradient_check(lambda v: v ** 3, x)
