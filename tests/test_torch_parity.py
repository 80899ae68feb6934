"""Every differentiable function of ``dezero.functions`` and every optimizer,
side by side with PyTorch, in float64.

For each case the same random inputs go through dezero and through the PyTorch
expression that means the same thing, and we compare

* the forward values (to 1e-10),
* the gradients of ``sum(y * w)`` for a random ``w`` w.r.t. every
  differentiable input (to 1e-8): ``dezero.grad(y, xs, grad_outputs=w)`` against
  ``torch.autograd.grad(y, xs, grad_outputs=w)``,
* the second derivatives (to 1e-8): the first gradients are taken with
  ``create_graph=True`` in both frameworks, contracted with random weights into
  one scalar ``s = sum_i sum(g_i * v_i)``, and ``s`` is differentiated again,
  w.r.t. the inputs and w.r.t. ``w`` (which exercises the backward of every
  gradient op, e.g. of the max-pooling gradient, even for linear ops).
  For piecewise-linear ops (relu, max, clip, pooling, indexing...) this checks
  that both agree on zero (a missing gradient, ``None``, counts as zeros).

Conventions where dezero and PyTorch differ on purpose (each mapped below):

* ``linear(x, W, b)``: dezero's W is (in, out); ``torch.nn.functional.linear``
  takes (out, in), so it gets ``W.T``.
* ``mean_squared_error``: dezero divides the summed squared error by the batch
  size ``len(x0)``, PyTorch's ``mse_loss`` by the element count, so the
  reference is ``mse_loss(reduction="sum") / len(x0)``.
* ``batch_norm``: dezero's ``decay`` is the weight of the old running value;
  PyTorch's ``momentum`` is that of the new one: ``momentum = 1 - decay``.
  Both use the biased batch variance to normalise and the unbiased one for the
  running variance. dezero's default eps is 2e-5 (Chainer's), so it is passed.
* ``deconv2d``: W is (C_in, C_out, KH, KW) like ``conv_transpose2d``; a larger
  ``outsize`` is PyTorch's ``output_padding``.
* ``average_pooling`` divides by KH*KW, padding included:
  ``avg_pool2d(count_include_pad=True)``.
* ``im2col(to_matrix=True)`` has one window per row, rows in (n, oh, ow) order:
  ``unfold(x)`` transposed to (N, L, C*KH*KW) and flattened.
* ``binary_cross_entropy`` clips p to [1e-7, 1 - 1e-7] where PyTorch clamps the
  log at -100: equal for the p used here, which stay inside (0.05, 0.95).
* max/min send the whole gradient of a tie to one element while ``amax``
  splits it, so the inputs hold distinct values; the same for max pooling.
  ReLU-like kinks and clip bounds are kept away from the sampled values.
* The optimizers' hyper-parameters map as: ``MomentumSGD(lr, momentum)`` ->
  ``SGD(lr, momentum)`` (dezero's ``v = momentum * v - lr * g`` is PyTorch's
  buffer times -lr), ``AdaGrad(lr, eps)`` -> ``Adagrad(lr, eps)``,
  ``AdaDelta(rho, eps)`` -> ``Adadelta(lr=1.0, rho, eps)``,
  ``Adam(alpha, beta1, beta2, eps)`` -> ``Adam(lr=alpha, betas, eps)``,
  ``AdamW(..., weight_decay)`` -> ``AdamW(..., weight_decay)``,
  the ``WeightDecay(rate)`` hook -> ``weight_decay=rate`` of SGD, and
  ``ClipGrad(max_norm)`` -> ``clip_grad_norm_(params, max_norm)``.
"""

import importlib
from typing import Callable, NamedTuple

import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import dezero  # noqa: E402
import dezero.functions as F  # noqa: E402
from dezero import Parameter, Variable  # noqa: E402
from dezero.layers import Layer  # noqa: E402
from dezero.optimizers import (  # noqa: E402
    SGD,
    AdaDelta,
    AdaGrad,
    Adam,
    AdamW,
    ClipGrad,
    MomentumSGD,
    WeightDecay,
)

FORWARD_TOL = 1e-10
GRAD_TOL = 1e-8

# The case tables below draw their inputs from _rng once, at import, in a fixed
# order; the fixture gives the tests that draw more a fresh generator each, so
# that a test selected alone sees the same numbers as in a full run.
_rng = np.random.default_rng(20240601)


@pytest.fixture(autouse=True)
def _fresh_rng():
    global _rng
    _rng = np.random.default_rng(0)


# =============================================================================
# Inputs
# =============================================================================
def randn(*shape):
    return _rng.standard_normal(shape)


def uniform(low, high, *shape):
    return _rng.uniform(low, high, shape)


def positive(*shape):
    """Away from 0: for log, sqrt, division and powers with any exponent."""
    return _rng.uniform(0.5, 2.0, shape)


def signed_away_from_zero(*shape):
    """|x| >= 0.1, so no sample sits on (or numerically near) a ReLU kink."""
    magnitude = _rng.uniform(0.1, 2.0, shape)
    return magnitude * _rng.choice([-1.0, 1.0], shape)


def distinct(*shape):
    """Distinct values (no ties for max/min/max pooling), gaps of at least 0.1."""
    n = int(np.prod(shape))
    return (_rng.permutation(n) * 0.1 - 0.05 * n + _rng.uniform(0, 0.01, n)).reshape(shape)


def ints(high, *shape):
    return _rng.integers(0, high, shape)


# =============================================================================
# The comparison
# =============================================================================
class Case(NamedTuple):
    dz: Callable  # dezero: Variables -> Variable
    th: Callable  # torch: tensors -> tensor
    inputs: tuple  # float64 arrays, every one differentiated
    double: bool = True


def _as_numpy(g, shape):
    """A dezero or torch gradient as an array; None (no dependence) is zeros."""
    if g is None:
        return np.zeros(shape)
    if isinstance(g, Variable):
        return g.data
    return g.detach().numpy()


def _assert_close(ours, theirs, tol, what):
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torch's {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol, err_msg=what)


def check_against_torch(case: Case, seed: int = 0):
    rng = np.random.default_rng(seed)
    xs = case.inputs
    vs = [Variable(a) for a in xs]  # dezero sees the arrays as given (strided views too)
    ts = [torch.tensor(np.array(a, order="C"), requires_grad=True) for a in xs]

    y = case.dz(*vs)
    yt = case.th(*ts)
    y_t = yt.detach().numpy()
    assert y.dtype == y_t.dtype, f"forward dtype {y.dtype} != torch's {y_t.dtype}"
    _assert_close(y.data, y_t, FORWARD_TOL, "forward")

    # First derivatives of sum(y * w), recorded so they can be differentiated again.
    # w is a leaf that requires a gradient too: the second pass then also goes
    # through the backward of each gradient op with respect to its incoming
    # gradient (for a linear op such as pooling that is the only second-order path).
    w = rng.standard_normal(y.shape).astype(y.dtype)
    w_var, w_t = Variable(w), torch.tensor(w, requires_grad=True)
    gs = dezero.grad(y, vs, grad_outputs=w_var, create_graph=True)
    gts = torch.autograd.grad(yt, ts, grad_outputs=w_t, create_graph=True, allow_unused=True)
    for i, (g, gt, a) in enumerate(zip(gs, gts, xs)):
        _assert_close(_as_numpy(g, a.shape), _as_numpy(gt, a.shape), GRAD_TOL, f"gradient w.r.t. input {i}")
    if not case.double:
        return

    # Second derivatives: differentiate s = sum_i sum(g_i * v_i) once more,
    # w.r.t. every input and w.
    weights = [rng.standard_normal(a.shape) for a in xs]
    s = st = None
    for g, gt, v in zip(gs, gts, weights):
        if g is not None:
            term = F.sum(g * v)
            s = term if s is None else s + term
        if gt is not None:
            term_t = (gt * torch.tensor(v)).sum()
            st = term_t if st is None else st + term_t
    leaves = [*xs, w]
    ggs = dezero.grad(s, [*vs, w_var]) if s is not None else [None] * len(leaves)
    if st is not None and st.requires_grad:
        ggts = torch.autograd.grad(st, [*ts, w_t], allow_unused=True)
    else:  # no first gradient depends on anything: the second derivatives are zero
        ggts = [None] * len(leaves)
    for i, (gg, ggt, a) in enumerate(zip(ggs, ggts, leaves)):
        name = "w" if i == len(xs) else f"input {i}"
        _assert_close(_as_numpy(gg, a.shape), _as_numpy(ggt, a.shape), GRAD_TOL, f"second derivative w.r.t. {name}")


def cases(table: dict):
    return [pytest.param(case, id=name) for name, case in table.items()]


# =============================================================================
# math.py
# =============================================================================
def _strided(*shape):
    """A non-contiguous view: every other column of a wider array."""
    wide = randn(*shape[:-1], 2 * shape[-1])
    return wide[..., ::2]


_CONST = randn(3, 4)
_POS_CONST = positive(3, 4)

MATH = {
    "add": Case(F.add, torch.add, (randn(3, 4), randn(3, 4))),
    "add-broadcast-row": Case(F.add, torch.add, (randn(3, 4), randn(4))),
    "add-broadcast-both": Case(F.add, torch.add, (randn(2, 1, 3), randn(4, 1))),
    "add-0d": Case(F.add, torch.add, (randn(), randn(2, 3))),
    "add-scalar": Case(lambda x: F.add(x, 2.5), lambda x: x + 2.5, (randn(3, 2),)),
    "radd-scalar": Case(lambda x: 2.5 + x, lambda x: 2.5 + x, (randn(3, 2),)),
    "add-strided": Case(F.add, torch.add, (_strided(3, 4), randn(3, 4)[::-1])),
    "add-transposed": Case(F.add, torch.add, (randn(4, 3).T, randn(3, 1))),
    "sub": Case(F.sub, torch.sub, (randn(3, 4), randn(3, 4))),
    "sub-broadcast": Case(F.sub, torch.sub, (randn(2, 1, 3), randn(4, 1))),
    "sub-scalar": Case(lambda x: x - 1.5, lambda x: x - 1.5, (randn(3, 2),)),
    "rsub-scalar": Case(lambda x: 1.5 - x, lambda x: 1.5 - x, (randn(3, 2),)),
    "mul": Case(F.mul, torch.mul, (randn(3, 4), randn(3, 4))),
    "mul-broadcast": Case(F.mul, torch.mul, (randn(2, 1, 3), randn(4, 1))),
    "mul-strided": Case(F.mul, torch.mul, (_strided(3, 4), randn(4, 3).T)),
    "mul-scalar": Case(lambda x: x * -0.7, lambda x: x * -0.7, (randn(3, 2),)),
    "mul-self": Case(lambda x: x * x, lambda x: x * x, (randn(3, 2),)),
    "div": Case(F.div, torch.div, (randn(3, 4), positive(3, 4))),
    "div-broadcast": Case(F.div, torch.div, (randn(2, 1, 3), -positive(4, 1))),
    "div-scalar": Case(lambda x: x / 3.0, lambda x: x / 3.0, (randn(3, 2),)),
    "rdiv-scalar": Case(lambda x: 3.0 / x, lambda x: 3.0 / x, (positive(3, 2),)),
    "neg": Case(F.neg, torch.neg, (randn(3, 4),)),
    "pow-int": Case(lambda x: F.pow(x, 3), lambda x: x**3, (randn(3, 4),)),
    "pow-half": Case(lambda x: F.pow(x, 0.5), lambda x: x**0.5, (positive(3, 4),)),
    "pow-negative": Case(lambda x: x**-1.5, lambda x: x**-1.5, (positive(3, 4),)),
    "pow-tensor": Case(F.pow, torch.pow, (positive(3, 4), randn(3, 4))),
    "pow-tensor-broadcast": Case(F.pow, torch.pow, (positive(2, 3, 4), randn(4))),
    "rpow-scalar-base": Case(lambda x: 2.0**x, lambda x: 2.0**x, (randn(3, 4),)),
    "square": Case(F.square, torch.square, (randn(3, 4),)),
    "sqrt": Case(F.sqrt, torch.sqrt, (positive(3, 4),)),
    "sqrt-strided": Case(F.sqrt, torch.sqrt, (positive(4, 3).T,)),
    "exp": Case(F.exp, torch.exp, (randn(3, 4),)),
    "log": Case(F.log, torch.log, (positive(3, 4),)),
    "sin": Case(F.sin, torch.sin, (randn(3, 4),)),
    "cos": Case(F.cos, torch.cos, (randn(3, 4),)),
    "tanh": Case(F.tanh, torch.tanh, (randn(3, 4),)),
    "tanh-0d": Case(F.tanh, torch.tanh, (randn(),)),
    # An array on the left of an operator: Variable's reflected operators, the
    # array a constant without gradient.
    "rmul-array": Case(lambda x: _CONST * x, lambda x: torch.tensor(_CONST) * x, (randn(3, 4),)),
    "rsub-array": Case(lambda x: _CONST - x, lambda x: torch.tensor(_CONST) - x, (randn(2, 3, 4),)),
    "rdiv-array": Case(lambda x: _CONST / x, lambda x: torch.tensor(_CONST) / x, (positive(4),)),
    "rpow-array": Case(lambda x: _POS_CONST**x, lambda x: torch.tensor(_POS_CONST) ** x, (randn(3, 4),)),
    "div-0d-denominator": Case(F.div, torch.div, (randn(2, 3), positive())),
    "composite": Case(
        lambda x, y: F.sin(x * y) / F.exp(y) + F.log(x) ** 2,
        lambda x, y: torch.sin(x * y) / torch.exp(y) + torch.log(x) ** 2,
        (positive(3, 4), randn(4)),
    ),
}


@pytest.mark.parametrize("case", cases(MATH))
def test_math(case):
    check_against_torch(case)


# =============================================================================
# array.py
# =============================================================================
def _torch_index(index):
    """The same index for a tensor: arrays and lists become tensors."""
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    if isinstance(index, (list, np.ndarray)):
        return torch.tensor(np.asarray(index))
    return index


def _item_case(index, shape=(4, 5, 3)):
    return Case(lambda x: F.get_item(x, index), lambda x: x[_torch_index(index)], (randn(*shape),))


GET_ITEM = {
    "int": _item_case(1),
    "negative-int": _item_case(-1),
    "slice-int": _item_case((slice(1, 3), 2)),
    "ellipsis-step": _item_case((Ellipsis, slice(None, None, 2))),
    "newaxis": _item_case((None, slice(None), 0)),
    "fancy-repeated": _item_case(np.array([0, 2, 0, 0])),
    "fancy-list-repeated": _item_case([3, 3, 1]),
    "fancy-2d-repeated": _item_case(np.array([[0, 3], [3, 3]])),
    "fancy-pairs-repeated": _item_case((np.array([0, 1, 0, 0]), np.array([2, 2, 2, 4]))),
    "slice-then-fancy": _item_case((slice(None), np.array([4, 4, 1]))),
    "fancy-slice-fancy": _item_case((np.array([0, 1, 0]), slice(None), np.array([2, 0, 2]))),
    "bool-mask": _item_case(np.array([True, False, True, True])),
    "strided-input": Case(lambda x: x[1:, [0, 0, 2]], lambda x: x[1:, [0, 0, 2]], (_strided(3, 4),)),
    "variable-method": Case(lambda x: x[np.array([1, 1]), 1:], lambda x: x[[1, 1], 1:], (randn(3, 4),)),
    "variable-index": Case(
        lambda x: F.get_item(x, Variable(np.array([2, 0, 2]))), lambda x: x[torch.tensor([2, 0, 2])], (randn(3, 4),)
    ),
    # PyTorch has no negative steps; the reversed view is torch.flip.
    "negative-step": Case(
        lambda x: F.get_item(x, (slice(None, None, -1), slice(None, None, -2))),
        lambda x: torch.flip(x, (0, 1))[:, ::2],
        (randn(4, 5),),
    ),
}


@pytest.mark.parametrize("case", cases(GET_ITEM))
def test_get_item(case):
    check_against_torch(case)


def _reduction(dz_fn, th_fn, axis, keepdims, x):
    if axis is None:
        return Case(
            lambda v: dz_fn(v, axis, keepdims),
            (lambda t: th_fn(t)) if not keepdims else (lambda t: th_fn(t).reshape((1,) * t.ndim)),
            (x,),
        )
    return Case(lambda v: dz_fn(v, axis, keepdims), lambda t: th_fn(t, axis, keepdims), (x,))


def _amax(t, dim=None, keepdim=False):
    return t.max() if dim is None else torch.amax(t, dim=dim, keepdim=keepdim)


def _amin(t, dim=None, keepdim=False):
    return t.min() if dim is None else torch.amin(t, dim=dim, keepdim=keepdim)


REDUCTIONS = {}
for _axis, _keep in [
    (None, False),
    (None, True),
    (0, False),
    (1, True),
    (-1, False),
    ((0, 2), False),
    ((0, 2), True),
    ((2, 0), False),
    ((-1, -3), True),
]:
    _tag = f"axis={_axis}-keepdims={_keep}"
    REDUCTIONS["sum-" + _tag] = _reduction(
        F.sum,
        lambda t, d=None, k=False: t.sum() if d is None else t.sum(dim=d, keepdim=k),
        _axis,
        _keep,
        randn(2, 3, 4),
    )
    REDUCTIONS["mean-" + _tag] = _reduction(
        F.mean,
        lambda t, d=None, k=False: t.mean() if d is None else t.mean(dim=d, keepdim=k),
        _axis,
        _keep,
        randn(2, 3, 4),
    )
    REDUCTIONS["max-" + _tag] = _reduction(F.max, _amax, _axis, _keep, distinct(2, 3, 4))
    REDUCTIONS["min-" + _tag] = _reduction(F.min, _amin, _axis, _keep, distinct(2, 3, 4))
REDUCTIONS["average"] = Case(lambda x: F.average(x, 1), lambda t: t.mean(dim=1), (randn(3, 4),))
REDUCTIONS["sum-method-strided"] = Case(lambda x: x.sum(axis=0), lambda t: t.sum(dim=0), (_strided(3, 4),))
REDUCTIONS["max-method-1d"] = Case(lambda x: x.max(), lambda t: t.max(), (distinct(7),))
REDUCTIONS["min-transposed"] = Case(lambda x: F.min(x, axis=1), lambda t: torch.amin(t, dim=1), (distinct(4, 3).T,))


@pytest.mark.parametrize("case", cases(REDUCTIONS))
def test_reductions(case):
    check_against_torch(case)


SHAPES = {
    "reshape": Case(lambda x: F.reshape(x, (6, 4)), lambda t: t.reshape(6, 4), (randn(2, 3, 4),)),
    "reshape-minus-one": Case(lambda x: F.reshape(x, (4, -1, 2)), lambda t: t.reshape(4, -1, 2), (randn(2, 3, 4),)),
    "reshape-strided": Case(lambda x: x.reshape(12), lambda t: t.reshape(12), (_strided(3, 4),)),
    "transpose": Case(F.transpose, lambda t: t.permute(2, 1, 0), (randn(2, 3, 4),)),
    "transpose-axes": Case(lambda x: F.transpose(x, (1, 0, 2)), lambda t: t.permute(1, 0, 2), (randn(2, 3, 4),)),
    "transpose-negative-axes": Case(
        lambda x: F.transpose(x, (-1, 0, 1)), lambda t: t.permute(2, 0, 1), (randn(2, 3, 4),)
    ),
    "transpose-T": Case(lambda x: x.T, lambda t: t.T, (randn(3, 4),)),
    "expand_dims-0": Case(lambda x: F.expand_dims(x, 0), lambda t: t.unsqueeze(0), (randn(2, 3),)),
    "expand_dims-1": Case(lambda x: F.expand_dims(x, 1), lambda t: t.unsqueeze(1), (randn(2, 3),)),
    "expand_dims-last": Case(lambda x: F.expand_dims(x, -1), lambda t: t.unsqueeze(-1), (randn(2, 3),)),
    "flatten": Case(F.flatten, lambda t: torch.flatten(t, 1), (randn(2, 3, 4),)),
    "broadcast_to": Case(lambda x: F.broadcast_to(x, (2, 3, 4)), lambda t: t.expand(2, 3, 4), (randn(3, 1),)),
    "broadcast_to-row": Case(lambda x: F.broadcast_to(x, (3, 4)), lambda t: t.expand(3, 4), (randn(4),)),
    "broadcast_to-0d": Case(lambda x: F.broadcast_to(x, (2, 3)), lambda t: t.expand(2, 3), (randn(),)),
    "sum_to": Case(lambda x: F.sum_to(x, (3, 1)), lambda t: t.sum_to_size(3, 1), (randn(2, 3, 4),)),
    "sum_to-row": Case(lambda x: F.sum_to(x, (4,)), lambda t: t.sum_to_size(4), (randn(2, 3, 4),)),
    "reshape-same-shape": Case(lambda x: F.reshape(x, (3, 4)), lambda t: t.reshape(3, 4), (randn(3, 4),)),
    "broadcast_to-same-shape": Case(lambda x: F.broadcast_to(x, (3, 4)), lambda t: t.expand(3, 4), (randn(3, 4),)),
    "sum_to-same-shape": Case(lambda x: F.sum_to(x, (3, 4)), lambda t: t.sum_to_size(3, 4), (randn(3, 4),)),
    "transpose-1d": Case(F.transpose, lambda t: t.permute(0), (randn(5),)),
    "sum_to-ones": Case(lambda x: F.sum_to(x, (1, 1, 1)), lambda t: t.sum_to_size(1, 1, 1), (randn(2, 3, 4),)),
    "sum_to-middle": Case(lambda x: F.sum_to(x, (1, 3, 1)), lambda t: t.sum_to_size(1, 3, 1), (randn(2, 3, 4),)),
    "clip": Case(
        lambda x: F.clip(x, -0.55, 0.75),
        lambda t: torch.clamp(t, -0.55, 0.75),
        # every sample at least 0.05 from a bound
        (np.concatenate([uniform(-2.0, -0.6, 6), uniform(-0.5, 0.7, 6), uniform(0.8, 2.0, 6)]).reshape(3, 6),),
    ),
    "astype-float32": Case(lambda x: F.astype(x, np.float32), lambda t: t.to(torch.float32), (randn(3, 4),)),
}


@pytest.mark.parametrize("case", cases(SHAPES))
def test_shapes_and_clip(case):
    check_against_torch(case)


MATMUL = {
    "2d": Case(F.matmul, torch.matmul, (randn(3, 4), randn(4, 5))),
    "batched": Case(F.matmul, torch.matmul, (randn(2, 3, 4), randn(2, 4, 5))),
    "batch-broadcast": Case(F.matmul, torch.matmul, (randn(2, 1, 3, 4), randn(3, 4, 2))),
    "2d-times-batched": Case(F.matmul, torch.matmul, (randn(3, 4), randn(2, 4, 5))),
    "batched-times-2d": Case(F.matmul, torch.matmul, (randn(2, 3, 4), randn(4, 5))),
    "vector-matrix": Case(F.matmul, torch.matmul, (randn(4), randn(4, 5))),
    "matrix-vector": Case(F.matmul, torch.matmul, (randn(3, 4), randn(4))),
    "vector-vector": Case(F.matmul, torch.matmul, (randn(4), randn(4))),
    "batched-vector": Case(F.matmul, torch.matmul, (randn(2, 3, 4), randn(4))),
    "vector-batched": Case(F.matmul, torch.matmul, (randn(4), randn(2, 4, 5))),
    "vector-batched-4d": Case(F.matmul, torch.matmul, (randn(4), randn(2, 1, 4, 3))),
    "transposed-operands": Case(F.matmul, torch.matmul, (randn(4, 3).T, _strided(4, 5))),
    "operator": Case(lambda a, b: a @ b, lambda a, b: a @ b, (randn(3, 4), randn(4, 2))),
}


@pytest.mark.parametrize("case", cases(MATMUL))
def test_matmul(case):
    check_against_torch(case)


# =============================================================================
# connection.py
# =============================================================================
_IDS = np.array([[0, 4, 4], [2, 0, 4]])  # ids repeat: their rows' gradients add up


def _th_linear(x, W, b=None):
    return TF.linear(x, W.T, b)  # dezero's W is (in, out), PyTorch's (out, in)


CONNECTION = {
    "linear": Case(F.linear, _th_linear, (randn(4, 3), randn(3, 5), randn(5))),
    "linear-nobias": Case(F.linear, _th_linear, (randn(4, 3), randn(3, 5))),
    "linear-batch1": Case(F.linear, _th_linear, (randn(1, 3), randn(3, 2), randn(2))),
    "linear-strided": Case(F.linear, _th_linear, (_strided(4, 3), randn(5, 3).T, randn(5))),
    "linear_simple": Case(F.linear_simple, _th_linear, (randn(4, 3), randn(3, 5), randn(5))),
    "linear_simple-nobias": Case(F.linear_simple, _th_linear, (randn(4, 3), randn(3, 5))),
    "embed_id": Case(lambda W: F.embed_id(_IDS, W), lambda W: TF.embedding(torch.tensor(_IDS), W), (randn(5, 4),)),
    "embed_id-1d": Case(
        lambda W: F.embed_id(np.array([1, 1, 1, 0]), W),
        lambda W: TF.embedding(torch.tensor([1, 1, 1, 0]), W),
        (randn(3, 2),),
    ),
}


@pytest.mark.parametrize("case", cases(CONNECTION))
def test_connection(case):
    check_against_torch(case)


# =============================================================================
# activation.py
# =============================================================================
ACTIVATION = {
    "sigmoid": Case(F.sigmoid, torch.sigmoid, (randn(3, 4) * 3,)),
    "relu": Case(F.relu, torch.relu, (signed_away_from_zero(3, 4),)),
    "leaky_relu-default": Case(F.leaky_relu, lambda t: TF.leaky_relu(t, 0.2), (signed_away_from_zero(3, 4),)),
    "leaky_relu-0.05": Case(
        lambda x: F.leaky_relu(x, 0.05), lambda t: TF.leaky_relu(t, 0.05), (signed_away_from_zero(3, 4),)
    ),
    "softmax-axis1": Case(F.softmax, lambda t: torch.softmax(t, 1), (randn(3, 4),)),
    "softmax-axis0": Case(lambda x: F.softmax(x, 0), lambda t: torch.softmax(t, 0), (randn(3, 4),)),
    "softmax-3d-last": Case(lambda x: F.softmax(x, -1), lambda t: torch.softmax(t, -1), (randn(2, 3, 4),)),
    "softmax-large-logits": Case(F.softmax, lambda t: torch.softmax(t, 1), (randn(2, 3) * 300,)),
    "sigmoid_simple": Case(F.sigmoid_simple, torch.sigmoid, (randn(3, 4) * 3,)),
    "sigmoid_simple-large": Case(F.sigmoid_simple, torch.sigmoid, (randn(3, 4) * 300,)),
    "softmax_simple-axis1": Case(F.softmax_simple, lambda t: torch.softmax(t, 1), (randn(3, 4),)),
    "softmax_simple-axis0": Case(lambda x: F.softmax_simple(x, 0), lambda t: torch.softmax(t, 0), (randn(3, 4),)),
    "softmax_simple-large-logits": Case(F.softmax_simple, lambda t: torch.softmax(t, 1), (randn(2, 3) * 300,)),
    "log_softmax-axis1": Case(F.log_softmax, lambda t: torch.log_softmax(t, 1), (randn(3, 4),)),
    "log_softmax-axis0": Case(lambda x: F.log_softmax(x, 0), lambda t: torch.log_softmax(t, 0), (randn(3, 4),)),
    "log_softmax-3d-middle": Case(lambda x: F.log_softmax(x, 1), lambda t: torch.log_softmax(t, 1), (randn(2, 3, 4),)),
    "log_softmax-large-logits": Case(F.log_softmax, lambda t: torch.log_softmax(t, 1), (randn(2, 3) * 300,)),
}


@pytest.mark.parametrize("case", cases(ACTIVATION))
def test_activation(case):
    check_against_torch(case)


# =============================================================================
# loss.py
# =============================================================================
_LABELS = np.array([0, 3, 1, 3, 2])
_BINARY = ints(2, 4, 3)
_SOFT = uniform(0.0, 1.0, 4, 3)

LOSS = {
    "mean_squared_error": Case(
        F.mean_squared_error, lambda a, b: TF.mse_loss(a, b, reduction="sum") / a.shape[0], (randn(4, 3), randn(4, 3))
    ),
    "mean_squared_error-1d": Case(
        F.mean_squared_error, lambda a, b: TF.mse_loss(a, b, reduction="sum") / a.shape[0], (randn(5), randn(5))
    ),
    "mean_squared_error_simple": Case(
        F.mean_squared_error_simple,
        lambda a, b: TF.mse_loss(a, b, reduction="sum") / a.shape[0],
        (randn(4, 3), randn(4, 3)),
    ),
    # An (N, 1) prediction against (N,) targets: paired element by element.
    "mean_squared_error-n-by-1": Case(
        F.mean_squared_error,
        lambda a, b: TF.mse_loss(a[:, 0], b, reduction="sum") / a.shape[0],
        (randn(5, 1), randn(5)),
    ),
    "sigmoid_cross_entropy-n-by-1": Case(
        lambda x: F.sigmoid_cross_entropy(x, _BINARY[:, 0]),
        lambda x: TF.binary_cross_entropy_with_logits(x[:, 0], torch.tensor(_BINARY[:, 0], dtype=torch.float64)),
        (randn(4, 1) * 3,),
    ),
    "binary_cross_entropy-n-by-1": Case(
        lambda p: F.binary_cross_entropy(p, _BINARY[:, 0]),
        lambda p: TF.binary_cross_entropy(p[:, 0], torch.tensor(_BINARY[:, 0], dtype=torch.float64)),
        (uniform(0.05, 0.95, 4, 1),),
    ),
    "softmax_cross_entropy_simple": Case(
        lambda x: F.softmax_cross_entropy_simple(x, _LABELS),
        lambda x: TF.cross_entropy(x, torch.tensor(_LABELS)),
        (randn(5, 4),),
    ),
    "softmax_cross_entropy": Case(
        lambda x: F.softmax_cross_entropy(x, _LABELS),
        lambda x: TF.cross_entropy(x, torch.tensor(_LABELS)),
        (randn(5, 4),),
    ),
    "softmax_cross_entropy-large-logits": Case(
        lambda x: F.softmax_cross_entropy(x, _LABELS),
        lambda x: TF.cross_entropy(x, torch.tensor(_LABELS)),
        (randn(5, 4) * 200,),
    ),
    "softmax_cross_entropy-batch1": Case(
        lambda x: F.softmax_cross_entropy(x, np.array([2])),
        lambda x: TF.cross_entropy(x, torch.tensor([2])),
        (randn(1, 3),),
    ),
    "sigmoid_cross_entropy-large-logits": Case(
        lambda x: F.sigmoid_cross_entropy(x, _BINARY),
        lambda x: TF.binary_cross_entropy_with_logits(x, torch.tensor(_BINARY, dtype=torch.float64)),
        (randn(4, 3) * 40,),
    ),
    "sigmoid_cross_entropy-int-labels": Case(
        lambda x: F.sigmoid_cross_entropy(x, _BINARY),
        lambda x: TF.binary_cross_entropy_with_logits(x, torch.tensor(_BINARY, dtype=torch.float64)),
        (randn(4, 3) * 3,),
    ),
    "sigmoid_cross_entropy-soft-targets": Case(
        lambda x: F.sigmoid_cross_entropy(x, _SOFT),
        lambda x: TF.binary_cross_entropy_with_logits(x, torch.tensor(_SOFT)),
        (randn(4, 3) * 3,),
    ),
    "binary_cross_entropy-int-labels": Case(
        lambda p: F.binary_cross_entropy(p, _BINARY),
        lambda p: TF.binary_cross_entropy(p, torch.tensor(_BINARY, dtype=torch.float64)),
        (uniform(0.05, 0.95, 4, 3),),
    ),
    "binary_cross_entropy-soft-targets": Case(
        lambda p: F.binary_cross_entropy(p, _SOFT),
        lambda p: TF.binary_cross_entropy(p, torch.tensor(_SOFT)),
        (uniform(0.05, 0.95, 4, 3),),
    ),
}


@pytest.mark.parametrize("case", cases(LOSS))
def test_loss(case):
    check_against_torch(case)


def test_accuracy_matches_argmax():
    # Not differentiable; only the value is compared.
    y, t = randn(6, 4), ints(4, 6)
    expected = (torch.tensor(y).argmax(dim=1) == torch.tensor(t)).double().mean().item()
    assert float(F.accuracy(y, t).data) == expected


# =============================================================================
# noise.py
# =============================================================================
def test_dropout_is_inverted_dropout_like_torch():
    # The masks come from different generators, so the mask dezero drew is read
    # back from its output (x has no zeros) and handed to the torch expression.
    ratio = 0.4
    x = signed_away_from_zero(5, 6)
    np.random.seed(3)
    keep = F.dropout(Variable(x), ratio).data != 0
    assert 0 < keep.sum() < keep.size

    def dz(v):
        np.random.seed(3)  # the same mask on every call
        return F.dropout(v, ratio)

    check_against_torch(Case(dz, lambda t: t * torch.tensor(keep) / (1 - ratio), (x,)))


def test_dropout_test_mode_is_identity_like_torch():
    x = randn(3, 4)

    def dz(v):
        with dezero.test_mode():
            return F.dropout(v, 0.5) * 1.0  # a node, so there is a graph to differentiate

    check_against_torch(Case(dz, lambda t: TF.dropout(t, 0.5, training=False) * 1.0, (x,)))


# =============================================================================
# normalization.py
# =============================================================================
def _batch_norm_case(shape, decay, eps):
    c = shape[1]

    def dz(x, gamma, beta):
        return F.batch_norm(x, gamma, beta, np.zeros(c), np.ones(c), decay=decay, eps=eps)

    def th(x, gamma, beta):
        return TF.batch_norm(
            x,
            torch.zeros(c, dtype=torch.float64),
            torch.ones(c, dtype=torch.float64),
            gamma,
            beta,
            training=True,
            momentum=1 - decay,
            eps=eps,
        )

    return Case(dz, th, (randn(*shape) * 2 + 1, positive(c), randn(c)))


def _fixed_batch_norm_case(shape, eps):
    c = shape[1]
    mean, var = randn(c), positive(c)

    def dz(x, gamma, beta):
        with dezero.test_mode():
            return F.batch_norm(x, gamma, beta, mean.copy(), var.copy(), eps=eps)

    def th(x, gamma, beta):
        return TF.batch_norm(x, torch.tensor(mean), torch.tensor(var), gamma, beta, training=False, eps=eps)

    return Case(dz, th, (randn(*shape), positive(c), randn(c)))


BATCH_NORM = {
    "train-2d": _batch_norm_case((5, 3), 0.9, 2e-5),
    "train-4d": _batch_norm_case((3, 2, 3, 2), 0.8, 1e-3),
    "train-batch2": _batch_norm_case((2, 4), 0.9, 1e-5),
    "train-4d-batch1": _batch_norm_case((1, 2, 3, 3), 0.9, 1e-5),
    "test-2d": _fixed_batch_norm_case((5, 3), 2e-5),
    "test-4d": _fixed_batch_norm_case((3, 2, 3, 2), 1e-3),
}


@pytest.mark.parametrize("case", cases(BATCH_NORM))
def test_batch_norm(case):
    check_against_torch(case)


@pytest.mark.parametrize("shape,decay", [((5, 3), 0.9), ((3, 2, 3, 2), 0.7), ((2, 4), 0.5)])
def test_batch_norm_running_statistics(shape, decay):
    c, eps = shape[1], 1e-5
    mean, var = randn(c), positive(c)
    mean_t, var_t = torch.tensor(mean), torch.tensor(var)
    gamma, beta = positive(c), randn(c)
    for _ in range(3):
        x = randn(*shape) * 3 - 1
        F.batch_norm(x, gamma, beta, mean, var, decay=decay, eps=eps)  # updates in place
        TF.batch_norm(
            torch.tensor(x),
            mean_t,
            var_t,
            torch.tensor(gamma),
            torch.tensor(beta),
            training=True,
            momentum=1 - decay,
            eps=eps,
        )
        _assert_close(mean, mean_t.numpy(), FORWARD_TOL, "running mean")
        _assert_close(var, var_t.numpy(), FORWARD_TOL, "running variance (unbiased)")


def test_batch_norm_test_mode_leaves_running_statistics_alone():
    mean, var = randn(3), positive(3)
    before = mean.copy(), var.copy()
    with dezero.test_mode():
        F.batch_norm(randn(4, 3), positive(3), randn(3), mean, var)
    np.testing.assert_array_equal(mean, before[0])
    np.testing.assert_array_equal(var, before[1])


# =============================================================================
# conv.py
# =============================================================================
CONV_ARGS = [  # (x shape, W shape, stride, pad)
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0),
    ((2, 3, 5, 5), (4, 3, 3, 3), 2, 1),
    ((1, 2, 5, 6), (3, 2, 2, 3), (2, 1), (0, 1)),
    ((2, 1, 4, 4), (2, 1, 1, 1), 1, 0),
    ((1, 2, 6, 5), (2, 2, 3, 2), 3, 2),
    ((1, 1, 5, 5), (2, 1, 1, 1), 2, 0),  # stride larger than the kernel
]


def _conv_cases(dz_conv):
    table = {}
    for x_shape, w_shape, stride, pad in CONV_ARGS:
        tag = f"x{x_shape}-W{w_shape}-s{stride}-p{pad}".replace(" ", "")

        def dz(x, W, b=None, stride=stride, pad=pad):
            return dz_conv(x, W, b, stride=stride, pad=pad)

        def th(x, W, b=None, stride=stride, pad=pad):
            return TF.conv2d(x, W, b, stride=stride, padding=pad)

        table[tag] = Case(dz, th, (randn(*x_shape), randn(*w_shape), randn(w_shape[0])))
        table[tag + "-nobias"] = Case(dz, th, (randn(*x_shape), randn(*w_shape)))
    return table


DECONV_ARGS = [  # (x shape, W shape (C_in, C_out, KH, KW), stride, pad, extra outsize)
    ((2, 3, 3, 3), (3, 2, 3, 3), 1, 0, 0),
    ((2, 3, 3, 3), (3, 2, 3, 3), 2, 1, 0),
    ((1, 2, 3, 4), (2, 3, 2, 3), (2, 3), (1, 0), 0),
    ((1, 2, 3, 3), (2, 2, 3, 3), 2, 1, 1),  # outsize one larger: output_padding=1
    ((1, 2, 2, 3), (2, 1, 4, 2), 3, (1, 0), 2),
    ((1, 2, 3, 3), (2, 2, 1, 1), 2, 0, 0),  # stride larger than the kernel: gaps of zeros
]


def _deconv_cases():
    table = {}
    for x_shape, w_shape, stride, pad, extra in DECONV_ARGS:
        tag = f"x{x_shape}-W{w_shape}-s{stride}-p{pad}-extra{extra}".replace(" ", "")
        s, p = dezero.utils.pair(stride), dezero.utils.pair(pad)
        outsize = None
        if extra:
            outsize = tuple(
                dezero.utils.get_deconv_outsize(x_shape[2 + d], w_shape[2 + d], s[d], p[d]) + extra for d in (0, 1)
            )

        def dz(x, W, b=None, stride=stride, pad=pad, outsize=outsize):
            return F.deconv2d(x, W, b, stride=stride, pad=pad, outsize=outsize)

        def th(x, W, b=None, stride=stride, pad=pad, extra=extra):
            return TF.conv_transpose2d(x, W, b, stride=stride, padding=pad, output_padding=extra)

        table[tag] = Case(dz, th, (randn(*x_shape), randn(*w_shape), randn(w_shape[1])))
        table[tag + "-nobias"] = Case(dz, th, (randn(*x_shape), randn(*w_shape)))
    return table


def _unfold_matrix(t, k, s, p):
    col = TF.unfold(t, k, padding=p, stride=s)  # (N, C*KH*KW, L)
    return col.transpose(1, 2).reshape(-1, col.shape[1])


def _im2col_cases():
    table = {}
    for shape, k, s, p in [((2, 2, 4, 5), 3, 1, 1), ((1, 2, 5, 5), (2, 3), (2, 1), (1, 0))]:
        kh, kw = dezero.utils.pair(k)
        tag = f"x{shape}-k{k}-s{s}-p{p}".replace(" ", "")
        n, c, h, w = shape
        oh = dezero.utils.get_conv_outsize(h, kh, dezero.utils.pair(s)[0], dezero.utils.pair(p)[0])
        ow = dezero.utils.get_conv_outsize(w, kw, dezero.utils.pair(s)[1], dezero.utils.pair(p)[1])
        table["im2col-matrix-" + tag] = Case(
            lambda x, k=k, s=s, p=p: F.im2col(x, k, s, p, to_matrix=True),
            lambda t, k=k, s=s, p=p: _unfold_matrix(t, k, s, p),
            (randn(*shape),),
        )
        table["im2col-6d-" + tag] = Case(
            lambda x, k=k, s=s, p=p: F.im2col(x, k, s, p, to_matrix=False),
            lambda t, k=k, s=s, p=p, dims=(n, c, kh, kw, oh, ow): TF.unfold(t, k, padding=p, stride=s).reshape(dims),
            (randn(*shape),),
        )
        table["col2im-matrix-" + tag] = Case(
            lambda col, k=k, s=s, p=p, shape=shape: F.col2im(col, shape, k, s, p, to_matrix=True),
            lambda t, k=k, s=s, p=p, n=n, hw=(h, w): TF.fold(
                t.reshape(n, -1, t.shape[1]).transpose(1, 2), hw, k, padding=p, stride=s
            ),
            (randn(n * oh * ow, c * kh * kw),),
        )
        table["col2im-6d-" + tag] = Case(
            lambda col, k=k, s=s, p=p, shape=shape: F.col2im(col, shape, k, s, p, to_matrix=False),
            lambda t, k=k, s=s, p=p, n=n, hw=(h, w): TF.fold(
                t.reshape(n, -1, t.shape[-2] * t.shape[-1]), hw, k, padding=p, stride=s
            ),
            (randn(n, c, kh, kw, oh, ow),),
        )
    return table


@pytest.mark.parametrize("case", cases(_conv_cases(F.conv2d)))
def test_conv2d(case):
    check_against_torch(case)


@pytest.mark.parametrize("case", cases(_conv_cases(F.conv2d_simple)))
def test_conv2d_simple(case):
    check_against_torch(case)


@pytest.mark.parametrize("case", cases(_deconv_cases()))
def test_deconv2d(case):
    check_against_torch(case)


@pytest.mark.parametrize("case", cases(_im2col_cases()))
def test_im2col_col2im(case):
    check_against_torch(case)


# =============================================================================
# pooling.py
# =============================================================================
POOL_ARGS = [  # (x shape, kernel, stride, pad)
    ((2, 2, 4, 4), 2, 2, 0),
    ((1, 2, 5, 5), 3, 1, 1),
    ((2, 1, 5, 5), 3, 2, 1),
    ((1, 2, 5, 6), (2, 3), (1, 2), (1, 1)),
    ((1, 1, 7, 7), 3, 3, 0),  # the last row and column are left out
    ((1, 1, 4, 6), (1, 2), 1, 0),
    ((1, 1, 6, 6), 2, 3, 1),  # stride larger than the kernel: some cells are in no window
]


def _pool_cases(dz_pool, th_pool, values):
    table = {}
    for shape, k, s, p in POOL_ARGS:
        tag = f"x{shape}-k{k}-s{s}-p{p}".replace(" ", "")
        table[tag] = Case(
            lambda x, k=k, s=s, p=p: dz_pool(x, k, s, p),
            lambda t, k=k, s=s, p=p: th_pool(t, k, s, p),
            (values(*shape),),
        )
    return table


def _th_max_pool(t, k, s, p):
    return TF.max_pool2d(t, k, s, p)


def _th_avg_pool(t, k, s, p):
    return TF.avg_pool2d(t, k, s, p, count_include_pad=True)


@pytest.mark.parametrize("case", cases(_pool_cases(F.pooling, _th_max_pool, distinct)))
def test_max_pooling(case):
    check_against_torch(case)


@pytest.mark.parametrize("case", cases(_pool_cases(F.pooling_simple, _th_max_pool, distinct)))
def test_pooling_simple(case):
    check_against_torch(case)


@pytest.mark.parametrize("case", cases(_pool_cases(F.average_pooling, _th_avg_pool, randn)))
def test_average_pooling(case):
    check_against_torch(case)


def test_max_pooling_alias():
    assert F.max_pooling is F.pooling


# =============================================================================
# Kinks and ties, where both frameworks pick the same one-sided derivative
# =============================================================================
_TIES = np.array([[0.0, 1.0, 1.0, -1.0], [2.0, 2.0, 0.0, 2.0], [-1.0, -1.0, -1.0, 0.0]])
_TIES_4D = _rng.integers(0, 3, (2, 2, 4, 5)).astype(np.float64)

TIES = {
    # ReLU's gradient at 0 is 0 and leaky ReLU's is the slope, in both.
    "relu-at-zero": Case(F.relu, torch.relu, (_TIES,)),
    "leaky_relu-at-zero": Case(lambda x: F.leaky_relu(x, 0.1), lambda t: TF.leaky_relu(t, 0.1), (_TIES,)),
    # clip lets the gradient through at its bounds (clamp too).
    "clip-at-bounds": Case(lambda x: F.clip(x, -1.0, 1.0), lambda t: torch.clamp(t, -1.0, 1.0), (_TIES,)),
    # Along ONE axis torch.max/min(dim) send the gradient to the first extremum,
    # as dezero does (amax and the full reductions would split it).
    "max-ties-axis1": Case(lambda x: F.max(x, axis=1), lambda t: torch.max(t, dim=1).values, (_TIES,)),
    "max-ties-axis0-keepdims": Case(
        lambda x: F.max(x, axis=0, keepdims=True), lambda t: torch.max(t, dim=0, keepdim=True).values, (_TIES,)
    ),
    "min-ties-axis1": Case(lambda x: F.min(x, axis=1), lambda t: torch.min(t, dim=1).values, (_TIES,)),
    # max_pool2d routes a window's gradient to its first maximum in row-major order.
    "pooling-ties": Case(lambda x: F.pooling(x, 2, 1), lambda t: TF.max_pool2d(t, 2, 1), (_TIES_4D,)),
    "pooling-ties-stride-pad": Case(lambda x: F.pooling(x, 3, 2, 1), lambda t: TF.max_pool2d(t, 3, 2, 1), (_TIES_4D,)),
    "pooling_simple-ties": Case(lambda x: F.pooling_simple(x, 2, 1), lambda t: TF.max_pool2d(t, 2, 1), (_TIES_4D,)),
}


@pytest.mark.parametrize("case", cases(TIES))
def test_kinks_and_ties(case):
    check_against_torch(case)


# =============================================================================
# Every differentiable public function has a table above
# =============================================================================
COVERED = {
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "pow",
    "square",
    "sqrt",
    "exp",
    "log",
    "sin",
    "cos",
    "tanh",
    "reshape",
    "transpose",
    "get_item",
    "expand_dims",
    "flatten",
    "broadcast_to",
    "sum_to",
    "sum",
    "mean",
    "average",
    "max",
    "min",
    "clip",
    "matmul",
    "astype",
    "linear",
    "embed_id",
    "sigmoid",
    "relu",
    "leaky_relu",
    "softmax",
    "log_softmax",
    "mean_squared_error",
    "softmax_cross_entropy",
    "linear_simple",
    "sigmoid_simple",
    "softmax_simple",
    "mean_squared_error_simple",
    "softmax_cross_entropy_simple",
    "sigmoid_cross_entropy",
    "binary_cross_entropy",
    "accuracy",
    "dropout",
    "batch_norm",
    "im2col",
    "col2im",
    "conv2d",
    "deconv2d",
    "conv2d_simple",
    "pooling",
    "max_pooling",
    "pooling_simple",
    "average_pooling",
}


def test_every_public_function_is_compared():
    # A function added to dezero.functions must get a torch comparison here too.
    public = set()
    for name in ("math", "array", "connection", "activation", "loss", "noise", "normalization", "conv", "pooling"):
        public.update(importlib.import_module("dezero.functions." + name).__all__)
    assert public - COVERED == set(), f"not compared with PyTorch: {sorted(public - COVERED)}"


# =============================================================================
# optimizers.py: five steps on the same quadratic objective
# =============================================================================
class _Quadratic(Layer):
    def __init__(self, p1, p2):
        super().__init__()
        self.p1 = Parameter(p1.copy())
        self.p2 = Parameter(p2.copy())


_A = positive(2, 3)
_C = randn(2, 3)
_M = randn(3, 4)
_R = randn(3)


def _dezero_loss(model):
    d = model.p1 - _C
    r = F.matmul(_M, model.p2) - _R
    return F.sum(_A * d * d) + F.sum(r * r)


def _torch_loss(p1, p2):
    r = torch.tensor(_M) @ p2 - torch.tensor(_R)
    return (torch.tensor(_A) * (p1 - torch.tensor(_C)) ** 2).sum() + (r * r).sum()


def _with_hook(optimizer, hook):
    optimizer.add_hook(hook)
    return optimizer


OPTIMIZERS = {
    "SGD": (lambda: SGD(lr=0.05), lambda ps: torch.optim.SGD(ps, lr=0.05), None),
    "MomentumSGD": (
        lambda: MomentumSGD(lr=0.03, momentum=0.8),
        lambda ps: torch.optim.SGD(ps, lr=0.03, momentum=0.8),
        None,
    ),
    "AdaGrad": (lambda: AdaGrad(lr=0.2, eps=1e-3), lambda ps: torch.optim.Adagrad(ps, lr=0.2, eps=1e-3), None),
    "AdaDelta": (
        lambda: AdaDelta(rho=0.8, eps=1e-3),
        lambda ps: torch.optim.Adadelta(ps, lr=1.0, rho=0.8, eps=1e-3),
        None,
    ),
    "Adam": (
        lambda: Adam(alpha=0.1, beta1=0.8, beta2=0.95, eps=1e-3),
        lambda ps: torch.optim.Adam(ps, lr=0.1, betas=(0.8, 0.95), eps=1e-3),
        None,
    ),
    "Adam-defaults": (lambda: Adam(), lambda ps: torch.optim.Adam(ps), None),
    "AdamW": (
        lambda: AdamW(alpha=0.1, beta1=0.8, beta2=0.95, eps=1e-3, weight_decay=0.3),
        lambda ps: torch.optim.AdamW(ps, lr=0.1, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.3),
        None,
    ),
    "MomentumSGD+WeightDecay": (
        lambda: _with_hook(MomentumSGD(lr=0.03, momentum=0.8), WeightDecay(0.1)),
        lambda ps: torch.optim.SGD(ps, lr=0.03, momentum=0.8, weight_decay=0.1),
        None,
    ),
    "Adam+ClipGrad": (lambda: _with_hook(Adam(alpha=0.1), ClipGrad(1.0)), lambda ps: torch.optim.Adam(ps, lr=0.1), 1.0),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_matches_torch_optim(name):
    make, make_torch, clip_norm = OPTIMIZERS[name]
    p1, p2 = randn(2, 3), randn(4)
    model = _Quadratic(p1, p2)
    optimizer = make().setup(model)
    tp1 = torch.tensor(p1, requires_grad=True)
    tp2 = torch.tensor(p2, requires_grad=True)
    toptimizer = make_torch([tp1, tp2])
    for step in range(1, 6):
        model.cleargrads()
        loss = _dezero_loss(model)
        loss.backward()
        optimizer.update()

        toptimizer.zero_grad()
        tloss = _torch_loss(tp1, tp2)
        tloss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_([tp1, tp2], clip_norm)
        toptimizer.step()

        _assert_close(np.asarray(loss.data), tloss.detach().numpy(), FORWARD_TOL, f"loss at step {step}")
        _assert_close(model.p1.data, tp1.detach().numpy(), FORWARD_TOL, f"p1 after step {step}")
        _assert_close(model.p2.data, tp2.detach().numpy(), FORWARD_TOL, f"p2 after step {step}")
    # The objective moved: a no-op optimizer must not pass.
    assert not np.allclose(model.p1.data, p1)
