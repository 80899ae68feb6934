"""The autograd core: Variable, Function, backward, configuration, dezero.grad."""

import gc
import math
import tracemalloc
import weakref

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Function, Parameter, Variable
from tests.core_cases import ENGINE_CASES, OPERATOR_VALUES


# --- Variable ----------------------------------------------------------------------
class TestVariable:
    def test_holds_arrays_and_none(self):
        data = np.arange(6.0).reshape(2, 3)
        assert Variable(data).data is data
        assert Variable(None).data is None

    def test_numpy_scalar_becomes_0d_array(self):
        v = Variable(np.float32(1.5))
        assert isinstance(v.data, np.ndarray) and v.data.shape == () and v.dtype == np.float32

    @pytest.mark.parametrize("bad", [1.0, 3, [1, 2], "x", (1.0,)])
    def test_rejects_other_types_naming_them(self, bad):
        with pytest.raises(TypeError, match=type(bad).__name__):
            Variable(bad)

    def test_array_properties(self):
        v = Variable(np.zeros((2, 3, 4), dtype=np.float32), name="v")
        assert (v.shape, v.ndim, v.size, v.dtype, len(v), v.name) == ((2, 3, 4), 3, 24, np.float32, 2, "v")
        with pytest.raises(TypeError):
            len(Variable(np.array(1.0)))

    def test_repr_indents_multiline_arrays(self):
        assert repr(Variable(np.array([1, 2]))) == "variable([1 2])"
        assert repr(Variable(np.array([[1, 2], [3, 4]]))) == "variable([[1 2]\n          [3 4]])"
        assert repr(Variable(None)) == "variable(None)"
        assert repr(Parameter(np.array(1.0))).startswith("parameter(")

    def test_reshape_transpose_and_T(self):
        x = Variable(np.arange(6.0))
        assert x.reshape(2, 3).shape == (2, 3)
        assert x.reshape((3, 2)).shape == (3, 2)
        m = Variable(np.arange(24.0).reshape(2, 3, 4))
        assert m.transpose(1, 0, 2).shape == (3, 2, 4)
        assert m.transpose((2, 0, 1)).shape == (4, 2, 3)
        assert m.transpose().shape == (4, 3, 2)
        assert m.T.shape == (4, 3, 2)

    def test_sum_method(self):
        x = Variable(np.arange(6.0).reshape(2, 3))
        assert x.sum().data == 15.0
        np.testing.assert_array_equal(x.sum(axis=0).data, [3, 5, 7])
        assert x.sum(axis=1, keepdims=True).shape == (2, 1)


# --- Function ----------------------------------------------------------------------
class Square(Function):
    def forward(self, x):
        return x**2

    def backward(self, gy):
        (x,) = self.inputs
        return 2 * x * gy


class SplitHalves(Function):
    """Two outputs: used to check multi-output bookkeeping."""

    def forward(self, x):
        n = len(x) // 2
        return x[:n], x[n:]

    def backward(self, gy0, gy1):
        (x,) = self.inputs
        n = len(x) // 2
        xp = dezero.backend.get_array_module(x)
        zero0 = Variable(xp.zeros(n, dtype=x.dtype))
        zero1 = Variable(xp.zeros(len(x) - n, dtype=x.dtype))
        g0 = gy0 if gy0 is not None else zero0
        g1 = gy1 if gy1 is not None else zero1
        return _concat(g0, g1)


def _concat(a, b):
    # concatenation from differentiable pieces: embed each half into the full length
    n, m = a.shape[0], b.shape[0]
    left = F.matmul(a, Variable(np.eye(n, n + m, dtype=a.dtype)))
    right = F.matmul(b, Variable(np.eye(m, n + m, k=n, dtype=b.dtype)))
    return left + right


class TestFunction:
    def test_records_graph(self):
        x = Variable(np.array(3.0))
        y = Square()(x)
        assert y.creator.inputs[0] is x
        assert y.creator.outputs[0]() is y
        assert y.generation == x.generation + 1
        y.backward()
        assert x.grad.data == 6.0

    def test_multiple_outputs(self):
        x = Variable(np.arange(4.0))
        a, b = SplitHalves()(x)
        y = F.sum(a * 2.0) + F.sum(b * 3.0)
        y.backward()
        np.testing.assert_array_equal(x.grad.data, [2, 2, 3, 3])

    def test_multiple_outputs_one_unused(self):
        x = Variable(np.arange(4.0))
        a, _ = SplitHalves()(x)
        F.sum(a).backward()
        np.testing.assert_array_equal(x.grad.data, [1, 1, 0, 0])

    def test_calling_twice_is_an_error(self):
        f = Square()
        f(Variable(np.array(1.0)))
        with pytest.raises(RuntimeError, match="Square.*already called"):
            f(Variable(np.array(2.0)))

    def test_accepts_arrays_and_scalars(self):
        y = F.add(np.array([1.0, 2.0]), 3)
        assert isinstance(y, Variable)
        np.testing.assert_array_equal(y.data, [4.0, 5.0])

    def test_unsupported_input_type_names_the_op(self):
        with pytest.raises(TypeError, match=r"Sub: input 1 has unsupported type dict"):
            Variable(np.ones(2)) - {"a": 1}

    def test_outputs_are_weak(self):
        x = Variable(np.array(1.0))
        y = Square()(x)
        f = y.creator
        ref = weakref.ref(y)
        del y
        gc.collect()
        assert ref() is None and f.outputs[0]() is None


# --- operators -------------------------------------------------------------------
class TestOperators:
    def setup_method(self):
        self.a = Variable(np.array([1.0, 2.0, 3.0]))
        self.b = Variable(np.array([4.0, 5.0, 6.0]))

    @pytest.mark.parametrize(
        "op, expected",
        OPERATOR_VALUES
        + [  # those core_simple lacks:
            (lambda a, b: +a, [1, 2, 3]),
            (lambda a, b: 2.0**a, [2, 4, 8]),
            (lambda a, b: a**b, [1, 32, 729]),
            (lambda a, b: a[1:], [2, 3]),
            (lambda a, b: a @ b, 32),
            (lambda a, b: np.ones((2, 3)) @ a, [6, 6]),
        ],
    )
    def test_values(self, op, expected):
        y = op(self.a, self.b)
        assert isinstance(y, Variable)
        np.testing.assert_allclose(y.data, expected)

    def test_every_operator_is_differentiable(self):
        a, b = self.a, self.b
        y = F.sum((a + b) * (a - b) / b + (-a) ** 2 + 3.0**a - 1.0 / a + a @ b)
        y.backward()
        x, z = a.data, b.data
        # a @ b is a scalar broadcast over the 3 elements, hence the factor 3
        ga = 2 * x / z + 2 * x + 3.0**x * math.log(3.0) + 1 / x**2 + 3 * z
        gb = -1 - x**2 / z**2 + 3 * x
        np.testing.assert_allclose(a.grad.data, ga)
        np.testing.assert_allclose(b.grad.data, gb)

    def test_broadcast_backward_reduces_to_input_shapes(self):
        a = Variable(np.arange(3.0).reshape(3, 1))
        b = Variable(np.arange(4.0).reshape(1, 4))
        y = F.sum(a * b + a - b)
        y.backward()
        assert a.grad.shape == (3, 1) and b.grad.shape == (1, 4)
        np.testing.assert_allclose(a.grad.data, np.full((3, 1), 6.0 + 4.0))
        np.testing.assert_allclose(b.grad.data, np.full((1, 4), 3.0 - 3.0))

    def test_ndarray_on_the_left_returns_variable(self):
        for y in (np.ones(3) + self.a, np.ones(3) * self.a, np.float64(2.0) * self.a):
            assert isinstance(y, Variable)

    def test_numpy_ufuncs_refuse_variables(self):
        with pytest.raises(TypeError):
            np.exp(self.a)


# --- backward ----------------------------------------------------------------------
class TestBackward:
    def test_diamond_graph_in_generation_order(self):
        x = Variable(np.array(2.0))
        a = x**2
        y = a**2 + a**2  # 2 x^4
        y.backward()
        assert y.data == 32.0 and x.grad.data == 64.0

    def test_grad_accumulates_when_a_variable_is_reused(self):
        x = Variable(np.array(3.0))
        y = x + x + x
        y.backward()
        assert x.grad.data == 3.0

    def test_grad_accumulates_across_backward_calls_until_cleargrad(self):
        x = Variable(np.array(3.0))
        (x * x).backward()
        (x * x).backward()
        assert x.grad.data == 12.0
        x.cleargrad()
        (x * x).backward()
        assert x.grad.data == 6.0

    def test_intermediate_grads_released_unless_retained(self):
        x = Variable(np.array(2.0))
        a = F.square(x)
        y = F.exp(a)
        y.backward()
        assert a.grad is None and y.grad is None and x.grad is not None
        x.cleargrad()
        y = F.exp(F.square(x))
        a = y.creator.inputs[0]
        y.backward(retain_grad=True)
        np.testing.assert_allclose(a.grad.data, np.exp(4.0))
        assert y.grad.data == 1.0

    def test_explicit_seed_gradient(self):
        x = Variable(np.array([1.0, 2.0]))
        y = x * 3.0
        y.backward(grad=np.array([1.0, 10.0]))
        np.testing.assert_array_equal(x.grad.data, [3.0, 30.0])

    def test_seed_of_the_wrong_shape(self):
        y = Variable(np.ones((2, 3))) * 2.0
        with pytest.raises(ValueError, match=r"grad of shape \(3,\) does not match the output of shape \(2, 3\)"):
            y.backward(grad=np.ones(3))

    def test_backward_without_data(self):
        with pytest.raises(ValueError, match="no data"):
            Variable(None).backward()

    def test_engine_rejects_a_gradient_of_the_wrong_shape(self):
        class BadLoss(Function):  # forgets to reduce the broadcast (4,1) vs (4,) gradient
            def forward(self, a, b):
                return ((a - b) ** 2).sum()

            def backward(self, gy):
                a, b = self.inputs
                diff = a - b  # (4, 4): the classic silent broadcast
                return gy * diff, -gy * diff

        a = Variable(np.ones((4, 1)))
        b = Variable(np.zeros(4))
        y = BadLoss()(a, b)
        with pytest.raises(
            RuntimeError,
            match=r"BadLoss.backward returned a gradient of shape \(4, 4\) "
            r"for input 0 of shape \(4, 1\)",
        ):
            y.backward()

    def test_wrong_number_of_gradients(self):
        class Bad(Function):
            def forward(self, a, b):
                return a + b

            def backward(self, gy):
                return gy

        y = Bad()(Variable(np.ones(2)), Variable(np.ones(2)))
        with pytest.raises(RuntimeError, match="Bad.backward returned 1 gradients for 2 inputs"):
            y.backward()

    def test_long_chain_is_iterative(self):
        x = Variable(np.array(0.0))
        y = x
        for _ in range(100_000):
            y = y + 1.0
        y.backward()
        assert y.data == 100_000.0 and x.grad.data == 1.0
        del y  # freeing a 100k-deep graph must not overflow the C stack either
        gc.collect()

    def test_unchain_backward_cuts_the_graph(self):
        x = Variable(np.array(1.0))
        h = F.tanh(x * 2.0)
        y = F.sin(h) + h
        y.unchain_backward()
        assert h.creator is None
        y.backward()
        assert x.grad is None and h.grad is not None

    def test_unchain(self):
        x = Variable(np.array(1.0))
        y = x * 2.0
        y.unchain()
        assert y.creator is None


# --- configuration --------------------------------------------------------------------
class TestConfig:
    def test_no_grad_records_nothing(self):
        x = Variable(np.array(2.0))
        with dezero.no_grad():
            y = x * x
        assert y.creator is None and dezero.Config.enable_backprop
        z = x * x
        assert z.creator is not None

    def test_test_mode_and_using_config_restore(self):
        assert dezero.Config.train
        with dezero.test_mode():
            assert not dezero.Config.train
        assert dezero.Config.train
        with pytest.raises(RuntimeError):
            with dezero.using_config("train", False):
                raise RuntimeError("leaves the block early")
        assert dezero.Config.train


# --- higher-order derivatives --------------------------------------------------------------
class TestHigherOrder:
    def test_newton_method_with_automatic_second_derivative(self):
        x = Variable(np.array(2.0))
        for _ in range(10):
            y = x**4 - 2 * x**2
            x.cleargrad()
            y.backward(create_graph=True)
            gx = x.grad
            x.cleargrad()
            gx.backward()
            gx2 = x.grad
            x.data = x.data - gx.data / gx2.data
        assert abs(x.data - 1.0) < 1e-12

    @pytest.mark.parametrize(
        "func, derivatives",
        [
            (F.sin, [np.cos, lambda t: -np.sin(t), lambda t: -np.cos(t), np.sin, np.cos]),
            (
                F.tanh,
                [
                    lambda t: 1 - np.tanh(t) ** 2,
                    lambda t: -2 * np.tanh(t) * (1 - np.tanh(t) ** 2),
                    lambda t: (1 - np.tanh(t) ** 2) * (6 * np.tanh(t) ** 2 - 2),
                    lambda t: 8 * np.tanh(t) * (1 - np.tanh(t) ** 2) * (2 - 3 * np.tanh(t) ** 2),
                ],
            ),
        ],
    )
    def test_nth_derivatives(self, func, derivatives):
        t = np.linspace(-2, 2, 7)
        x = Variable(t.copy())
        y = func(x)
        for n, expected in enumerate(derivatives, start=1):
            x.cleargrad()
            y.backward(create_graph=True)
            y = x.grad
            np.testing.assert_allclose(y.data, expected(t), rtol=1e-10, atol=1e-12, err_msg=f"order {n}")

    def test_double_backprop_gradient_penalty(self):
        # z = (dy/dx)^3 + y with y = x^2: dz/dx = 3 (2x)^2 * 2 + 2x = 24 x^2 + 2x
        x = Variable(np.array(2.0))
        y = x**2
        y.backward(create_graph=True)
        gx = x.grad
        x.cleargrad()
        z = gx**3 + y
        z.backward()
        assert x.grad.data == 24 * 4 + 4


# --- dezero.grad ------------------------------------------------------------------------------
class TestFunctionalGrad:
    def test_returns_gradients_without_touching_grad(self):
        x = Variable(np.array([1.0, 2.0]))
        w = Variable(np.array([3.0, 4.0]))
        y = F.sum(x * w)
        gx, gw = dezero.grad(y, [x, w])
        np.testing.assert_array_equal(gx.data, [3, 4])
        np.testing.assert_array_equal(gw.data, [1, 2])
        assert x.grad is None and w.grad is None and y.grad is None

    def test_single_input_intermediate_and_unused(self):
        x = Variable(np.array(3.0))
        a = x * 2.0
        y = a * a
        assert dezero.grad(y, a).data == 12.0
        assert dezero.grad(y, Variable(np.array(1.0))) is None

    def test_grad_outputs_and_create_graph(self):
        x = Variable(np.array(2.0))
        y = x**3
        (g,) = dezero.grad(y, [x], grad_outputs=np.array(2.0), create_graph=True)
        assert g.data == 24.0
        (h,) = dezero.grad(g, [x])
        assert h.data == 24.0  # d/dx (2 * 3x^2) = 12 x

    def test_rejects_non_variables(self):
        with pytest.raises(TypeError, match="expected Variables"):
            dezero.grad(Variable(np.array(1.0)), [np.array(1.0)])


# --- memory and dtypes -------------------------------------------------------------------
def test_graph_is_freed_by_reference_counting():
    x = Variable(np.random.randn(1_000_000))
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            y = F.sum(F.tanh(x) * 2.0)
            y.backward()
            x.cleargrad()
        del y
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert grown < 4 * 8_000_000, f"memory grew by {grown / 1e6:.1f} MB over 200 steps"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved_through_ops_and_gradients(dtype):
    x = Variable(np.linspace(0.5, 1.5, 6).reshape(2, 3).astype(dtype))
    w = Variable(np.ones((3, 2), dtype=dtype))
    y = F.sum(
        F.tanh(x @ w) * np.float64(2.0)
        + 1.5
        - x.sum(axis=1, keepdims=True) ** 2 / 3.0
        + F.exp(F.log(x * 2)).mean()
        + F.sqrt(x).max()
    )
    assert y.dtype == dtype
    y.backward(create_graph=True)
    assert x.grad.dtype == dtype and w.grad.dtype == dtype
    g = x.grad
    x.cleargrad()
    F.sum(g * g).backward()
    assert x.grad.dtype == dtype


def test_mixed_dtype_inputs_get_gradients_in_their_own_dtype():
    a = Variable(np.ones(3, dtype=np.float32))
    b = Variable(np.ones(3, dtype=np.float64))
    y = F.sum(a * b)
    assert y.dtype == np.float64
    y.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


# --- requires_grad ---------------------------------------------------------------------
class TestRequiresGrad:
    def test_raw_arrays_record_no_graph(self):
        y = F.sin(np.array([1.0, 2.0]))
        assert y.creator is None and not y.requires_grad

    def test_constant_inputs_get_no_gradient(self):
        data = Variable(np.ones((2, 3)), requires_grad=False)
        W = Variable(np.full((3, 2), 0.5))
        y = F.sum(F.matmul(data, W) * np.array([1.0, 2.0]))
        y.backward()
        assert data.grad is None
        np.testing.assert_array_equal(W.grad.data, [[2, 4], [2, 4], [2, 4]])

    def test_backward_skips_the_input_gradient_of_a_layer(self):
        calls = []

        class Spy(Function):
            def forward(self, x):
                return x

            def backward(self, gy):
                calls.append(1)
                return gy

        x = Spy()(Variable(np.ones((4, 3))))  # a user Variable: gets a gradient
        W = Variable(np.ones((3, 2)))
        F.sum(F.linear(np.ones((4, 3)), W)).backward()  # raw data: only W's gradient
        F.sum(F.linear(x, W)).backward()
        assert calls == [1]

    def test_functional_grad_on_a_constant_is_none(self):
        c = Variable(np.array(2.0), requires_grad=False)
        x = Variable(np.array(3.0))
        gc_, gx = dezero.grad(c * x, [c, x])
        assert gc_ is None and gx.data == 2.0


# --- the cases shared with dezero.core_simple (tests/core_cases.py) ---------------------
@pytest.mark.parametrize("case", ENGINE_CASES.values(), ids=ENGINE_CASES.keys())
def test_engine_case_shared_with_core_simple(case):
    case(dezero.core)
