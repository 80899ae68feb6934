"""Anomaly mode: the first Function whose forward output or backward gradient
holds NaN or inf is named, with its inputs and the user's line that called it."""

import sys

import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import Function, Variable

# NumPy's own "invalid value" warnings would turn into errors under the suite's filter.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _next_line() -> int:
    """The number of the line after the caller's."""
    return sys._getframe(1).f_lineno + 1


def _where(line: int) -> str:
    return f"{__file__}:{line}"


def test_a_nan_in_a_forward_names_the_function_its_inputs_and_the_users_line():
    x = Variable(np.array([-1.0, 1.0, 2.0]))
    with dezero.detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            line = _next_line()
            F.log(x)
    message = str(info.value)
    assert "Log.forward" in message and "nan" in message
    assert "(3,) float64" in message
    assert _where(line) in message and "F.log(x)" in message


def test_an_inf_gradient_in_a_backward_names_the_function_and_where_it_was_created():
    x = Variable(np.array([0.0, 4.0]))
    with dezero.detect_anomaly():
        line = _next_line()
        y = F.sqrt(x)  # finite, but its gradient 1 / (2 sqrt(x)) is inf at 0
        loss = F.sum(y * 3.0)
        with pytest.raises(FloatingPointError) as info:
            loss.backward()
    message = str(info.value)
    assert "Sqrt.backward" in message and "inf" in message and "input 0" in message
    assert "(2,) float64" in message
    assert _where(line) in message and "y = F.sqrt(x)" in message


def test_the_users_line_is_found_through_layers():
    layer = L.Linear(2, in_size=3, dtype=np.float64)
    layer.W.data[0, 0] = np.inf
    with dezero.detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            line = _next_line()
            layer(np.ones((1, 3)))
    assert _where(line) in str(info.value) and "layer(np.ones((1, 3)))" in str(info.value)


def test_the_first_bad_function_is_named_not_the_later_ones():
    x = Variable(np.array([-1.0]))
    with dezero.detect_anomaly(), pytest.raises(FloatingPointError, match="Log.forward"):
        F.exp(F.log(x) * 2.0)


def test_anomaly_mode_finds_nan_in_a_multi_output_function():
    class SplitWithNan(Function):
        def forward(self, x):
            return x * 1.0, x * np.nan

    with dezero.detect_anomaly(), pytest.raises(FloatingPointError, match=r"SplitWithNan.forward.*nan.*output 1"):
        SplitWithNan()(Variable(np.ones(2)))


def test_normal_mode_records_nothing_and_lets_nan_through():
    assert not dezero.Config.detect_anomaly
    x = Variable(np.array([-1.0, 4.0]))
    y = F.log(x)
    assert np.isnan(y.data[0]) and y.creator.created_at is None
    F.sum(F.sqrt(Variable(np.array([0.0])))).backward()
    with dezero.detect_anomaly():
        assert dezero.Config.detect_anomaly
        assert F.log(Variable(np.array(2.0))).creator.created_at is not None
    assert not dezero.Config.detect_anomaly


def test_a_finite_computation_passes_in_anomaly_mode_with_the_same_result():
    x = Variable(np.array([0.5, 2.0]))
    with dezero.using_config("detect_anomaly", True):
        y = F.sum(F.log(x) * F.sqrt(x))
        y.backward(create_graph=True)
        gx = x.grad
        x.cleargrad()
        F.sum(gx).backward()
    t = np.array([0.5, 2.0])
    np.testing.assert_allclose(y.data, np.sum(np.log(t) * np.sqrt(t)))
    # f = log(x) sqrt(x): f' = x^-0.5 + log(x) x^-0.5 / 2, f'' = -log(x) x^-1.5 / 4
    second = -np.log(t) * t**-1.5 / 4
    np.testing.assert_allclose(x.grad.data, second)


def test_a_function_created_outside_the_mode_is_still_named_with_a_hint():
    x = Variable(np.array([0.0]))
    y = F.sqrt(x)
    with (
        dezero.detect_anomaly(),
        pytest.raises(FloatingPointError, match=r"Sqrt.backward.*created outside detect_anomaly\(\)"),
    ):
        F.sum(y).backward()
