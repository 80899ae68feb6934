"""Checking gradients against finite differences.

:func:`numerical_grad` computes central differences; :func:`gradient_check`
compares a backward pass with them for every floating input and says which
element is wrong; :func:`double_gradient_check` does the same one derivative up.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from dezero.backend import array_types, as_numpy, get_array_module
from dezero.core import Variable, grad, no_grad, using_config

__all__ = ["numerical_grad", "gradient_check", "double_gradient_check", "GradientCheckError"]


def _raw(x):
    return x.data if isinstance(x, Variable) else x


# =============================================================================
# Numerical gradients and gradient checking
# =============================================================================
def _default_eps(dtype) -> float:
    return {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-2}.get(np.dtype(dtype), 1e-4)


def numerical_grad(f: Callable, x, *args, eps: Optional[float] = None, gy=None, **kwargs):
    """Central-difference gradient of ``sum(gy * f(x, *args))`` with respect to ``x``.

    ``x`` (an array or a Variable) is perturbed **in place**, one element at a
    time, and restored to its exact original value, so ``f`` must read the array
    it is given. The result is a float64 NumPy array of x's shape.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returns a Variable or array (or a list of them).
    x : array or Variable
        The input to differentiate with respect to; changed in place and restored.
    *args, **kwargs
        Further arguments of ``f``, held fixed.
    eps : float, optional
        The step; by default chosen for x's dtype.
    gy : array, optional
        Weights of the output (the upstream gradient); ones by default.

    Returns
    -------
    numpy.ndarray
        float64, of x's shape.
    """
    data = x.data if isinstance(x, Variable) else x
    if not isinstance(data, array_types):
        raise TypeError(f"numerical_grad: x must be an array or a Variable, got {type(x).__name__}")
    if eps is None:
        eps = _default_eps(data.dtype)
    weight = None if gy is None else as_numpy(_raw(gy)).astype(np.float64)

    def evaluate() -> float:
        with no_grad():
            y = f(x, *args, **kwargs)
        outs = y if isinstance(y, (list, tuple)) else [y]
        total = 0.0
        for k, out in enumerate(outs):
            value = as_numpy(_raw(out)).astype(np.float64)
            w = weight if k == 0 and weight is not None else 1.0
            total += float(np.sum(value * w))
        return total

    grad = np.zeros(data.shape, dtype=np.float64)
    for idx in np.ndindex(*data.shape):
        original = data[idx].copy()
        data[idx] = original + eps
        plus = evaluate()
        data[idx] = original - eps
        minus = evaluate()
        data[idx] = original
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


class GradientCheckError(AssertionError):
    """Raised by :func:`gradient_check` with a message that says what went wrong."""


def _differentiable_positions(inputs) -> list:
    positions = []
    for i, a in enumerate(inputs):
        data = a.data if isinstance(a, Variable) else a
        if isinstance(data, array_types) and data.dtype.kind == "f":
            positions.append(i)
    return positions


def gradient_check(f: Callable, x, *args, rtol: float = 1e-4, atol: float = 1e-5,
                   eps: Optional[float] = None, seed: int = 0, **kwargs) -> bool:
    """Compare the backward pass of ``f`` with central differences, for every
    floating input (``x`` and every floating array or Variable in ``args``).

    The output is contracted with a random upstream gradient (ones would hide a
    backward that forgets to multiply by its incoming gradient); numerical
    values are accumulated in float64. Inputs are perturbed in place and restored
    exactly. Returns True, or raises :class:`GradientCheckError` naming the
    input, the worst element's index and both values.

    Parameters
    ----------
    f : callable
        The function under test, ``f(x, *args, **kwargs)`` -> Variable.
    x : array or Variable
        The first input.
    *args
        Further inputs; floating arrays and Variables are checked too.
    rtol, atol : float
        The tolerances of the comparison.
    eps : float, optional
        The finite-difference step; by default chosen for the dtype.
    seed : int
        Seeds the random upstream gradient.
    **kwargs
        Passed on to ``f``.

    Returns
    -------
    bool
        True.

    Raises
    ------
    GradientCheckError
        If an analytic and a numerical gradient differ.
    """
    inputs = [x, *args]
    positions = _differentiable_positions(inputs)
    if not positions:
        raise TypeError("gradient_check: no floating-point array or Variable among the inputs")
    # Variables that share the caller's arrays, so that perturbing them in place
    # perturbs exactly what f reads.
    variables = list(inputs)
    for i in positions:
        if not isinstance(variables[i], Variable):
            variables[i] = Variable(variables[i])

    y = f(*variables, **kwargs)
    if not isinstance(y, Variable):
        raise TypeError(f"gradient_check: f must return a Variable, got {type(y).__name__}")
    xp = get_array_module(y.data)
    rng = np.random.default_rng(seed)
    gy_host = rng.standard_normal(y.shape)
    gy = xp.asarray(gy_host.astype(y.dtype)) if y.dtype.kind == "f" else xp.asarray(gy_host)
    analytic = grad(y, [variables[i] for i in positions], grad_outputs=gy)

    def f_positional(target, *rest, _i=None):
        return f(*variables, **kwargs)

    for k, i in enumerate(positions):
        target = variables[i]
        numeric = numerical_grad(f_positional, target, eps=eps, gy=gy_host)
        if not np.all(np.isfinite(numeric)):
            bad = tuple(int(v) for v in np.argwhere(~np.isfinite(numeric))[0])
            raise GradientCheckError(
                f"gradient_check: the numerical gradient of input {i} is {numeric[bad]!r} at index {bad}: "
                f"f is not finite within eps={eps or _default_eps(target.dtype)} of x there; move x away "
                "from the singularity or pass a smaller eps")
        a = analytic[k]
        a = np.zeros(target.shape) if a is None else as_numpy(a.data).astype(np.float64)
        if a.shape != numeric.shape:
            raise GradientCheckError(
                f"gradient_check: analytic gradient of input {i} has shape {a.shape}, "
                f"expected {numeric.shape}")
        if np.all(numeric == 0) and np.any(a != 0):
            raise GradientCheckError(
                f"gradient_check: the output does not change at all when input {i} is perturbed, "
                "but its analytic gradient is non-zero: the output does not depend on x: "
                "does f read the array you passed? (a closure over a stale copy, or a layer "
                "holding an old array, gives an all-zero numerical gradient)")
        excess = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
        if np.any(excess > 0) or not np.all(np.isfinite(a)):
            if not np.all(np.isfinite(a)):
                worst = tuple(int(v) for v in np.argwhere(~np.isfinite(a))[0])
            else:
                worst = tuple(int(v) for v in np.unravel_index(np.argmax(excess), excess.shape))
            raise GradientCheckError(
                f"gradient_check: gradient of input {i} (shape {numeric.shape}) is wrong at "
                f"index {worst}: numerical {numeric[worst]!r}, analytic {a[worst]!r} "
                f"(rtol={rtol}, atol={atol}); {int(np.sum(excess > 0))} of {excess.size} elements differ")
    return True


def double_gradient_check(f: Callable, x, *args, rtol: float = 1e-4, atol: float = 1e-5,
                          eps: Optional[float] = None, seed: int = 0, **kwargs) -> bool:
    """Check second derivatives: the gradients of ``f`` (taken with
    ``create_graph=True`` and contracted with fixed random weights into a
    scalar) are themselves checked with :func:`gradient_check`.

    Parameters
    ----------
    f : callable
        The function under test, ``f(x, *args, **kwargs)`` -> Variable.
    x : array or Variable
        The first input.
    *args
        Further inputs; floating arrays and Variables are checked too.
    rtol, atol : float
        The tolerances of the comparison.
    eps : float, optional
        The finite-difference step; by default chosen for the dtype.
    seed : int
        Seeds the random weights.
    **kwargs
        Passed on to ``f``.

    Returns
    -------
    bool
        True.

    Raises
    ------
    GradientCheckError
        If a second derivative differs from its numerical value.
    """
    inputs = [x, *args]
    positions = _differentiable_positions(inputs)
    rng = np.random.default_rng(seed + 1)
    probe = f(*[Variable(a) if (i in positions and not isinstance(a, Variable)) else a
                for i, a in enumerate(inputs)], **kwargs)
    xp = get_array_module(probe.data)
    gy = xp.asarray(rng.standard_normal(probe.shape).astype(probe.dtype))
    weights = []
    for i in positions:
        shape = inputs[i].shape
        weights.append(xp.asarray(rng.standard_normal(shape).astype(inputs[i].dtype)))

    def grad_contracted(*vs):
        # numerical_grad evaluates under no_grad; the first derivative needs a graph.
        with using_config("enable_backprop", True):
            y = f(*vs, **kwargs)
            gxs = grad(y, [vs[i] for i in positions], grad_outputs=gy, create_graph=True)
        total = None
        for g, w in zip(gxs, weights):
            if g is None:
                continue
            term = (g * w).sum()
            total = term if total is None else total + term
        if total is None:
            raise GradientCheckError("double_gradient_check: f has no gradient with respect to any input")
        return total

    return gradient_check(grad_contracted, x, *args, rtol=rtol, atol=atol, eps=eps, seed=seed)
