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
        return x**3

    def backward(self, gy):
        (x,) = self.inputs
        return gy * Variable(3 * x.data**2)  # a constant: the graph is cut here


def test_passes_on_a_correct_function():
    assert gradient_check(lambda x: F.tanh(x) * x, np.random.randn(3, 2)) is True


def test_numerical_grad_perturbs_the_given_array_in_place_and_restores_it_exactly():
    x = np.random.default_rng(0).standard_normal(5)
    before = x.copy()
    seen = []

    def f(v):
        seen.append(v is x)
        return Variable(v * 2.0)

    numerical_grad(f, x)
    assert seen and all(seen) and np.array_equal(x, before)


def test_numerical_grad_sees_weights_that_f_reads_by_itself():
    """The pattern of the book's first volume: f ignores its argument and reads
    the network's own array, which numerical_grad perturbs in place."""
    rng = np.random.default_rng(11)
    net_W = rng.standard_normal((3, 2))
    x = rng.standard_normal((4, 3))

    def loss(_):
        return F.sum(F.tanh(F.matmul(x, net_W)))

    expected = x.T @ (1 - np.tanh(x @ net_W) ** 2)  # d sum(tanh(x W)) / dW
    np.testing.assert_allclose(numerical_grad(loss, net_W), expected, rtol=1e-7)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_numerical_grad_refuses_an_array_that_cannot_hold_x_plus_eps(dtype):
    x = np.array([1, 0, 1], dtype=dtype)
    with pytest.raises(TypeError, match=rf"numerical_grad: x has dtype {np.dtype(dtype)}.*pass a float array"):
        numerical_grad(lambda v: F.sum(2 * Variable(v.astype(np.float64))), x)


def test_gradient_check_never_writes_to_the_callers_array():
    x = np.random.default_rng(0).standard_normal(5)
    before = x.copy()
    x.setflags(write=False)  # any write, even one restored afterwards, raises
    assert gradient_check(lambda v: F.sin(v) * v, x)
    np.testing.assert_array_equal(x, before)


def test_gradient_check_leaves_a_variable_input_as_it_was():
    data = np.random.default_rng(1).standard_normal(4).astype(np.float32)
    v = Variable(data)
    assert gradient_check(F.tanh, v)
    assert v.data is data and v.data.dtype == np.float32 and v.grad is None


def test_gradient_check_is_not_fooled_by_a_closure_over_the_same_array():
    """f multiplies its argument by the caller's array: d/dv (v * x) = x. Perturbing
    x in place would also perturb the factor and give 2x numerically."""
    x = np.random.default_rng(2).standard_normal(6)
    assert gradient_check(lambda v: v * x, x)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_gradient_check_accepts_integer_x_as_the_book_does(dtype):
    x = np.array([[1, 2, 3], [4, 5, 6]], dtype=dtype)
    assert gradient_check(lambda v: F.sum(v**2, axis=1), x)


def test_gradient_check_checks_float32_inputs_in_float64():
    """max of float32 values around 1000: in float32 a step of 1e-4 is lost to
    rounding (the spacing of float32 there is 6e-5) and a checker working in
    float32 reports a wrong gradient that is right."""
    x = (1000 + np.random.default_rng(3).standard_normal((4, 5)) * 10).astype(np.float32)
    assert gradient_check(lambda v: F.max(v, axis=1), x)


def test_gradient_check_reports_a_function_that_reads_weights_by_itself():
    """gradient_check passes copies: a function that ignores its W argument and
    reads the layer's own array must be reported, not pass on zeros."""
    from dezero.layers import Linear

    layer = Linear(3, in_size=2, dtype=np.float64)
    x = np.random.default_rng(4).standard_normal((5, 2))
    with pytest.raises(GradientCheckError, match="does not depend on input 1.*use numerical_grad"):
        gradient_check(lambda v, W: layer(v), x, layer.W)
    assert gradient_check(lambda v, W: F.linear(v, W, layer.b), x, layer.W)


def test_gradient_check_uses_a_float32_step_for_a_function_computing_in_float32():
    W = np.random.default_rng(6).standard_normal((3, 2)).astype(np.float32)
    x = np.random.default_rng(7).standard_normal((4, 3))
    # f casts to float32 whatever it is given; a 1e-4 step would drown in rounding.
    assert gradient_check(lambda v: F.tanh(F.matmul(v.astype(np.float32), W)), x, rtol=1e-2, atol=1e-3)


class StaleSquare(Function):
    """A layer that kept an old copy of its input: forward reads the copy, backward
    still computes 2x. The numerical gradient of such an f is all zeros."""

    def __init__(self, snapshot):
        self.snapshot = snapshot

    def forward(self, x):
        return self.snapshot**2

    def backward(self, gy):
        (x,) = self.inputs
        return 2.0 * x * gy


def test_stale_copy_is_reported_in_plain_words():
    x = np.random.default_rng(5).standard_normal(4)
    snapshot = x.copy()
    with pytest.raises(GradientCheckError, match="the output does not depend on x: does f compute from its arguments"):
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


def test_double_gradient_check_passes_a_function_linear_in_one_input():
    """d f / d b is constant in b: its own gradient is 'no dependency', which is right."""
    rng = np.random.default_rng(8)
    x, W, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    assert double_gradient_check(lambda v, w, c: F.tanh(F.linear(v, w, c)), x, W, b)
    assert double_gradient_check(lambda v, c: v * 3.0 + c, x[0], b[:1])


def test_double_gradient_check_catches_a_non_differentiable_backward():
    x = np.random.default_rng(4).uniform(0.5, 1.5, 3)
    assert gradient_check(lambda v: WrongSecondDerivative()(v), x)
    with pytest.raises(GradientCheckError):
        double_gradient_check(lambda v: WrongSecondDerivative()(v), x)
    assert double_gradient_check(lambda v: v**3, x)


def test_gradient_check_refuses_a_non_finite_numerical_gradient():
    from dezero import Function
    from dezero.utils import GradientCheckError, gradient_check

    class WrongSqrt(Function):
        def forward(self, x):
            return np.sqrt(x)

        def backward(self, gy):
            return gy * 123.0

    with np.errstate(invalid="ignore"):
        with pytest.raises(GradientCheckError, match="not finite"):
            gradient_check(lambda v: WrongSqrt()(v), np.array([1e-5, 1e-6]))
