"""Checking gradients against finite differences.

:func:`numerical_grad` computes central differences by perturbing the array it
is given in place; :func:`gradient_check` compares a backward pass with them,
on float64 copies of the inputs, and says which element is wrong;
:func:`double_gradient_check` does the same one derivative up.
"""

from __future__ import annotations

from typing import Callable, List, Optional

import numpy as np

from dezero.backend import array_types, as_numpy, get_array_module
from dezero.core import Variable, grad, no_grad, using_config

__all__ = ["numerical_grad", "gradient_check", "double_gradient_check", "GradientCheckError"]


def _raw(x):
    return x.data if isinstance(x, Variable) else x


# =============================================================================
# Numerical gradients
# =============================================================================
def _default_eps(dtype) -> float:
    return {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-2}.get(np.dtype(dtype), 1e-4)


def numerical_grad(f: Callable, x, *args, eps: Optional[float] = None, gy=None, **kwargs):
    """Central-difference gradient of ``sum(gy * f(x, *args))`` with respect to ``x``.

    ``x`` itself is perturbed **in place**, one element at a time, and restored
    to its exact original value afterwards, as the ``numerical_gradient`` of
    the book's first volume does. So ``f`` may ignore its argument and read the
    array from elsewhere: ``numerical_grad(lambda W: net.loss(x, t), net.W)``
    works because ``net.W`` is the array being perturbed. (:func:`gradient_check`
    works on copies instead.)

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a Variable or array (or a list of
        them, whose sums are added).
    x : numpy.ndarray, cupy.ndarray or Variable
        A floating-point array: it must be able to hold ``x +- eps``.
    *args, **kwargs
        Passed to ``f`` unchanged.
    eps : float, optional
        The step; 1e-4 for float64, 1e-2 for float32.
    gy : array, optional
        Weights for the output elements (the upstream gradient); ones if omitted.

    Returns
    -------
    numpy.ndarray
        A float64 array of x's shape.

    Raises
    ------
    TypeError
        If ``x`` is not an array or a Variable, or holds integers or booleans
        (an integer array would truncate the step ``x + eps`` to ``x``).
    """
    data = x.data if isinstance(x, Variable) else x
    if not isinstance(data, array_types):
        raise TypeError(f"numerical_grad: x must be an array or a Variable, got {type(x).__name__}")
    if data.dtype.kind != "f":
        raise TypeError(
            f"numerical_grad: x has dtype {data.dtype}, which cannot hold x + eps (the step would "
            "be truncated and the gradient be garbage); pass a float array, e.g. "
            "x.astype(np.float64)"
        )
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

    result = np.zeros(data.shape, dtype=np.float64)
    for idx in np.ndindex(*data.shape):
        original = data[idx].copy()
        data[idx] = original + eps
        plus = evaluate()
        data[idx] = original - eps
        minus = evaluate()
        data[idx] = original
        result[idx] = (plus - minus) / (2 * eps)
    return result


# =============================================================================
# Gradient checking
# =============================================================================
class GradientCheckError(AssertionError):
    """Raised by :func:`gradient_check` with a message that says what went wrong."""


def _checked_positions(inputs) -> List[int]:
    """The inputs that are checked: the first always (as in the book, whatever
    its dtype), the others when they are floating-point arrays or Variables."""
    first = _raw(inputs[0])
    if not isinstance(first, array_types):
        raise TypeError(f"gradient_check: x must be an array or a Variable, got {type(inputs[0]).__name__}")
    positions = [0]
    for i, a in enumerate(inputs[1:], start=1):
        data = _raw(a)
        if isinstance(data, array_types) and data.dtype.kind == "f":
            positions.append(i)
    return positions


def _float64_copies(inputs, positions) -> list:
    """The inputs with each checked one replaced by a Variable holding a float64
    copy: the caller's arrays are never written to, and a function that also
    reads them through a closure sees them unchanged."""
    copies = list(inputs)
    for i in positions:
        data = _raw(inputs[i])
        if data.dtype.kind not in "fiub":
            raise TypeError(f"gradient_check: input {i} has dtype {data.dtype}; only real numbers can be checked")
        copies[i] = Variable(data.astype(np.float64))  # astype copies, on the array's own device
    return copies


def gradient_check(
    f: Callable,
    x,
    *args,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    eps: Optional[float] = None,
    seed: int = 0,
    allow_independent: bool = False,
    **kwargs,
) -> bool:
    """Compare the backward pass of ``f`` with central differences.

    As in the book, ``x`` is checked whatever its dtype (integers included);
    in addition every floating-point array or Variable among ``args`` is
    checked too (integer ``args``, such as labels, are passed unchanged).
    Each checked input is replaced by a **float64 copy**, so float32 inputs
    are not checked at float32 precision, the caller's arrays are never
    touched, and ``f`` must compute from the arguments it receives: a function
    that reads a layer's weights directly is reported, not silently passed.
    To check such a function, perturb the weights in place with
    :func:`numerical_grad`.

    The output is contracted with a random upstream gradient (ones would hide a
    backward that forgets to multiply by its incoming gradient); numerical
    values are accumulated in float64.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a Variable.
    x : array or Variable
    *args
        Further inputs of ``f``.
    rtol, atol : float
        Tolerances of the comparison ``|analytic - numerical| <= atol + rtol |numerical|``.
    eps : float, optional
        Finite-difference step; 1e-4, or 1e-2 when ``f`` computes in float32
        whatever its inputs.
    seed : int
        Seed of the random upstream gradient.
    allow_independent : bool
        Let an input the output does not depend on at all pass (its gradient is
        zero). By default that is an error, because it usually means ``f``
        reads data other than its arguments; pass True when independence is
        expected (the second derivative of a linear function, say).
    **kwargs
        Passed to ``f``.

    Returns
    -------
    bool
        True (a failed check raises instead of returning False).

    Raises
    ------
    GradientCheckError
        Naming the input, the worst element's index and both values; or when
        the output does not depend on a checked input, or the numerical
        gradient is not finite.
    TypeError
        If ``x`` is not an array or a Variable, or ``f`` does not return a Variable.
    """
    return _check(f, [x, *args], kwargs, rtol, atol, eps, seed, independent_ok=allow_independent)


def _check(
    f: Callable,
    inputs: list,
    kwargs: dict,
    rtol: float,
    atol: float,
    eps: Optional[float],
    seed: int,
    independent_ok: bool,
) -> bool:
    """gradient_check's work. ``independent_ok``: an output that does not depend
    on an input passes (a first derivative may well be constant in an input)."""
    positions = _checked_positions(inputs)
    variables = _float64_copies(inputs, positions)

    y = f(*variables, **kwargs)
    if not isinstance(y, Variable):
        raise TypeError(f"gradient_check: f must return a Variable, got {type(y).__name__}")
    if y.dtype.kind != "f":
        raise TypeError(f"gradient_check: f returned dtype {y.dtype}; its output must be floating-point")
    xp = get_array_module(y.data)
    rng = np.random.default_rng(seed)
    gy_host = rng.standard_normal(y.shape)
    gy = xp.asarray(gy_host.astype(y.dtype))
    analytic = grad(y, [variables[i] for i in positions], grad_outputs=gy)
    if eps is None:
        # A function that computes in float32 anyway (float32 weights) needs
        # the float32 step: 1e-4 would drown in its rounding.
        eps = _default_eps(y.dtype)

    def f_on_copies(_target):
        return f(*variables, **kwargs)

    for k, i in enumerate(positions):
        target = variables[i]
        numeric = numerical_grad(f_on_copies, target, eps=eps, gy=gy_host)
        if not np.all(np.isfinite(numeric)):
            bad = tuple(int(v) for v in np.argwhere(~np.isfinite(numeric))[0])
            raise GradientCheckError(
                f"gradient_check: the numerical gradient of input {i} is {numeric[bad]!r} at index {bad}: "
                f"f is not finite within eps={eps} of x there; move x away "
                "from the singularity or pass a smaller eps"
            )
        if analytic[k] is None:
            if np.all(numeric == 0) and independent_ok:
                continue
            if np.all(numeric == 0):
                raise GradientCheckError(
                    f"gradient_check: the output does not depend on input {i}: f must compute from the "
                    "arguments it is given (they are float64 copies, so a function that reads a "
                    "layer's weights or a global array ignores them); to check weights that f reads "
                    "by itself, use numerical_grad, which perturbs them in place"
                )
            raise GradientCheckError(
                f"gradient_check: input {i} gets no gradient from backward, but the numerical "
                f"gradient is non-zero (for example {numeric.flat[np.argmax(np.abs(numeric))]!r}): "
                "the graph is cut somewhere between it and the output"
            )
        a = as_numpy(analytic[k].data).astype(np.float64)
        if a.shape != numeric.shape:
            raise GradientCheckError(
                f"gradient_check: analytic gradient of input {i} has shape {a.shape}, expected {numeric.shape}"
            )
        if np.all(numeric == 0) and np.any(a != 0):
            raise GradientCheckError(
                f"gradient_check: the output does not change at all when input {i} is perturbed, "
                "but its analytic gradient is non-zero: the output does not depend on x: "
                "does f compute from its arguments? (a function that reads a stale copy or a "
                "layer's own array ignores the float64 copies gradient_check passes)"
            )
        excess = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
        if np.any(excess > 0) or not np.all(np.isfinite(a)):
            if not np.all(np.isfinite(a)):
                worst = tuple(int(v) for v in np.argwhere(~np.isfinite(a))[0])
            else:
                worst = tuple(int(v) for v in np.unravel_index(np.argmax(excess), excess.shape))
            raise GradientCheckError(
                f"gradient_check: gradient of input {i} (shape {numeric.shape}) is wrong at "
                f"index {worst}: numerical {numeric[worst]!r}, analytic {a[worst]!r} "
                f"(rtol={rtol}, atol={atol}); {int(np.sum(excess > 0))} of {excess.size} elements differ"
            )
    return True


def double_gradient_check(
    f: Callable, x, *args, rtol: float = 1e-4, atol: float = 1e-5, eps: Optional[float] = None, seed: int = 0, **kwargs
) -> bool:
    """Check second derivatives of ``f``.

    The gradients of ``f`` (taken with ``create_graph=True`` and contracted
    with fixed random weights into a scalar) are themselves checked with
    :func:`gradient_check`, on float64 copies of the same inputs.

    Parameters
    ----------
    f, x, *args, rtol, atol, eps, seed, **kwargs
        As for :func:`gradient_check`.

    Returns
    -------
    bool
        True.

    Raises
    ------
    GradientCheckError
        As :func:`gradient_check`, about the first derivatives; or when ``f``
        has no gradient with respect to any input.
    """
    inputs = [x, *args]
    positions = _checked_positions(inputs)
    probe = f(*_float64_copies(inputs, positions), **kwargs)
    xp = get_array_module(probe.data)
    rng = np.random.default_rng(seed + 1)
    gy = xp.asarray(rng.standard_normal(probe.shape).astype(probe.dtype))
    weights = [xp.asarray(rng.standard_normal(_raw(inputs[i]).shape)) for i in positions]

    def grad_contracted(*vs):
        # numerical_grad evaluates under no_grad; the first derivative needs a graph.
        with using_config("enable_backprop", True):
            y = f(*vs, **kwargs)
            gxs = grad(y, [vs[i] for i in positions], grad_outputs=gy, create_graph=True)
        total = None
        for g, w in zip(gxs, weights):
            if g is None:
                continue
            term = (g * w.astype(g.dtype)).sum()
            total = term if total is None else total + term
        if total is None:
            raise GradientCheckError("double_gradient_check: f has no gradient with respect to any input")
        return total

    return _check(grad_contracted, inputs, {}, rtol, atol, eps, seed, independent_ok=True)
