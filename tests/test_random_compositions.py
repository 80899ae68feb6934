"""Random compositions of ops, compared with PyTorch: values, first and
second derivatives.

Hypothesis draws a small program: input arrays (float64, shapes of up to 4
axes) and a chain of up to 10 ops from the list below, each applied to the
latest result (or, now and then, an earlier one), with second operands that
broadcast against the first. The program runs in dezero and in PyTorch, and
we compare

* the values of every result ``y_k``,
* the gradients of ``s = sum_k sum(y_k * w_k)`` (random ``w_k``, every result
  counts, so no branch of the program goes unchecked) w.r.t. every input and
  every ``w_k``, taken with
  ``create_graph=True`` (``dezero.grad`` / ``torch.autograd.grad``),
* the gradients of ``s2 = sum_i sum(g_i * v_i)`` (random ``v_i``), the
  second derivatives contracted with ``v``.

Ops: + - * / (a denominator made positive as ``b*b + 0.5``), ** (a positive
base ``a*a + 0.5``, scalar or array exponent), scalar +, *, - and / from
either side, neg, exp (of values below 4), log (of ``a*a + 0.5``), sin, cos,
tanh, sigmoid, relu (of values away from 0), softmax / log_softmax along an
axis, sum / mean / max (no ties among the reduced values) over an axis, a
tuple of axes or all of them, with or without keepdims, reshape, transpose,
broadcast_to, sum_to, matmul (1-D and n-D operands) and get_item with basic
indexes (ints, slices with steps, None, Ellipsis). Kinks and ties are kept
away from, because there the two frameworks may pick different (equally valid)
subgradients.

A failure prints the program as a listing that can be pasted into a script:
every step with its arguments and shapes, and the seed of the input values
(input k is ``np.random.default_rng([seed, k]).standard_normal(shape)``).

Profiles
--------
* default (CI): a fixed set of examples (``derandomize=True``), a few seconds.
* ``HYPOTHESIS_PROFILE=long``: many more examples, freshly drawn on every run,
  for developers hunting for new failures::

      HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_random_compositions.py
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import dezero  # noqa: E402
import dezero.functions as F  # noqa: E402
from dezero import Variable  # noqa: E402

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
PROFILES = {
    "ci": settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=_HEALTH, print_blob=True),
    "long": settings(max_examples=5000, deadline=None, suppress_health_check=_HEALTH, print_blob=True),
}
_profile_name = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if _profile_name not in PROFILES:
    raise ValueError(f"HYPOTHESIS_PROFILE={_profile_name!r}: this module knows {sorted(PROFILES)}")
PROFILE = PROFILES[_profile_name]

MAX_SIZE = 120  # elements of any intermediate result
MAX_MAGNITUDE = 1e4  # values beyond this make a step be skipped (exp of exp...)
VALUE_TOL = 1e-9
GRAD_TOL = 1e-7


# =============================================================================
# Ops: how each runs in dezero and in PyTorch
# =============================================================================
@dataclass(frozen=True)
class Op:
    name: str
    dz: Callable  # dezero Variables (+ keyword arguments) -> Variable
    th: Callable  # torch tensors (+ the same keyword arguments) -> tensor


def _th_sum(x, axis, keepdims):
    return x.sum() if axis is None and not keepdims else x.sum(dim=_dims(axis, x.ndim), keepdim=keepdims)


def _th_mean(x, axis, keepdims):
    return x.mean() if axis is None and not keepdims else x.mean(dim=_dims(axis, x.ndim), keepdim=keepdims)


def _th_max(x, axis, keepdims):
    return x.amax(dim=_dims(axis, x.ndim), keepdim=keepdims)


def _dims(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return axis


def _th_sum_to(x, shape):
    lead = x.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
    y = x.sum(dim=dims, keepdim=True) if dims else x
    return y.reshape(shape)


OPS = {
    op.name: op
    for op in [
        Op("add", lambda a, b: F.add(a, b), lambda a, b: a + b),
        Op("sub", lambda a, b: F.sub(a, b), lambda a, b: a - b),
        Op("mul", lambda a, b: F.mul(a, b), lambda a, b: a * b),
        Op("div", lambda a, b: F.div(a, b), lambda a, b: a / b),
        Op("pow", lambda a, b: F.pow(a, b), lambda a, b: a**b),
        Op("pow_scalar", lambda a, c: a**c, lambda a, c: a**c),
        Op("add_scalar", lambda a, c: a + c, lambda a, c: a + c),
        Op("mul_scalar", lambda a, c: c * a, lambda a, c: c * a),
        Op("rsub_scalar", lambda a, c: c - a, lambda a, c: c - a),
        Op("rdiv_scalar", lambda a, c: c / a, lambda a, c: c / a),
        Op("neg", lambda a: -a, lambda a: -a),
        Op("exp", F.exp, torch.exp),
        Op("log", F.log, torch.log),
        Op("sin", F.sin, torch.sin),
        Op("cos", F.cos, torch.cos),
        Op("tanh", F.tanh, torch.tanh),
        Op("sigmoid", F.sigmoid, torch.sigmoid),
        Op("relu", F.relu, torch.relu),
        Op("softmax", lambda a, axis: F.softmax(a, axis=axis), lambda a, axis: torch.softmax(a, dim=axis)),
        Op("log_softmax", lambda a, axis: F.log_softmax(a, axis=axis), lambda a, axis: torch.log_softmax(a, dim=axis)),
        Op("sum", lambda a, axis, keepdims: F.sum(a, axis=axis, keepdims=keepdims), _th_sum),
        Op("mean", lambda a, axis, keepdims: F.mean(a, axis=axis, keepdims=keepdims), _th_mean),
        Op("max", lambda a, axis, keepdims: F.max(a, axis=axis, keepdims=keepdims), _th_max),
        Op("reshape", lambda a, shape: F.reshape(a, shape), lambda a, shape: a.reshape(shape)),
        Op(
            "transpose",
            lambda a, axes: F.transpose(a, axes),
            lambda a, axes: a.permute(tuple(axes) if axes is not None else tuple(range(a.ndim - 1, -1, -1))),
        ),
        Op("broadcast_to", lambda a, shape: F.broadcast_to(a, shape), lambda a, shape: a.broadcast_to(shape)),
        Op("sum_to", lambda a, shape: F.sum_to(a, shape), _th_sum_to),
        Op("matmul", lambda a, b: F.matmul(a, b), torch.matmul),
        Op("get_item", lambda a, index: a[index], lambda a, index: a[index]),
    ]
}


# =============================================================================
# Programs
# =============================================================================
@dataclass
class Step:
    op: str  # a key of OPS, or "input"
    args: tuple  # node numbers
    kwargs: dict
    shape: tuple  # of the result

    def line(self, k: int) -> str:
        if self.op == "input":
            return f"x{k} = input{self.shape}"
        operands = [f"x{i}" for i in self.args] + [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"x{k} = {self.op}({', '.join(operands)})".ljust(60) + f"# -> {self.shape}"


@dataclass
class Program:
    seed: int
    steps: list = field(default_factory=list)

    def input_value(self, k: int) -> np.ndarray:
        return np.random.default_rng([self.seed, k]).standard_normal(self.steps[k].shape)

    def inputs(self) -> list:
        return [k for k, step in enumerate(self.steps) if step.op == "input"]

    def run(self, leaf: Callable, ops_of: str) -> list:
        """Every node's value; ``leaf(k, array)`` makes input k a framework value."""
        nodes: list = []
        for k, step in enumerate(self.steps):
            if step.op == "input":
                nodes.append(leaf(k, self.input_value(k)))
            else:
                fn = getattr(OPS[step.op], ops_of)
                nodes.append(fn(*(nodes[i] for i in step.args), **step.kwargs))
        return nodes

    def __repr__(self) -> str:
        lines = [
            f"Program(seed={self.seed}): input k is np.random.default_rng([{self.seed}, k]).standard_normal(shape)"
        ]
        lines += ["    " + step.line(k) for k, step in enumerate(self.steps)]
        return "\n".join(lines)


class _Builder:
    """Draws a program step by step, running it in dezero as it goes so that
    each step can look at the values it will be applied to."""

    def __init__(self, draw, seed: int):
        self.draw = draw
        self.program = Program(seed)
        self.values: list = []  # numpy value of every node

    # --- nodes --------------------------------------------------------------
    def add_input(self, shape: tuple) -> int:
        k = len(self.program.steps)
        self.program.steps.append(Step("input", (), {}, tuple(shape)))
        self.values.append(self.program.input_value(k))
        return k

    def apply(self, op: str, args: tuple, **kwargs):
        """Append ``op`` if its result is small and finite; its node number, or None."""
        with dezero.no_grad():
            out = OPS[op].dz(*(Variable(self.values[i]) for i in args), **kwargs)
        value = np.asarray(out.data)
        if (
            value.size > MAX_SIZE
            or value.size == 0
            or not np.all(np.isfinite(value))
            or np.abs(value).max() > MAX_MAGNITUDE
        ):
            return None
        self.program.steps.append(Step(op, tuple(args), kwargs, value.shape))
        self.values.append(value)
        return len(self.values) - 1

    def positive(self, i: int):
        """A node with the values of i made positive: i*i + 0.5."""
        square = self.apply("mul", (i, i))
        return None if square is None else self.apply("add_scalar", (square,), c=0.5)

    # --- drawing shapes -----------------------------------------------------
    def shape(self, min_ndim: int = 0, max_ndim: int = 3) -> tuple:
        ndim = self.draw(st.integers(min_ndim, max_ndim))
        return tuple(self.draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))

    def broadcasting_shape(self, shape: tuple) -> tuple:
        """A shape that broadcasts with ``shape``: a suffix of it with some axes
        set to 1, or all of it and a new leading axis (then the result grows)."""
        keep = self.draw(st.integers(0, len(shape)))
        suffix = [1 if self.draw(st.booleans()) else s for s in shape[len(shape) - keep :]]
        grow = keep == len(shape) < 4 and self.draw(st.integers(0, 2)) == 0
        return tuple(([self.draw(st.integers(1, 3))] if grow else []) + suffix)

    def axis_arg(self, ndim: int):
        """None, an int or a tuple of distinct axes (negative ones included)."""
        if ndim == 0:
            return None
        kind = self.draw(st.sampled_from(["none", "int", "tuple"]))
        if kind == "none":
            return None
        if kind == "int":
            return self.draw(st.integers(-ndim, ndim - 1))
        axes = self.draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        return tuple(a - ndim if self.draw(st.booleans()) else a for a in axes)

    # --- one step -----------------------------------------------------------
    def second_operand(self, i: int) -> int:
        """Another node that broadcasts with node i: an earlier one, or a new input."""
        shape = self.values[i].shape
        others = [j for j in range(len(self.values)) if j != i and _broadcastable(self.values[j].shape, shape)]
        if others and self.draw(st.integers(0, 2)) == 0:
            return self.draw(st.sampled_from(others))
        return self.add_input(self.broadcasting_shape(shape))

    def step(self, i: int) -> None:
        x = self.values[i]
        op = self.draw(st.sampled_from(sorted(OPS)))
        if op in ("add", "sub", "mul"):
            j = self.second_operand(i)
            self.apply(op, (i, j) if self.draw(st.booleans()) else (j, i))
        elif op == "div":
            j = self.positive(self.second_operand(i))
            if j is not None:
                self.apply(op, (i, j))
        elif op == "pow":
            base = self.positive(i)
            exponent = self.apply("tanh", (self.second_operand(i),))  # bounded exponents
            if base is not None and exponent is not None:
                self.apply(op, (base, exponent))
        elif op == "pow_scalar":
            base = self.positive(i)
            if base is not None:
                self.apply(op, (base,), c=self.draw(st.sampled_from([2, 3, 0.5, -1, -1.5, 1.7])))
        elif op in ("add_scalar", "mul_scalar", "rsub_scalar"):
            self.apply(op, (i,), c=self.draw(st.sampled_from([-1.5, 0.5, 2.0, 3])))
        elif op == "rdiv_scalar":
            j = self.positive(i)
            if j is not None:
                self.apply(op, (j,), c=self.draw(st.sampled_from([-1.5, 2.0])))
        elif op == "log":
            j = self.positive(i)
            if j is not None:
                self.apply(op, (j,))
        elif op == "exp":
            if x.max() < 4:
                self.apply(op, (i,))
        elif op == "relu":
            if np.abs(x).min() > 1e-3:  # no value on (or rounding across) the kink
                self.apply(op, (i,))
        elif op in ("neg", "sin", "cos", "tanh", "sigmoid"):
            self.apply(op, (i,))
        elif op in ("softmax", "log_softmax"):
            if x.ndim >= 1:
                self.apply(op, (i,), axis=self.draw(st.integers(-x.ndim, x.ndim - 1)))
        elif op in ("sum", "mean", "max"):
            axis = self.axis_arg(x.ndim)
            if op != "max" or _no_ties(x, axis):
                self.apply(op, (i,), axis=axis, keepdims=self.draw(st.booleans()))
        elif op == "reshape":
            self.apply(op, (i,), shape=self.new_shape(x.shape))
        elif op == "transpose":  # on 0-d and 1-d inputs too (trivial permutations)
            axes = None if self.draw(st.integers(0, 3)) == 0 else tuple(self.draw(st.permutations(range(x.ndim))))
            if axes and self.draw(st.booleans()):
                axes = tuple(a - x.ndim for a in axes)  # negative axes
            self.apply(op, (i,), axes=axes)
        elif op == "broadcast_to":
            self.apply(op, (i,), shape=self.larger_shape(x.shape))
        elif op == "sum_to":
            self.apply(op, (i,), shape=self.smaller_shape(x.shape))
        elif op == "matmul":
            self.matmul(i)
        elif op == "get_item":
            if x.ndim >= 1:
                self.apply(op, (i,), index=self.index(x.shape))

    def new_shape(self, shape: tuple) -> tuple:
        size = int(np.prod(shape))
        kind = self.draw(st.sampled_from(["flat", "insert1", "merge", "split", "minus1"]))
        if kind == "flat" or len(shape) == 0:
            return (size,)
        if kind == "insert1" and len(shape) < 4:
            at = self.draw(st.integers(0, len(shape)))
            return shape[:at] + (1,) + shape[at:]
        if kind == "merge" and len(shape) >= 2:
            at = self.draw(st.integers(0, len(shape) - 2))
            return shape[:at] + (shape[at] * shape[at + 1],) + shape[at + 2 :]
        if kind == "split" and len(shape) < 4:
            at = self.draw(st.integers(0, len(shape) - 1))
            factors = [f for f in range(2, shape[at]) if shape[at] % f == 0]
            if factors:
                f = self.draw(st.sampled_from(factors))
                return shape[:at] + (f, shape[at] // f) + shape[at + 1 :]
        return (-1,) + shape[1:] if shape else (size,)

    def larger_shape(self, shape: tuple) -> tuple:
        expanded = tuple(self.draw(st.integers(2, 3)) if s == 1 and self.draw(st.booleans()) else s for s in shape)
        if len(shape) < 4 and self.draw(st.booleans()):
            expanded = (self.draw(st.integers(1, 3)),) + expanded
        return expanded

    def smaller_shape(self, shape: tuple) -> tuple:
        drop = self.draw(st.integers(0, len(shape)))
        return tuple(1 if self.draw(st.booleans()) else s for s in shape[drop:])

    def matmul(self, i: int) -> None:
        shape = self.values[i].shape
        if len(shape) == 0:
            return
        m = self.draw(st.integers(1, 3))
        if self.draw(st.booleans()) or len(shape) == 1:  # x @ W, W of shape (k, m) or (k,)
            w_shape = (shape[-1], m) if self.draw(st.integers(0, 2)) else (shape[-1],)
            self.apply("matmul", (i, self.add_input(w_shape)))
        else:  # A @ x, A of shape (m, k) or (k,)
            a_shape = (m, shape[-2]) if self.draw(st.integers(0, 2)) else (shape[-2],)
            self.apply("matmul", (self.add_input(a_shape), i))

    def index(self, shape: tuple) -> tuple:
        items: list = []
        for size in shape:
            kind = self.draw(st.sampled_from(["all", "int", "slice", "slice"]))
            if kind == "int":
                items.append(self.draw(st.integers(-size, size - 1)))
            elif kind == "slice":
                start = self.draw(st.integers(0, size - 1))
                stop = self.draw(st.integers(start + 1, size))
                items.append(slice(start, stop, self.draw(st.integers(1, 2))))
            else:
                items.append(slice(None))
        extra = self.draw(st.sampled_from(["", "None", "Ellipsis"]))
        if extra == "None":
            items.insert(self.draw(st.integers(0, len(items))), None)
        elif extra == "Ellipsis" and items:
            at = self.draw(st.integers(0, len(items) - 1))
            items = items[:at] + [Ellipsis] + items[at + 1 :]  # stands for that one axis
        return tuple(items)


def _broadcastable(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _no_ties(x: np.ndarray, axis) -> bool:
    """True if the values each max reduces over are distinct (by a margin)."""
    if x.ndim == 0:
        return True
    axes = tuple(range(x.ndim)) if axis is None else tuple(a % x.ndim for a in np.atleast_1d(axis))
    kept = [a for a in range(x.ndim) if a not in axes]
    groups = np.sort(x.transpose(kept + list(axes)).reshape(-1, int(np.prod([x.shape[a] for a in axes]))), axis=1)
    return groups.shape[1] < 2 or bool(np.diff(groups, axis=1).min() > 1e-6)


@st.composite
def programs(draw) -> Program:
    builder = _Builder(draw, draw(st.integers(0, 2**32 - 1)))
    builder.add_input(builder.shape(min_ndim=1))
    if draw(st.booleans()):
        builder.add_input(builder.shape())
    for _ in range(10 - draw(st.integers(0, 8))):  # mostly long chains: Hypothesis favours small draws
        last = len(builder.values) - 1
        # Mostly the latest result, so that the ops compose into a chain.
        i = last if draw(st.integers(0, 3)) else draw(st.integers(0, last))
        builder.step(i)
    return builder.program


# =============================================================================
# The comparison
# =============================================================================
def _close(ours, theirs, tol: float, what: str, program: Program) -> None:
    theirs = theirs.detach().numpy() if theirs is not None else None
    if theirs is None and ours is None:
        return
    shape = (ours if ours is not None else theirs).shape
    ours = np.zeros(shape) if ours is None else np.asarray(ours)
    theirs = np.zeros(shape) if theirs is None else theirs
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    if ours.shape != theirs.shape or not np.allclose(ours, theirs, rtol=tol, atol=tol * scale):
        worst = np.abs(ours - theirs).max() if ours.shape == theirs.shape else "shapes differ"
        raise AssertionError(
            f"{what} differs from PyTorch (shape {ours.shape} vs {theirs.shape}, "
            f"largest difference {worst})\n{program!r}"
        )


def compare_with_torch(program: Program) -> None:
    rng = np.random.default_rng([program.seed, 10**6])
    inputs = program.inputs()

    dz_leaves: dict = {}
    th_leaves: dict = {}

    def dz_leaf(k, a):
        dz_leaves[k] = Variable(a)
        return dz_leaves[k]

    def th_leaf(k, a):
        th_leaves[k] = torch.tensor(a, requires_grad=True)
        return th_leaves[k]

    nodes_dz = program.run(dz_leaf, "dz")
    nodes_th = program.run(th_leaf, "th")
    results = [k for k in range(len(program.steps)) if k not in inputs]
    for k in results:
        _close(nodes_dz[k].data, nodes_th[k], VALUE_TOL, f"the value of x{k}", program)

    # Every result counts (not only the last one), each weighted by its own w.
    ws = {k: rng.standard_normal(program.steps[k].shape) for k in results}
    ws_dz = {k: Variable(w) for k, w in ws.items()}
    ws_th = {k: torch.tensor(w, requires_grad=True) for k, w in ws.items()}
    s_dz = sum((F.sum(nodes_dz[k] * ws_dz[k]) for k in results), Variable(np.array(0.0)))
    s_th = sum((nodes_th[k] * ws_th[k]).sum() for k in results)
    xs_dz = [dz_leaves[k] for k in inputs] + [ws_dz[k] for k in results]
    xs_th = [th_leaves[k] for k in inputs] + [ws_th[k] for k in results]
    g_dz = dezero.grad(s_dz, xs_dz, create_graph=True)
    g_th = torch.autograd.grad(s_th, xs_th, create_graph=True, allow_unused=True)
    names = [f"x{k}" for k in inputs] + [f"w{k}" for k in results]
    for name, a, b in zip(names, g_dz, g_th):
        _close(None if a is None else a.data, b, GRAD_TOL, f"d s / d {name}", program)

    vs = [rng.standard_normal(x.shape) for x in xs_th]
    s2_dz = sum((F.sum(g * v) for g, v in zip(g_dz, vs) if g is not None), Variable(np.array(0.0)))
    s2_th = sum((g * torch.tensor(v)).sum() for g, v in zip(g_th, vs) if g is not None)
    gg_dz = dezero.grad(s2_dz, xs_dz)
    gg_th = torch.autograd.grad(s2_th, xs_th, allow_unused=True)
    for name, a, b in zip(names, gg_dz, gg_th):
        _close(None if a is None else a.data, b, GRAD_TOL, f"second derivative (d s2 / d {name})", program)


@PROFILE
@given(programs())
def test_random_op_compositions_match_torch_in_value_gradient_and_second_derivative(program):
    compare_with_torch(program)


# =============================================================================
# The harness itself
# =============================================================================
def test_a_wrong_gradient_is_caught_and_the_program_printed(monkeypatch):
    """If an op's backward were wrong, the comparison would fail and say where."""

    class SinWithWrongGradient(dezero.Function):
        def forward(self, x):
            return np.sin(x)

        def backward(self, gy):
            return gy * F.sin(self.inputs[0])  # should be cos

    program = Program(
        seed=3,
        steps=[
            Step("input", (), {}, (2, 3)),
            Step("sin", (0,), {}, (2, 3)),
            Step("sum", (1,), {"axis": 1, "keepdims": False}, (2,)),
        ],
    )
    compare_with_torch(program)  # correct as it stands
    monkeypatch.setitem(OPS, "sin", Op("sin", lambda a: SinWithWrongGradient()(a), torch.sin))
    with pytest.raises(
        AssertionError,
        match=r"(?s)d s / d x0 differs from PyTorch.*"
        r"input k is np.random.default_rng\(\[3, k\]\).*"
        r"x1 = sin\(x0\).*x2 = sum\(x1, axis=1, keepdims=False\)",
    ):
        compare_with_torch(program)


def test_the_programs_cover_every_op():
    """The CI profile's examples use every op at least once (so none is silently never drawn)."""
    seen: set = set()

    @settings(PROFILE, phases=[hypothesis.Phase.generate])
    @given(programs())
    def collect(program):
        seen.update(step.op for step in program.steps)

    collect()
    assert set(OPS) <= seen, f"never drawn: {sorted(set(OPS) - seen)}"
