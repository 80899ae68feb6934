"""Step 10: tests, and the gradient check.

A framework is only useful if its derivatives are right. Each Function gets
unit tests: its forward against known values, its backward against a value
worked out by hand, and a *gradient check*: backward against step 04's
numerical derivative at a random point. The gradient check needs no hand work,
so it scales to every function the framework will ever have.

Run this file to run the tests (``python -m unittest step10`` works too).
"""

import sys
import unittest

import numpy as np


class Variable:
    def __init__(self, data):
        if data is not None and not isinstance(data, np.ndarray):
            raise TypeError(f"Variable(data): expected numpy.ndarray, got {type(data).__name__}")
        self.data = data
        self.grad = None
        self.creator = None

    def set_creator(self, func):
        self.creator = func

    def backward(self):
        if self.grad is None:
            self.grad = np.ones_like(self.data)
        funcs = [self.creator]
        while funcs:
            f = funcs.pop()
            x, y = f.input, f.output
            x.grad = f.backward(y.grad)
            if x.creator is not None:
                funcs.append(x.creator)


def as_array(x):
    if np.isscalar(x):
        return np.array(x)
    return x


class Function:
    def __call__(self, input):
        x = input.data
        y = self.forward(x)
        output = Variable(as_array(y))
        output.set_creator(self)
        self.input = input
        self.output = output
        return output

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, gy):
        raise NotImplementedError(f"{type(self).__name__}.backward")


class Square(Function):
    def forward(self, x):
        return x**2

    def backward(self, gy):
        return 2 * self.input.data * gy


class Exp(Function):
    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        return np.exp(self.input.data) * gy


def square(x):
    return Square()(x)


def exp(x):
    return Exp()(x)


def numerical_diff(f, x, eps=1e-4):
    # as_array: 0-d array + float is a NumPy scalar, which Variable now refuses.
    y_plus = f(Variable(as_array(x.data + eps)))
    y_minus = f(Variable(as_array(x.data - eps)))
    return (y_plus.data - y_minus.data) / (2 * eps)


# A fixed seed: a failing random case must be reproducible.
rng = np.random.default_rng(0)


class SquareTest(unittest.TestCase):
    def test_forward(self):
        y = square(Variable(np.array(2.0)))
        self.assertEqual(y.data, np.array(4.0))

    def test_backward(self):
        x = Variable(np.array(3.0))
        square(x).backward()
        self.assertEqual(x.grad, np.array(6.0))

    def test_gradient_check(self):
        x = Variable(np.array(rng.uniform(-2, 2)))
        square(x).backward()
        # Tolerances, not equality: the numerical value carries an O(eps^2) error.
        self.assertTrue(np.allclose(x.grad, numerical_diff(square, x), rtol=1e-5, atol=1e-8))


class ExpTest(unittest.TestCase):
    def test_forward(self):
        y = exp(Variable(np.array(0.0)))
        self.assertEqual(y.data, np.array(1.0))

    def test_backward(self):
        x = Variable(np.array(1.0))
        exp(x).backward()
        self.assertAlmostEqual(float(x.grad), np.e)

    def test_gradient_check(self):
        x = Variable(np.array(rng.uniform(-2, 2)))
        exp(x).backward()
        self.assertTrue(np.allclose(x.grad, numerical_diff(exp, x), rtol=1e-5, atol=1e-8))


class CompositeTest(unittest.TestCase):
    def test_gradient_check(self):
        def f(v):
            return square(exp(square(v)))

        x = Variable(np.array(rng.uniform(-1, 1)))
        f(x).backward()
        self.assertTrue(np.allclose(x.grad, numerical_diff(f, x), rtol=1e-5, atol=1e-8))


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    # The three test classes above, run and reported here; the exit code is
    # decided below (non-zero if anything failed).
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite(loader.loadTestsFromTestCase(case) for case in (SquareTest, ExpTest, CompositeTest))
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    return {
        "tests_run": result.testsRun,
        "problems": len(result.failures) + len(result.errors),
        "ok": result.wasSuccessful(),
    }


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
