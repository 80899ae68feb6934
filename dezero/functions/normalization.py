"""Batch normalisation.

Training mode normalises with the statistics of the batch and folds them into
running averages; test mode (``dezero.test_mode()``) normalises with those
running averages instead, which makes the op a fixed per-channel affine map.
"""

from __future__ import annotations

import numbers

import numpy as np

from dezero.backend import array_types, get_array_module
from dezero.core import Config, Function, Variable, as_variable
from dezero.functions.array import mean, reshape, sum

__all__ = ["batch_norm"]


def _stat_axes(ndim: int) -> tuple:
    """Every axis except the channel axis 1: (0,) for (N, C), (0, 2, 3) for (N, C, H, W)."""
    return (0,) + tuple(range(2, ndim))


def _channel_shape(ndim: int, c: int) -> tuple:
    """Shape that broadcasts a per-channel vector against x: (1, C, 1, 1) for 4-D."""
    return (1, c) + (1,) * (ndim - 2)


class BatchNorm(Function):
    """Training mode: normalise with the batch mean and (biased) variance.

    Called in test mode it normalises with the running statistics and leaves
    them alone, as the book's ``BatchNorm`` does (:func:`batch_norm` builds a
    :class:`FixedBatchNorm` for that instead). It checks its arguments as
    :func:`batch_norm` does, under its own name: the running statistics,
    decay and eps when built, x, gamma and beta when called.

    Parameters
    ----------
    running_mean, running_var : array of shape (C,)
        Running statistics, updated in place in training mode.
    decay, eps : float
        As for :func:`batch_norm`.
    """

    def __init__(self, running_mean, running_var, decay: float, eps: float):
        # A layer may hold its running statistics in Variables; the arrays
        # inside are what gets updated.
        running_mean = running_mean.data if isinstance(running_mean, Variable) else running_mean
        running_var = running_var.data if isinstance(running_var, Variable) else running_var
        self.decay, self.eps = _check_statistics("BatchNorm", _CLASS_NAMES, running_mean, running_var, decay, eps)
        self.running_mean = running_mean
        self.running_var = running_var
        self.fixed: "FixedBatchNorm | None" = None

    def forward(self, x, gamma, beta):
        _check_inputs("BatchNorm", _CLASS_NAMES, x, gamma, beta, self.running_mean, self.running_var)
        if not Config.train:
            self.fixed = FixedBatchNorm(self.running_mean, self.running_var, self.eps)
            return self.fixed.forward(x, gamma, beta)
        xp = get_array_module(x)
        axes, shape = _stat_axes(x.ndim), _channel_shape(x.ndim, x.shape[1])
        mu = x.mean(axis=axes)
        var = x.var(axis=axes)
        inv_std = 1.0 / xp.sqrt(var + self.eps)
        x_hat = (x - mu.reshape(shape)) * inv_std.reshape(shape)
        y = gamma.reshape(shape) * x_hat + beta.reshape(shape)

        # The running variance estimates the population variance, so it takes
        # the unbiased batch variance m / (m - 1) * var (as Chainer and PyTorch
        # do); the normalisation above uses the biased one. Updated in place:
        # the caller (a BatchNorm layer) owns these arrays.
        m = x.size // x.shape[1]
        adjust = m / max(m - 1, 1)
        self.running_mean *= self.decay
        self.running_mean += (1.0 - self.decay) * mu
        self.running_var *= self.decay
        self.running_var += (1.0 - self.decay) * adjust * var
        self.running_mean = self.running_var = None  # the backward does not need them

        # Only per-channel vectors are kept; x_hat is rebuilt from x when needed.
        self.mu, self.inv_std = mu, inv_std
        return y

    def backward(self, gy):
        x, gamma, _ = self.inputs
        if self.fixed is not None:
            return _fixed_backward(x, gamma, gy, self.fixed.mu, self.fixed.inv_std)
        axes, shape = _stat_axes(x.ndim), _channel_shape(x.ndim, x.shape[1])
        c = x.shape[1]
        m = x.size // c
        if Config.enable_backprop:
            # The gradient will be differentiated again (create_graph=True):
            # the statistics must be functions of x inside the graph.
            xc = x - mean(x, axis=axes, keepdims=True)
            inv_std = (mean(xc * xc, axis=axes, keepdims=True) + self.eps) ** -0.5
            x_hat = xc * inv_std
        else:
            # A plain backward: constants from the forward are enough and cheaper.
            inv_std = Variable(self.inv_std.reshape(shape))
            x_hat = Variable((x.data - self.mu.reshape(shape)) * self.inv_std.reshape(shape))
        gbeta = sum(gy, axis=axes, keepdims=True)
        ggamma = sum(gy * x_hat, axis=axes, keepdims=True)
        # d/dx of gamma * x_hat: the mean and the variance depend on x too,
        # which removes gy's per-channel mean and its projection on x_hat.
        gx = (reshape(gamma, shape) * inv_std) * (gy - (gbeta + x_hat * ggamma) * (1.0 / m))
        return gx, reshape(ggamma, (c,)), reshape(gbeta, (c,))


class FixedBatchNorm(Function):
    """Test mode: normalise with given (running) statistics, a per-channel affine map."""

    def __init__(self, mean, var, eps: float):
        xp = get_array_module(mean)
        # Copies: the running arrays may be updated in place before backward runs.
        self.mu = mean.copy()
        self.inv_std = 1.0 / xp.sqrt(var + eps)
        # What an exporter writes (dezero.onnx: ONNX wants the variance, not inv_std).
        self.var, self.eps = var.copy(), eps

    def forward(self, x, gamma, beta):
        shape = _channel_shape(x.ndim, x.shape[1])
        mu = self.mu.astype(x.dtype, copy=False).reshape(shape)
        inv_std = self.inv_std.astype(x.dtype, copy=False).reshape(shape)
        self.mu, self.inv_std = mu, inv_std
        return gamma.reshape(shape) * ((x - mu) * inv_std) + beta.reshape(shape)

    def backward(self, gy):
        x, gamma, _ = self.inputs
        return _fixed_backward(x, gamma, gy, self.mu, self.inv_std)


def _fixed_backward(x: Variable, gamma: Variable, gy: Variable, mu, inv_std) -> tuple:
    """Gradients of ``gamma * (x - mu) * inv_std + beta`` for constant mu and
    inv_std, already shaped to broadcast against x."""
    axes, shape = _stat_axes(x.ndim), _channel_shape(x.ndim, x.shape[1])
    x_hat = (x - mu) * inv_std  # linear in x, so differentiable again
    gx = gy * (reshape(gamma, shape) * inv_std)
    ggamma = sum(gy * x_hat, axis=axes)
    gbeta = sum(gy, axis=axes)
    return gx, ggamma, gbeta


# What the running statistics are called in messages: batch_norm's argument
# names, and the book's BatchNorm class's.
_FUNCTION_NAMES = ("mean", "var")
_CLASS_NAMES = ("running_mean", "running_var")


def _check_statistics(op: str, names: tuple, mean, var, decay, eps) -> tuple:
    """Check the running statistics, decay and eps; returns (decay, eps) as
    Python floats (NumPy float64 scalars would upcast float32 arrays)."""
    for name, a in zip(names, (mean, var)):
        if not isinstance(a, array_types):
            raise TypeError(
                f"{op}: {name} must be an array (a running statistic, updated in place), got {type(a).__name__}"
            )
        if a.dtype.kind != "f":
            raise TypeError(
                f"{op}: {name} must be a floating-point array (a running statistic, updated in place), "
                f"got dtype {a.dtype}"
            )
    return check_decay_and_eps(op, decay, eps)


def check_decay_and_eps(op: str, decay, eps) -> tuple:
    """Check batch norm's decay (a number in [0, 1]) and eps (positive).

    Parameters
    ----------
    op : str
        The operation, for the messages.
    decay, eps : number
        As given.

    Returns
    -------
    tuple of float
        ``(decay, eps)`` as Python floats (NumPy float64 scalars would upcast
        float32 arrays).
    """
    for name, value in (("decay", decay), ("eps", eps)):
        # A bool is most likely an argument in the wrong place.
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"{op}: decay must be in [0, 1], got {decay}")
    if not eps > 0:
        raise ValueError(f"{op}: eps must be positive, got {eps}")
    return float(decay), float(eps)


def _check_inputs(op: str, names: tuple, x, gamma, beta, mean, var) -> None:
    """Check x, gamma and beta (arrays) against each other and the running
    statistics; in training mode also that the batch has a variance."""
    if x.ndim < 2:
        raise ValueError(f"{op}: x must be (N, C) or (N, C, H, W), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: x must be a floating-point array, got dtype {x.dtype}")
    if x.size == 0:
        raise ValueError(f"{op}: x is empty (shape {x.shape})")
    c = x.shape[1]
    xp = get_array_module(x)
    for name, a in (("gamma", gamma), ("beta", beta), (names[0], mean), (names[1], var)):
        if not isinstance(a, array_types):
            raise TypeError(f"{op}: {name} must be an array, got {type(a).__name__}")
        if a.shape != (c,):
            raise ValueError(
                f"{op}: {name} must have shape ({c},) for x of shape {x.shape} (channels on axis 1), got {a.shape}"
            )
        if get_array_module(a) is not xp:
            raise TypeError(f"{op}: {name} and x live on different devices")
    if Config.train and x.size // c == 1:
        # One value per channel has variance 0: the output would be beta alone,
        # the gradient of x zero and the running variance would decay to 0.
        raise ValueError(
            f"{op}: expected more than 1 value per channel in training mode, got x of "
            f"shape {x.shape} (N*H*W = 1); use a batch of 2 or more, or test mode "
            "(dezero.test_mode()) to normalise with the running statistics"
        )


def batch_norm(x, gamma, beta, mean, var, decay: float = 0.9, eps: float = 2e-5) -> Variable:
    """Batch normalisation over the channel axis 1.

    ``y = gamma * (x - mu) / sqrt(sigma2 + eps) + beta`` per channel, with the
    statistics taken over every axis but 1: the batch for (N, C), the batch and
    the pixels for (N, C, H, W).

    Parameters
    ----------
    x : Variable or array of shape (N, C) or (N, C, H, W)
    gamma, beta : Variable or array of shape (C,)
        Scale and shift (learned).
    mean, var : array of shape (C,)
        Running statistics. In training mode (``dezero.Config.train``) they are
        updated **in place**: ``running = decay * running + (1 - decay) * batch``,
        where the batch variance used for ``var`` is the unbiased one,
        ``m / (m - 1)`` times the biased variance over the m = N*H*W values of a
        channel (as in Chainer and PyTorch). In test mode they are used to
        normalise instead of the batch statistics, and left untouched.
    decay : float
        Weight of the old running value (PyTorch's ``momentum`` is 1 - decay).
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    Variable
        Of x's shape and dtype.

    Raises
    ------
    ValueError
        For shapes that do not fit, and in training mode for a batch with
        one value per channel (N*H*W = 1), whose variance is 0 (PyTorch
        refuses it too).
    TypeError
        For non-floating-point x or running statistics.
    """
    x, gamma, beta = as_variable(x), as_variable(gamma), as_variable(beta)
    # A layer may hold its running statistics in Variables; the arrays inside
    # are what gets updated.
    mean = mean.data if isinstance(mean, Variable) else mean
    var = var.data if isinstance(var, Variable) else var
    _check_inputs("batch_norm", _FUNCTION_NAMES, x.data, gamma.data, beta.data, mean, var)
    decay, eps = _check_statistics("batch_norm", _FUNCTION_NAMES, mean, var, decay, eps)
    if Config.train:
        return BatchNorm(mean, var, decay, eps)(x, gamma, beta)
    return FixedBatchNorm(mean, var, eps)(x, gamma, beta)
