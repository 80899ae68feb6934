"""Loss functions and the accuracy metric.

Every loss returns a 0-d Variable of the input's float dtype, checks its
arguments' shapes (never a silent broadcast between predictions and targets:
a target whose shape differs only by axes of length 1, (N,) for an (N, 1)
prediction, is paired element by element) and has a backward made of
differentiable ops, so it can be differentiated twice.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from dezero.backend import array_types, get_array_module
from dezero.core import Function, Variable, as_variable, as_variables
from dezero.functions.activation import log_softmax_array, sigmoid, softmax, softmax_simple
from dezero.functions.array import astype, broadcast_to, clip, get_item, mean, reshape, sum
from dezero.functions.math import log

__all__ = [
    "mean_squared_error",
    "mean_squared_error_simple",
    "softmax_cross_entropy",
    "softmax_cross_entropy_simple",
    "sigmoid_cross_entropy",
    "binary_cross_entropy",
    "accuracy",
]


def _raw(op: str, name: str, x, like=None):
    """The array inside ``x`` (targets and labels are used as plain arrays). A
    list of numbers becomes an array as NumPy makes it (integer labels stay
    integers), on the backend of ``like`` when given."""
    data = x.data if isinstance(x, Variable) else x
    if isinstance(data, (list, tuple)):
        if len(data) == 0:
            # NumPy makes [] float64, which labels could never be: an empty
            # list is an empty array of integer labels.
            data = np.zeros(0, dtype=np.int64)
        try:
            data = as_variable(data).data
        except (TypeError, ValueError) as e:
            raise type(e)(f"{op}: {name} given as a list: {e}") from None
        if like is not None:
            data = get_array_module(like).asarray(data)
    if not isinstance(data, array_types):
        raise TypeError(f"{op}: {name} must be an array, a list of numbers or a Variable, got {type(data).__name__}")
    return data


def _refuse_bools(op: str, x0: Variable, x1: Variable) -> None:
    # NumPy has no bool subtraction; its error names neither the op nor the cure.
    for name, x in (("x0", x0), ("x1", x1)):
        if x.dtype.kind == "b":
            raise TypeError(
                f"{op}: {name} is bool; a squared error needs numbers (cast it: F.astype({name}, np.float32))"
            )


def _same_elements(shape0: tuple, shape1: tuple) -> bool:
    """Whether two shapes hold the same elements in the same order, differing
    only by axes of length 1, like (N, 1) and (N,)."""
    return [d for d in shape0 if d != 1] == [d for d in shape1 if d != 1]


def _target_like(op: str, name0: str, x0, name1: str, x1):
    """``x1`` in the shape of ``x0``: as it is, or reshaped when the two differ
    only by axes of length 1 ((N, 1) predictions against (N,) targets), so the
    loss pairs the elements one by one and never broadcasts to (N, N). Any other
    difference of shapes is an error."""
    if x0.shape == x1.shape:
        return x1
    if not _same_elements(x0.shape, x1.shape):
        raise ValueError(
            f"{op}: {name0} and {name1} must have the same shape (or differ only by axes of length 1, "
            f"like (N, 1) and (N,)), got {name0} {x0.shape} and {name1} {x1.shape}"
        )
    return reshape(x1, x0.shape) if isinstance(x1, Variable) else x1.reshape(x0.shape)


def _check_float(op: str, name: str, x) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be a floating-point array, got dtype {x.dtype}")


# --- mean squared error ----------------------------------------------------------------
class MeanSquaredError(Function):
    def forward(self, x0, x1):
        xp = get_array_module(x0)
        diff = x0 - x1
        if diff.dtype.kind not in "fc":
            # Integers give the exact mean in float64, as NumPy's mean does: in
            # their own dtype 2.5 would become 2, and a difference or square
            # could wrap around (uint8 1 - 2 is 255).
            diff = x0.astype(np.float64) - x1.astype(np.float64)
        # NumPy 1.x turns a float32 scalar divided by an int into float64.
        return xp.asarray((diff * diff).sum() / len(diff), dtype=diff.dtype)

    def backward(self, gy):
        x0, x1 = self.inputs
        diff = x0 - x1
        gx0 = broadcast_to(gy, diff.shape) * diff * (2.0 / len(diff))
        return gx0, -gx0


def mean_squared_error(x0, x1) -> Variable:
    """``sum((x0 - x1) ** 2) / len(x0)``: squared error summed, averaged over the batch.

    Note the divisor is the batch size N = len(x0), not the number of elements
    (PyTorch's ``MSELoss`` divides by the element count).

    Parameters
    ----------
    x0 : Variable or array
        Predictions, with a batch axis first.
    x1 : Variable or array
        Targets, of x0's shape, or of the same elements with axes of length 1
        added or dropped ((N,) targets for an (N, 1) prediction): those are
        compared element by element, as if reshaped to x0's shape, never
        broadcast to (N, N).

    Returns
    -------
    Variable
        A 0-d Variable of x0's floating dtype; float64 for integer inputs
        (the exact mean, as NumPy's ``mean`` gives it).

    Raises
    ------
    ValueError
        If the shapes differ otherwise, or x0 has no batch axis or an empty one.
    """
    x0, x1 = as_variables(x0, x1, op="mean_squared_error")  # a list target takes x0's dtype
    _refuse_bools("mean_squared_error", x0, x1)
    x1 = _target_like("mean_squared_error", "x0", x0, "x1", x1)
    if x0.ndim == 0 or len(x0) == 0:
        raise ValueError(f"mean_squared_error: inputs need a non-empty batch axis, got shape {x0.shape}")
    return MeanSquaredError()(x0, x1)


def mean_squared_error_simple(x0, x1) -> Variable:
    """:func:`mean_squared_error` as a composition of ops, the book's first one
    (step 42): ``sum((x0 - x1) ** 2) / len(x0)``.

    No Function of its own: its gradient comes from the backward passes of
    ``-``, ``**``, ``sum`` and ``/``. Same values, gradients and argument rules
    as :func:`mean_squared_error` (an (N, 1) prediction pairs with (N,) targets
    element by element).

    Parameters
    ----------
    x0, x1 : Variable or array
        As for :func:`mean_squared_error`.

    Returns
    -------
    Variable
        A 0-d Variable of x0's floating dtype; float64 for integer inputs.

    Raises
    ------
    ValueError
        As :func:`mean_squared_error`.
    """
    op = "mean_squared_error_simple"
    x0, x1 = as_variables(x0, x1, op=op)  # a list target takes x0's dtype
    _refuse_bools(op, x0, x1)
    x1 = _target_like(op, "x0", x0, "x1", x1)
    if x0.ndim == 0 or len(x0) == 0:
        raise ValueError(f"{op}: inputs need a non-empty batch axis, got shape {x0.shape}")
    if x0.dtype.kind in "iu" and x1.dtype.kind in "iu":
        # The exact mean in float64, as mean_squared_error: integer
        # differences and squares could wrap around.
        x0, x1 = astype(x0, np.float64), astype(x1, np.float64)
    diff = x0 - x1
    return sum(diff**2) / len(diff)


# --- softmax cross entropy ------------------------------------------------------------
class SoftmaxCrossEntropy(Function):
    # softmax_cross_entropy checks its arguments before the call; the book's
    # class, SoftmaxCrossEntropy()(x, t), has them checked in forward.
    _checked = False

    def __call__(self, x, t):
        if isinstance(t, (list, tuple)):
            # Labels given as a list stay integers: the engine would give a list
            # the dtype of x, as it does to a list of numbers.
            data = x.data if isinstance(x, Variable) else x
            t = _raw("SoftmaxCrossEntropy", "t", t, like=data if isinstance(data, array_types) else None)
        return super().__call__(x, t)

    def forward(self, x, t):
        if not self._checked:
            _check_logits_and_labels("SoftmaxCrossEntropy", x, t)
        xp = get_array_module(x)
        n = x.shape[0]
        log_p = log_softmax_array(x, axis=1)
        return xp.asarray(-log_p[xp.arange(n), t].sum() / n, dtype=x.dtype)

    def backward(self, gy):
        x, t = self.inputs
        xp = get_array_module(x.data)
        n, c = x.shape
        # A one-hot built by indexing (an eye(C) would cost C * C memory for a
        # large vocabulary), on x's device.
        t_onehot = xp.zeros((n, c), dtype=x.dtype)
        t_onehot[xp.arange(n), t.data] = 1
        # softmax(x) is a fresh differentiable node, so the gradient can be
        # differentiated again.
        gx = (softmax(x, axis=1) - t_onehot) * broadcast_to(gy * (1.0 / n), x.shape)
        return gx, None


def _check_labels(op: str, t, n_classes: Optional[int] = None, scores: str = "x") -> None:
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: t must hold integer class labels, got dtype {t.dtype}")
    # One host sync per call on the GPU (this runs every training step), and
    # a needed one: CuPy wraps out-of-range indices around instead of raising.
    if n_classes is not None and t.size > 0 and bool(((t < 0) | (t >= n_classes)).any()):
        t_min, t_max = int(t.min()), int(t.max())
        bad = t_min if t_min < 0 else t_max
        raise ValueError(f"{op}: label {bad} is out of range [0, {n_classes}) for {scores} with {n_classes} classes")


def softmax_cross_entropy(x, t) -> Variable:
    """Mean over the batch of ``-log softmax(x)[i, t[i]]``.

    Parameters
    ----------
    x : Variable or array of shape (N, C)
        Unnormalised scores (logits).
    t : Variable or integer array of shape (N,)
        Class labels in ``[0, C)``.

    Returns
    -------
    Variable
        The 0-d mean loss, of x's dtype.

    Raises
    ------
    ValueError
        If x is not 2-D or is empty, if t's shape does not match, or a label
        is outside ``[0, C)``.
    TypeError
        If x is not floating point or t is not integer.

    Notes
    -----
    Computed from a log-softmax (log-sum-exp trick), never from ``log(softmax)``,
    so it is finite for logits of any size.
    """
    op = "softmax_cross_entropy"
    x, t_data = _logits_and_labels(op, x, t)
    function = SoftmaxCrossEntropy()
    function._checked = True
    return function(x, t_data)


def _logits_and_labels(op: str, x, t):
    x = as_variable(x)
    t_data = _raw(op, "t", t, like=x.data)
    _check_logits_and_labels(op, x, t_data)
    return x, t_data


def _check_logits_and_labels(op: str, x, t) -> None:
    """(N, C) floating logits x (a Variable or an array) and N integer labels t in [0, C)."""
    _check_float(op, "x", x)
    if x.ndim != 2:
        raise ValueError(f"{op}: x must be 2-D (N, C) logits, got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{op}: x has an empty batch (shape {x.shape})")
    if t.shape != x.shape[:1]:
        raise ValueError(f"{op}: t must have shape ({x.shape[0]},) to match x {x.shape}, got {t.shape}")
    _check_labels(op, t, x.shape[1])


SIMPLE_CE_EPS = 1e-15


def softmax_cross_entropy_simple(x, t) -> Variable:
    """The book's first cross entropy (step 47), written as a composition of ops:
    ``-sum(log(clip(softmax(x), 1e-15, 1))[i, t[i]]) / N``.

    It has no Function of its own: its gradient comes from the backward passes
    of softmax, clip, log and indexing. Probabilities below 1e-15 are clipped
    (so a hopeless prediction costs at most ``-log(1e-15)`` ~ 34.5, where
    :func:`softmax_cross_entropy` is exact for logits of any size), and where the
    clip is active the gradient is 0.

    Parameters
    ----------
    x : Variable or array of shape (N, C)
        Unnormalised scores (logits).
    t : Variable or integer array of shape (N,)
        Class labels in ``[0, C)``.

    Returns
    -------
    Variable
        A 0-d Variable of x's dtype.

    Raises
    ------
    ValueError
        If x is not 2-D or empty, t is not of shape (N,), or a label is out of range.
    TypeError
        If x is not floating-point or t does not hold integers.
    """
    x, t_data = _logits_and_labels("softmax_cross_entropy_simple", x, t)
    n = x.shape[0]
    xp = get_array_module(x.data)
    p = clip(softmax_simple(x, axis=1), SIMPLE_CE_EPS, 1.0)
    picked = get_item(log(p), (xp.arange(n), t_data))
    return -sum(picked) / n


# --- sigmoid cross entropy --------------------------------------------------------------
class SigmoidCrossEntropy(Function):
    def forward(self, x, t):
        xp = get_array_module(x)
        t = t.astype(x.dtype, copy=False)
        # Equal to -(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), arranged
        # so that exp only sees non-positive arguments.
        loss = xp.maximum(x, 0) - x * t + xp.log1p(xp.exp(-xp.abs(x)))
        return xp.asarray(loss.mean(), dtype=x.dtype)

    def backward(self, gy):
        x, t = self.inputs
        t = t.data.astype(x.dtype, copy=False)
        gx = (sigmoid(x) - t) * broadcast_to(gy * (1.0 / x.size), x.shape)
        return gx, None


def _check_targets(op: str, t) -> None:
    """Targets must be in [0, 1]: 0/1 labels, or soft labels for floating t."""
    if t.dtype.kind not in "iubf":
        raise TypeError(f"{op}: t must be an integer, boolean or float array, got dtype {t.dtype}")
    if t.size == 0:
        return
    if t.dtype.kind in "iu":
        if not bool(((t == 0) | (t == 1)).all()):
            raise ValueError(f"{op}: integer labels t must be 0 or 1, got values in [{int(t.min())}, {int(t.max())}]")
    elif t.dtype.kind == "f" and not bool(((t >= 0) & (t <= 1)).all()):
        raise ValueError(f"{op}: targets t must lie in [0, 1], got values in [{float(t.min())}, {float(t.max())}]")


def sigmoid_cross_entropy(x, t) -> Variable:
    """Binary cross entropy on logits, averaged over every element.

    Parameters
    ----------
    x : Variable or array
        Logits, e.g. of shape (N,) or (N, 1).
    t : Variable or array of the same shape as ``x``
        Targets: integer/boolean labels 0 or 1, or floats in [0, 1]. A shape
        that differs from x's only by axes of length 1 ((N,) for (N, 1)
        logits) is taken element by element, as if reshaped.

    Returns
    -------
    Variable
        The 0-d mean loss, of x's dtype.

    Raises
    ------
    ValueError
        If x is empty, the shapes differ otherwise, or a target is outside [0, 1].
    TypeError
        If x is not floating-point or t is not a real array.

    Notes
    -----
    Evaluated as ``max(x, 0) - x * t + log(1 + exp(-|x|))``, which equals
    ``-(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)))`` and never overflows.
    """
    op = "sigmoid_cross_entropy"
    x = as_variable(x)
    t_data = _raw(op, "t", t, like=x.data)
    _check_float(op, "x", x)
    if x.size == 0:
        raise ValueError(f"{op}: x is empty (shape {x.shape})")
    t_data = _target_like(op, "x", x, "t", t_data)
    _check_targets(op, t_data)
    return SigmoidCrossEntropy()(x, t_data)


# --- binary cross entropy ------------------------------------------------------------------
BCE_EPS = 1e-7


def binary_cross_entropy(p, t) -> Variable:
    """Binary cross entropy on probabilities, averaged over every element.

    Parameters
    ----------
    p : Variable or array
        Probabilities in [0, 1] (e.g. the output of ``sigmoid``).
    t : Variable or array of the same shape as ``p``
        Targets: integer/boolean labels 0 or 1, or floats in [0, 1]. A shape
        that differs from p's only by axes of length 1 ((N,) for (N, 1)
        probabilities) is taken element by element, as if reshaped.

    Returns
    -------
    Variable
        The 0-d mean loss, of p's dtype.

    Raises
    ------
    ValueError
        If p is empty or outside [0, 1], the shapes differ otherwise, or a
        target is outside [0, 1].
    TypeError
        If p is not floating-point, or p and t live on different devices.

    Notes
    -----
    ``p`` is clipped to ``[eps, 1 - eps]`` with ``eps = 1e-7`` so that ``log``
    never sees 0: the loss is at most ``-log(1e-7)`` ~ 16.1 per element. The eps
    is chosen for float32, where ``1 - 1e-7`` still rounds below 1 (a smaller eps
    such as 1e-12 would make ``1 - eps == 1`` and ``log(1 - p) = -inf``). Where
    the clip is active the gradient is 0. For logits prefer
    :func:`sigmoid_cross_entropy`, which is exact and stable.
    """
    op = "binary_cross_entropy"
    p = as_variable(p)
    t_data = _raw(op, "t", t, like=p.data)
    _check_float(op, "p", p)
    if p.size == 0:
        raise ValueError(f"{op}: p is empty (shape {p.shape})")
    t_data = _target_like(op, "p", p, "t", t_data)
    _check_targets(op, t_data)
    if not bool(((p.data >= 0) & (p.data <= 1)).all()):
        raise ValueError(
            f"{op}: p must hold probabilities in [0, 1], got values in "
            f"[{float(p.data.min())}, {float(p.data.max())}] (for logits use "
            "sigmoid_cross_entropy)"
        )
    xp = get_array_module(p.data)
    if xp is not get_array_module(t_data):
        raise TypeError(f"{op}: p and t live on different devices")
    t_data = t_data.astype(p.dtype, copy=False)  # integer labels must not upcast float32
    p = clip(p, BCE_EPS, 1.0 - BCE_EPS)
    return -mean(t_data * log(p) + (1 - t_data) * log(1 - p))


# --- accuracy ---------------------------------------------------------------------------
def accuracy(y, t) -> Variable:
    """Fraction of rows whose highest score ``argmax(y, axis=1)`` equals the label.

    Not differentiable: the result is a Variable with no creator, holding a 0-d
    array of y's float dtype (float64 for a non-float y).

    Parameters
    ----------
    y : Variable or array of shape (N, C) (or (N, C, ...): classes on axis 1)
        Scores, one per class.
    t : Variable or integer array of shape (N,) (or (N, ...))
        The correct class of each row.

    Returns
    -------
    Variable
        The fraction of correct rows, a 0-d value in [0, 1] (NaN, with
        NumPy's warning, for an empty batch).

    Raises
    ------
    ValueError
        If the shapes do not match or a label is outside ``[0, C)``.
    TypeError
        If t does not hold integers.
    """
    y_data = _raw("accuracy", "y", y)
    t_data = _raw("accuracy", "t", t, like=y_data)
    if y_data.ndim < 2:
        raise ValueError(f"accuracy: y must be (N, C) scores, got shape {y_data.shape}")
    if y_data.shape[0] == 0:  # the fraction of no rows is undefined, as the losses of no rows are
        raise ValueError(f"accuracy: y has an empty batch (shape {y_data.shape})")
    expected = y_data.shape[:1] + y_data.shape[2:]
    if t_data.shape != expected:
        raise ValueError(f"accuracy: t must have shape {expected} to match y {y_data.shape}, got {t_data.shape}")
    # Out-of-range labels refused, as softmax_cross_entropy does: -1 or C
    # would just count as wrong, hiding a bug in the labels.
    _check_labels("accuracy", t_data, y_data.shape[1], scores="y")
    xp = get_array_module(y_data)
    if xp is not get_array_module(t_data):
        raise TypeError("accuracy: y and t live on different devices")
    dtype = y_data.dtype if y_data.dtype.kind == "f" else np.dtype(np.float64)
    pred = y_data.argmax(axis=1)
    return Variable(xp.asarray((pred == t_data).mean(), dtype=dtype))
