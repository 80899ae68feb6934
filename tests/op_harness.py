"""The shared test harness of the ops in ``dezero.functions``.

An op declares its cases once, as :class:`OpCase` rows (inputs, the call, an
independent reference), and a test class derived from :class:`OpTests` turns
every case into the same checks, for float32 and float64, on NumPy and CuPy::

    class TestActivationOps(OpTests):
        cases = [
            OpCase("sigmoid((2, 3))", F.sigmoid, [normal((2, 3))],
                   lambda x: 1 / (1 + np.exp(-x))),
        ]

The checks (one test each, so a failure names what broke):

``test_forward``
    the output against the reference, which gets NumPy copies of the inputs
    with the floating ones in float64;
``test_backward``
    the gradients of every differentiable input against central differences
    (:func:`dezero.gradient_check.gradient_check`);
``test_double_backward``
    the gradient of ``sum(w * grad(f, x, gy))`` with respect to the inputs
    *and* to ``gy``, against central differences: second derivatives, and the
    backward of every op the backward is made of (even for a linear op, whose
    second derivative is zero);
``test_dtype_is_kept``
    outputs and gradients keep the input's dtype, no float64 enters the
    graph of a float32 gradient, and float32 results agree with float64 ones;
``test_non_contiguous_inputs``
    strided views of the same values give the same results;
``test_read_only_inputs``
    read-only arrays (inputs, upstream gradients) are accepted (NumPy only:
    CuPy has no read-only arrays);
``test_inputs_not_modified``
    forward, backward and double backward leave their inputs and the upstream
    gradient as they were.

Every case runs on every backend of ``tests.conftest.BACKENDS`` (CuPy cases
skip, with the reason, where CuPy or a GPU is missing). Each case draws its
inputs from a generator seeded by its name, so adding a case changes no other.
"""

from __future__ import annotations

import inspect
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import pytest

import dezero.functions as F
from dezero.backend import as_numpy, get_array_module
from dezero.core import Variable, grad, using_config
from dezero.gradient_check import gradient_check

__all__ = [
    "OpCase",
    "OpTests",
    "normal",
    "uniform",
    "away_from_zero",
    "distinct",
    "integers",
    "fixed",
    "on_backend_of",
    "public_functions",
    "check_forward",
    "check_backward",
    "check_double_backward",
    "check_dtype_is_kept",
    "check_non_contiguous_inputs",
    "check_read_only_inputs",
    "check_inputs_not_modified",
]


# =============================================================================
# Input generators: (rng, dtype) -> a NumPy array
# =============================================================================
InputSpec = Callable[[np.random.Generator, Any], np.ndarray]


def normal(shape, scale: float = 1.0, shift: float = 0.0) -> InputSpec:
    """Standard normal values times ``scale`` plus ``shift``, in the case's float dtype."""
    return lambda rng, dtype: np.asarray(rng.standard_normal(shape) * scale + shift, dtype=dtype)


def uniform(shape, low: float, high: float) -> InputSpec:
    """Uniform values in [low, high), in the case's float dtype."""
    return lambda rng, dtype: np.asarray(rng.uniform(low, high, shape), dtype=dtype)


def away_from_zero(shape, low: float = 0.1, high: float = 2.0) -> InputSpec:
    """Random signs, magnitudes in [low, high): no value near a kink at 0."""
    return lambda rng, dtype: np.asarray(rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape), dtype=dtype)


def distinct(shape, gap: float = 0.1) -> InputSpec:
    """A shuffled, centred ramp: distinct values ``gap`` apart, so no max, min
    or max pooling has a tie within reach of a finite difference."""

    def make(rng, dtype):
        size = int(np.prod(shape))
        return ((rng.permutation(size) - size / 2) * gap).reshape(shape).astype(dtype)

    return make


def integers(shape, high: int, low: int = 0, dtype=np.int64) -> InputSpec:
    """Integers in [low, high) (labels, ids): not differentiable, whatever the case's dtype."""
    return lambda rng, _: np.asarray(rng.integers(low, high, shape), dtype=dtype)


def fixed(values, dtype=None) -> InputSpec:
    """These values: in the case's float dtype, or in ``dtype`` when given."""
    return lambda rng, case_dtype: np.array(values, dtype=dtype or case_dtype)


def on_backend_of(x, index):
    """``index`` (a NumPy array, or a tuple holding some) moved to the backend of
    ``x``, for ops that take index arrays next to their inputs."""
    xp = get_array_module(x)
    if isinstance(index, tuple):
        return tuple(xp.asarray(i) if isinstance(i, np.ndarray) else i for i in index)
    return xp.asarray(index) if isinstance(index, np.ndarray) else index


def public_functions() -> dict:
    """Every function that ``import dezero.functions as F`` exposes, by name."""
    return {name: obj for name, obj in vars(F).items() if not name.startswith("_") and inspect.isfunction(obj)}


# =============================================================================
# The case
# =============================================================================
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
FORWARD_TOL = {_F32: (1e-5, 1e-6), _F64: (1e-12, 1e-12)}
GRAD_TOL = {_F32: (1e-2, 1e-2), _F64: (1e-4, 1e-6)}
# float32 results of the graph against float64 ones of the same values: the
# float32 rounding of every intermediate, nothing coarser.
FLOAT32_AGREEMENT_TOL = (1e-4, 1e-5)


def _per_dtype(defaults: dict, overrides: Mapping) -> dict:
    merged = dict(defaults)
    merged.update({np.dtype(k): v for k, v in overrides.items()})
    return merged


@dataclass(frozen=True, eq=False)
class OpCase:
    """One call of one op, declared once and checked every way.

    Parameters
    ----------
    name
        The test id, e.g. ``"sum(axis=(0, 2), keepdims=True)"``; it also seeds the inputs.
    fn
        Called as ``fn(*inputs, **kwargs)``: differentiable inputs as Variables,
        the others (labels, ids, running statistics) as raw arrays.
    inputs
        One generator per input (see :func:`normal` and friends).
    reference
        ``reference(*inputs, **kwargs)`` on NumPy arrays (floats in float64)
        returns the expected output, computed independently of dezero: a closed
        form or plain NumPy (loops are fine at these sizes). None only with
        ``skip_forward``.
    op
        The public function of ``dezero.functions`` under test; defaults to
        ``fn``. The coverage guard counts cases by it.
    differentiable_inputs
        Positions of the inputs to differentiate; default every float input.
    forward_tol, grad_tol, double_grad_tol
        ``{dtype: (rtol, atol)}`` overrides of the defaults.
    float32_tol
        ``(rtol, atol)`` of float32 results against float64 ones of the same
        values (default ``FLOAT32_AGREEMENT_TOL``).
    eps
        ``{dtype: step}`` of the central differences (default: gradient_check's).
    output_dtype
        The output's dtype given the input dtype, for ops that change it (astype).
    kinks
        Input values where the op is not differentiable (0 for relu, the bounds
        of clip). The inputs must keep more than two steps away from them: the
        harness refuses a case whose inputs come closer.
    skip_forward, skip_double_backward
        The reason, when that check does not apply.
    """

    name: str
    fn: Callable[..., Variable]
    inputs: Sequence[InputSpec]
    reference: Optional[Callable[..., Any]]
    op: Optional[Callable] = None
    kwargs: Mapping = field(default_factory=dict)
    differentiable_inputs: Optional[tuple] = None
    forward_tol: Mapping = field(default_factory=dict)
    grad_tol: Mapping = field(default_factory=dict)
    double_grad_tol: Mapping = field(default_factory=dict)
    eps: Mapping = field(default_factory=dict)
    float32_tol: tuple = FLOAT32_AGREEMENT_TOL
    output_dtype: Optional[Callable[[np.dtype], Any]] = None
    kinks: tuple = ()
    skip_forward: Optional[str] = None
    skip_double_backward: Optional[str] = None

    def __post_init__(self):
        if (self.reference is None) == (self.skip_forward is None):
            raise ValueError(f"OpCase {self.name!r}: give a reference, or skip_forward with the reason")
        op = self.op if self.op is not None else self.fn
        if not any(op is f for f in public_functions().values()):
            raise ValueError(
                f"OpCase {self.name!r}: op must be a public function of dezero.functions "
                f"(pass op= when fn is a lambda), got {op!r}"
            )

    def __repr__(self) -> str:  # keeps pytest's failure headers short
        return f"OpCase({self.name!r})"

    @property
    def tested_function(self) -> Callable:
        return self.op if self.op is not None else self.fn

    def seed(self, salt: str = "") -> int:
        return zlib.crc32((self.name + salt).encode())

    def tolerance(self, kind: str, dtype) -> dict:
        table = {
            "forward": (FORWARD_TOL, self.forward_tol),
            "grad": (GRAD_TOL, self.grad_tol),
            "double": (_per_dtype(GRAD_TOL, self.grad_tol), self.double_grad_tol),
        }[kind]
        rtol, atol = _per_dtype(*table)[np.dtype(dtype)]
        return {"rtol": rtol, "atol": atol}


# =============================================================================
# Running a case
# =============================================================================
def _make_inputs(case: OpCase, dtype, xp) -> list:
    rng = np.random.default_rng(case.seed())
    return [xp.asarray(spec(rng, dtype)) for spec in case.inputs]


def _differentiable(case: OpCase, arrays) -> tuple:
    if case.differentiable_inputs is not None:
        return tuple(case.differentiable_inputs)
    return tuple(i for i, a in enumerate(arrays) if a.dtype.kind == "f")


def _call(case: OpCase, arrays, positions, replacements):
    """``fn`` with the inputs at ``positions`` replaced (by Variables)."""
    args = list(arrays)
    for i, r in zip(positions, replacements):
        args[i] = r
    return case.fn(*args, **case.kwargs)


def _forward(case: OpCase, arrays) -> Variable:
    """``fn`` on fresh Variables of the differentiable inputs."""
    positions = _differentiable(case, arrays)
    return _call(case, arrays, positions, [Variable(arrays[i]) for i in positions])


def _random_like(rng, shape, dtype, xp):
    return xp.asarray(rng.standard_normal(shape).astype(dtype))


def _upstream(case: OpCase, y: Variable, arrays, positions):
    """The upstream gradient gy and the weights w that contract the first gradients."""
    xp = get_array_module(y.data)
    rng = np.random.default_rng(case.seed("upstream"))
    gy = _random_like(rng, y.shape, y.dtype, xp)
    ws = [_random_like(rng, arrays[i].shape, arrays[i].dtype, xp) for i in positions]
    return gy, ws


def _contract(gxs, ws):
    total = None
    for g, w in zip(gxs, ws):
        if g is not None:
            term = (g * w).sum()
            total = term if total is None else total + term
    return total


def _run(case: OpCase, arrays, gy=None, ws=None) -> dict:
    """Forward, backward (with gy) and double backward (of sum(w * gx)) on fresh
    Variables; the results as arrays."""
    positions = _differentiable(case, arrays)
    xs = [Variable(arrays[i]) for i in positions]
    with using_config("enable_backprop", True):
        y = _call(case, arrays, positions, xs)
    results = {"y": y.data}
    if not positions or gy is None:
        return results
    double = case.skip_double_backward is None
    # gy as a Variable: the second pass then also runs the backward of every op
    # of the backward with respect to gy (for a linear op, its only second-order path).
    gy = Variable(gy)
    gxs = grad(y, xs, grad_outputs=gy, create_graph=double)
    results.update({f"grad of input {i}": g.data for i, g in zip(positions, gxs) if g is not None})
    total = _contract(gxs, ws) if double else None
    if total is not None:
        *ggxs, ggy = grad(total, xs + [gy])
        results.update({f"second-order grad of input {i}": g.data for i, g in zip(positions, ggxs) if g is not None})
        if ggy is not None:
            results["second-order grad of gy"] = ggy.data
    return results


def _assert_same_results(got: dict, expected: dict, tol: dict, what: str) -> None:
    assert got.keys() == expected.keys(), f"{what}: results {sorted(got)} instead of {sorted(expected)}"
    for key in expected:
        np.testing.assert_allclose(as_numpy(got[key]), as_numpy(expected[key]), **tol, err_msg=f"{what}: {key} differs")


def _skip_unless_differentiable(case: OpCase, arrays) -> tuple:
    positions = _differentiable(case, arrays)
    if not positions:
        pytest.skip(f"{case.name} has no differentiable input")
    return positions


def _eps(case: OpCase, dtype) -> Optional[float]:
    """The case's finite-difference step for dtype; None: gradient_check's default."""
    return {np.dtype(k): v for k, v in case.eps.items()}.get(np.dtype(dtype))


def _check_kinks(case: OpCase, arrays, positions, dtype) -> None:
    step = _eps(case, dtype) or (1e-2 if np.dtype(dtype) == _F32 else 1e-4)
    for i in positions:
        values = as_numpy(arrays[i]).astype(np.float64)
        for kink in case.kinks:
            gap = float(np.min(np.abs(values - kink))) if values.size else np.inf
            if gap <= 2 * step:
                raise ValueError(
                    f"OpCase {case.name!r}: input {i} comes within {gap:.3g} of the kink "
                    f"at {kink}, closer than two finite-difference steps ({step}); "
                    "draw the inputs away from it"
                )


# =============================================================================
# The checks (plain functions, so the harness can be tested on broken ops)
# =============================================================================
def check_forward(case: OpCase, dtype, xp) -> None:
    if case.skip_forward:
        pytest.skip(case.skip_forward)
    arrays = _make_inputs(case, dtype, xp)
    y = _forward(case, arrays)
    assert isinstance(y, Variable), f"{case.name}: returned {type(y).__name__}, not a Variable"
    as_float64 = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in map(as_numpy, arrays)]
    expected = np.asarray(case.reference(*as_float64, **case.kwargs))
    assert y.shape == expected.shape, f"{case.name}: output shape {y.shape}, reference {expected.shape}"
    np.testing.assert_allclose(
        as_numpy(y.data),
        expected,
        **case.tolerance("forward", dtype),
        err_msg=f"{case.name}: forward differs from the reference",
    )


def check_backward(case: OpCase, dtype, xp) -> None:
    arrays = _make_inputs(case, dtype, xp)
    positions = _skip_unless_differentiable(case, arrays)
    _check_kinks(case, arrays, positions, dtype)

    def f(*xs):
        return _call(case, arrays, positions, xs)

    gradient_check(f, *[arrays[i] for i in positions], eps=_eps(case, dtype), **case.tolerance("grad", dtype))


def check_double_backward(case: OpCase, dtype, xp) -> None:
    arrays = _make_inputs(case, dtype, xp)
    positions = _skip_unless_differentiable(case, arrays)
    if case.skip_double_backward:
        pytest.skip(case.skip_double_backward)
    _check_kinks(case, arrays, positions, dtype)
    gy, ws = _upstream(case, _forward(case, arrays), arrays, positions)

    def contracted_first_gradients(*xs_and_gy):
        *xs, g = xs_and_gy
        # numerical_grad evaluates under no_grad; the first gradient needs a graph.
        with using_config("enable_backprop", True):
            y = _call(case, arrays, positions, xs)
            gxs = grad(y, list(xs), grad_outputs=g, create_graph=True)
        total = _contract(gxs, ws)
        assert total is not None, f"{case.name}: no input has a gradient"
        return total

    # The first gradients of a linear op do not depend on its inputs at all.
    gradient_check(
        contracted_first_gradients,
        *[arrays[i] for i in positions],
        gy,
        eps=_eps(case, dtype),
        allow_independent=True,
        **case.tolerance("double", dtype),
    )


def _graph_dtypes(roots) -> set:
    """The float dtypes of every Variable in the graphs that produced ``roots``."""
    seen, found, stack = set(), set(), [r for r in roots if r is not None]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if v.data is not None and v.data.dtype.kind == "f":
            found.add(v.data.dtype)
        if v.creator is not None:
            stack.extend(v.creator.inputs)
    return found


def check_dtype_is_kept(case: OpCase, dtype, xp) -> None:
    dtype = np.dtype(dtype)
    arrays = _make_inputs(case, dtype, xp)
    positions = _differentiable(case, arrays)
    xs = [Variable(arrays[i]) for i in positions]
    y = _call(case, arrays, positions, xs)
    expected = np.dtype(case.output_dtype(dtype)) if case.output_dtype else dtype
    assert y.dtype == expected, f"{case.name}: {dtype} inputs give a {y.dtype} output, expected {expected}"
    if positions:
        gy, _ = _upstream(case, y, arrays, positions)
        # gy as a Variable, so that the graph records every op of the backward,
        # not only those that involve x.
        gxs = grad(y, xs, grad_outputs=Variable(gy), create_graph=True)
        for i, g in zip(positions, gxs):
            if g is not None:
                assert g.dtype == arrays[i].dtype, (
                    f"{case.name}: the gradient of input {i} ({arrays[i].dtype}) is {g.dtype}"
                )
        if case.output_dtype is None:
            # The engine casts a gradient of the wrong dtype back, which would hide
            # a backward that computes in float64; its graph does not hide it.
            dtypes = _graph_dtypes(gxs)
            assert dtypes <= {dtype}, (
                f"{case.name}: the gradient graph of {dtype} inputs holds {sorted(map(str, dtypes - {dtype}))} values"
            )
    if dtype != _F32:
        return
    # The same values in float64: float32 may round, not go wrong.
    gy, ws = _upstream(case, y, arrays, positions)
    wide = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
    rtol, atol = case.float32_tol
    _assert_same_results(
        _run(case, arrays, gy, ws),
        _run(case, wide, gy.astype(np.float64), [w.astype(np.float64) for w in ws]),
        {"rtol": rtol, "atol": atol},
        f"{case.name}: float32 against float64",
    )


def _non_contiguous(a):
    """The same values as a strided view into a larger buffer whose gaps hold
    NaN (the largest value for integers): an op that ignores the strides reads them."""
    axes = [i for i, n in enumerate(a.shape) if n > 1]
    if not axes:
        return None
    xp = get_array_module(a)
    axis = axes[-1]
    shape = list(a.shape)
    shape[axis] *= 2
    if a.dtype.kind == "f":
        filler = np.nan
    elif a.dtype.kind in "iu":
        filler = np.iinfo(a.dtype).max  # an id or label out of any range
    else:
        filler = True
    buffer = xp.full(shape, filler, dtype=a.dtype)
    index = [slice(None)] * a.ndim
    index[axis] = slice(None, None, 2)
    view = buffer[tuple(index)]
    view[...] = a
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    return view


def check_non_contiguous_inputs(case: OpCase, dtype, xp) -> None:
    arrays = _make_inputs(case, dtype, xp)
    strided = [_non_contiguous(a) for a in arrays]
    if all(s is None for s in strided):
        pytest.skip(f"{case.name}: no input has an axis longer than 1 to stride")
    strided = [a if s is None else s for a, s in zip(arrays, strided)]
    positions = _differentiable(case, arrays)
    gy, ws = _upstream(case, _forward(case, arrays), arrays, positions)
    gy_strided = _non_contiguous(gy)
    gy_strided = gy if gy_strided is None else gy_strided
    _assert_same_results(
        _run(case, strided, gy_strided, ws),
        _run(case, arrays, gy, ws),
        case.tolerance("forward", dtype),
        f"{case.name}: non-contiguous inputs",
    )


def _read_only_copy(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def check_read_only_inputs(case: OpCase, dtype, xp) -> None:
    if xp is not np:
        pytest.skip("CuPy arrays cannot be made read-only")
    arrays = _make_inputs(case, dtype, xp)
    positions = _differentiable(case, arrays)
    gy, ws = _upstream(case, _forward(case, arrays), arrays, positions)
    frozen = _run(case, [_read_only_copy(a) for a in arrays], _read_only_copy(gy), [_read_only_copy(w) for w in ws])
    _assert_same_results(
        frozen, _run(case, arrays, gy, ws), case.tolerance("forward", dtype), f"{case.name}: read-only inputs"
    )


def check_inputs_not_modified(case: OpCase, dtype, xp) -> None:
    arrays = _make_inputs(case, dtype, xp)
    positions = _differentiable(case, arrays)
    gy, ws = _upstream(case, _forward(case, arrays), arrays, positions)
    before = [as_numpy(a).copy() for a in arrays]
    gy_before = as_numpy(gy).copy()
    _run(case, arrays, gy, ws)
    for i, (a, b) in enumerate(zip(arrays, before)):
        np.testing.assert_array_equal(as_numpy(a), b, err_msg=f"{case.name}: input {i} was modified")
    if positions:
        np.testing.assert_array_equal(
            as_numpy(gy), gy_before, err_msg=f"{case.name}: the backward modified its upstream gradient"
        )


# =============================================================================
# The test class
# =============================================================================
class OpTests:
    """Derive a ``Test...`` class and set ``cases``: every case runs every check
    for every dtype and backend (the ``dtype`` and ``xp`` fixtures of conftest)."""

    cases: Sequence[OpCase] = ()

    def pytest_generate_tests(self, metafunc):
        if "case" in metafunc.fixturenames:
            names = [c.name for c in self.cases]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{type(self).__name__}: case names must be unique, repeated: {duplicates}")
            metafunc.parametrize("case", self.cases, ids=names)

    def test_forward(self, case, dtype, xp):
        check_forward(case, dtype, xp)

    def test_backward(self, case, dtype, xp):
        check_backward(case, dtype, xp)

    def test_double_backward(self, case, dtype, xp):
        check_double_backward(case, dtype, xp)

    def test_dtype_is_kept(self, case, dtype, xp):
        check_dtype_is_kept(case, dtype, xp)

    def test_non_contiguous_inputs(self, case, dtype, xp):
        check_non_contiguous_inputs(case, dtype, xp)

    def test_read_only_inputs(self, case, dtype, xp):
        check_read_only_inputs(case, dtype, xp)

    def test_inputs_not_modified(self, case, dtype, xp):
        check_inputs_not_modified(case, dtype, xp)
