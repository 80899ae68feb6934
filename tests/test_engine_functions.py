"""The contract of a Function: forward maps arrays to arrays, backward maps
Variables to Variables; a broken one is named at once."""

import numpy as np
import pytest

from dezero import Function, Variable


class ForwardReturnsVariable(Function):
    def forward(self, x):
        return Variable(x * 2)

    def backward(self, gy):
        return gy * 2


class ForwardReturnsVariableInTuple(Function):
    def forward(self, x):
        return x, Variable(x)

    def backward(self, gy0, gy1):
        return gy0


class ForwardReturnsString(Function):
    def forward(self, x):
        return "not an array"


class BackwardReturnsArray(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy.data * 2  # a raw array: could not be differentiated again


class BackwardReturnsFloatInTuple(Function):
    def forward(self, x0, x1):
        return x0 * x1

    def backward(self, gy):
        return gy * self.inputs[1], 1.0


@pytest.mark.parametrize(
    "function, kind",
    [
        (ForwardReturnsVariable, "Variable"),
        (ForwardReturnsVariableInTuple, "Variable"),
        (ForwardReturnsString, "str"),
    ],
)
def test_a_forward_that_returns_no_array_is_named_at_once(function, kind):
    with pytest.raises(TypeError, match=rf"{function.__name__}.forward returned a {kind}.*arrays"):
        function()(Variable(np.ones(3)))


def test_a_forward_may_return_numpy_and_python_scalars():
    class SumToScalar(Function):
        def forward(self, x):
            return float(x.sum())

    class NumpyScalar(Function):
        def forward(self, x):
            return np.float32(x.sum())

    y = SumToScalar()(Variable(np.ones(3)))
    assert isinstance(y.data, np.ndarray) and y.data == 3.0
    z = NumpyScalar()(Variable(np.ones(3, dtype=np.float32)))
    assert isinstance(z.data, np.ndarray) and z.dtype == np.float32


@pytest.mark.parametrize(
    "function, inputs, index, kind",
    [
        (BackwardReturnsArray, 1, 0, "numpy.ndarray"),
        (BackwardReturnsFloatInTuple, 2, 1, "float"),
    ],
)
def test_a_backward_that_returns_no_variable_is_named_at_once(function, inputs, index, kind):
    xs = [Variable(np.ones(3)) for _ in range(inputs)]
    y = function()(*xs)
    with pytest.raises(TypeError, match=rf"{function.__name__}.backward returned a {kind} for input {index}.*Variable"):
        y.backward()
