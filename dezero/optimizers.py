"""Optimizers: turn gradients into parameter updates::

    optimizer = Adam().setup(model)
    for x, t in batches:
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()

Every update works in place on ``param.data`` with Python-float
hyperparameters, so float32 parameters and their state stay float32, on
whichever backend (NumPy or CuPy) they live.

State (momenta, moments, step counts) belongs to the parameter object it was
created for: replacing a parameter starts it afresh. ``state_dict()`` names it
by the parameter's path in the model (``l1/W/m``), which is how a checkpoint
restores it into a new model and optimizer.
"""

from __future__ import annotations

import math
import weakref
from typing import TYPE_CHECKING, Callable

import numpy as np

from dezero import habits, parallel, serialization
from dezero.backend import as_cupy, as_numpy, get_array_module
from dezero.core import Parameter, Variable

__all__ = [
    "Optimizer",
    "SGD",
    "MomentumSGD",
    "AdaGrad",
    "AdaDelta",
    "Adam",
    "AdamW",
    "WeightDecay",
    "ClipGrad",
    "FreezeParam",
]


class Optimizer:
    """Base class. Subclasses implement ``update_one(param)``.

    ``slots`` names the per-parameter state arrays (created with
    ``xp.zeros_like(param.data)``, so with the parameter's dtype and backend),
    ``counters`` the per-parameter integer state, ``step_counters`` the
    optimizer-wide integer state; all of it is saved by ``state_dict()``.
    """

    slots: tuple = ()
    counters: tuple = ()
    step_counters: tuple = ()

    def __new__(cls, *args, **kwargs):
        # PyTorch's `Adam(model.parameters(), lr=...)` would otherwise fail with
        # Python's "unexpected keyword", or store a generator as alpha.
        habits.check_optimizer_arguments(cls, args, kwargs)
        return super().__new__(cls)

    if not TYPE_CHECKING:  # a __getattr__ would make type checkers accept any attribute

        def __getattr__(self, name: str):
            # Only reached when normal lookup fails: `optimizer.step()` and friends.
            raise habits.attribute_error(self, name, habits.OPTIMIZER_ATTRIBUTES)

    def __init__(self):
        self.target = None
        self.hooks: list = []
        # Keyed by the Parameter object itself and dropped with it.
        self.state: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def setup(self, target) -> "Optimizer":
        """Attach the model (a Layer) whose parameters will be updated; returns self.

        Parameters
        ----------
        target : Layer
            The model.

        Returns
        -------
        Optimizer
            self, so that ``Adam().setup(model)`` can be assigned.

        Raises
        ------
        TypeError
            If ``target`` is not a Layer.
        """
        if not hasattr(target, "named_params"):
            raise TypeError(f"{type(self).__name__}.setup: expected a Layer or Model, got {type(target).__name__}")
        self.target = target
        return self

    def add_hook(self, f: Callable) -> None:
        """Run ``f(params)`` on the list of parameters with a gradient before each update.

        Parameters
        ----------
        f : callable
            Called as ``f(params)``; see :class:`WeightDecay`, :class:`ClipGrad`,
            :class:`FreezeParam`.
        """
        self.hooks.append(f)

    def update(self) -> None:
        """Update every parameter of the target that has a gradient."""
        if self.target is None:
            raise RuntimeError(f"{type(self).__name__}.update: call setup(model) first")
        params = [p for p in self.target.params() if p.grad is not None]
        for param in params:
            if param.data.dtype.kind not in "fc":
                # int64 Parameters can have gradients (the book's integer
                # examples), but a step of lr * grad cannot be stored in them.
                raise TypeError(
                    f"{type(self).__name__}.update: parameter {param.name or ''!s} of shape {param.shape} is "
                    f"{param.data.dtype}; optimizers update floating-point parameters only "
                    "(make it with a float dtype, e.g. Parameter(array.astype(np.float32)))"
                )
        for hook in self.hooks:
            hook(params)
            # A hook (FreezeParam) may have removed gradients: later hooks and
            # the update see only what is left.
            params = [p for p in params if p.grad is not None]
        for param in params:
            self.update_one(param)

    def update_one(self, param: Parameter) -> None:
        """Update one parameter from its gradient; subclasses implement it.

        Parameters
        ----------
        param : Parameter
            A parameter with a gradient; updated in place (``param.data``).
        """
        raise NotImplementedError(f"{type(self).__name__}.update_one")

    def _state(self, param: Parameter) -> dict:
        state = self.state.get(param)
        if state is None:
            xp = get_array_module(param.data)
            state = {name: xp.zeros_like(param.data) for name in self.slots}
            state.update({name: 0 for name in self.counters})
            self.state[param] = state
        elif self.slots and get_array_module(state[self.slots[0]]) is not get_array_module(param.data):
            # The model was moved (to_gpu/to_cpu) after this state was made:
            # the state follows its parameter, as the in-place updates need.
            convert = as_numpy if get_array_module(param.data) is np else as_cupy
            for name in self.slots:
                state[name] = convert(state[name])
        return state

    # --- saving and restoring ------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{key: numpy array}``: the optimizer-wide counters by name, and each
        parameter's state as ``'<param path>/<slot>'`` (e.g. ``'l1/W/m'``).

        Returns
        -------
        dict of str to numpy.ndarray
        """
        return serialization.optimizer_state(self)

    def load_state_dict(self, arrays: dict) -> None:
        """Restore what :meth:`state_dict` returned (after ``setup``); all or nothing.

        Parameters
        ----------
        arrays : dict of str to array
            What :meth:`state_dict` returned.

        Raises
        ------
        KeyError, ValueError, TypeError
            If the state does not fit the model's parameters; nothing is changed then.
        """
        serialization.load_optimizer_state(self, arrays)


class SGD(Optimizer):
    """``param -= lr * grad``.

    Parameters
    ----------
    lr : float
        The learning rate.
    """

    def __init__(self, lr: float = 0.01):
        super().__init__()
        self.lr = lr

    def update_one(self, param):
        parallel.add_scaled(param.data, -float(self.lr), param.grad.data)


class MomentumSGD(Optimizer):
    """``v = momentum * v - lr * grad;  param += v`` (the same trajectory as
    PyTorch's SGD with momentum while lr is constant).

    Parameters
    ----------
    lr : float
        The learning rate.
    momentum : float
        How much of the previous step is kept.
    """

    slots = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__()
        self.lr = lr
        self.momentum = momentum

    def update_one(self, param):
        v = self._state(param)["v"]
        v *= float(self.momentum)
        parallel.add_scaled(v, -float(self.lr), param.grad.data)
        param.data += v


class AdaGrad(Optimizer):
    """``h += grad**2;  param -= lr * grad / (sqrt(h) + eps)``.

    Parameters
    ----------
    lr : float
        The learning rate.
    eps : float
        Keeps the division finite.
    """

    slots = ("h",)

    def __init__(self, lr: float = 0.001, eps: float = 1e-8):
        super().__init__()
        self.lr = lr
        self.eps = eps

    def update_one(self, param):
        xp = get_array_module(param.data)
        h = self._state(param)["h"]
        grad = param.grad.data
        h += grad * grad
        param.data -= float(self.lr) * grad / (xp.sqrt(h) + float(self.eps))


class AdaDelta(Optimizer):
    """Zeiler's AdaDelta: no learning rate; step = sqrt((E[dx^2] + eps) / (E[g^2] + eps)) * grad.

    ``msg`` is the running mean of squared gradients, ``msdx`` that of squared steps.

    Parameters
    ----------
    rho : float
        Decay of the running means.
    eps : float
        Keeps the ratio finite.
    """

    slots = ("msg", "msdx")

    def __init__(self, rho: float = 0.95, eps: float = 1e-6):
        super().__init__()
        self.rho = rho
        self.eps = eps

    def update_one(self, param):
        xp = get_array_module(param.data)
        state = self._state(param)
        msg, msdx = state["msg"], state["msdx"]
        rho, eps = float(self.rho), float(self.eps)
        grad = param.grad.data
        msg *= rho
        msg += (1.0 - rho) * grad * grad
        dx = xp.sqrt((msdx + eps) / (msg + eps)) * grad
        msdx *= rho
        msdx += (1.0 - rho) * dx * dx
        param.data -= dx


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction at every step.

    The update of each parameter::

        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        param -= alpha * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t)

    computed as ``lr * m / (sqrt(v) + eps * sqrt(1 - beta2**t))`` with the
    bias-corrected step size ``lr = alpha * sqrt(1 - beta2**t) / (1 - beta1**t)``:
    the same numbers as PyTorch's Adam, eps included. ``t`` counts the updates of
    each parameter (a parameter skipped for lack of a gradient does not age);
    ``self.t`` counts calls to ``update()``.

    Parameters
    ----------
    alpha : float
        The step size (PyTorch's ``lr``).
    beta1, beta2 : float
        Decay rates of the first and second moments.
    eps : float
        Added to the denominator.
    """

    slots = ("m", "v")
    counters = ("t",)
    step_counters = ("t",)

    def __init__(self, alpha: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__()
        self.alpha = alpha
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.t = 0

    def update(self) -> None:
        self.t += 1
        super().update()

    def _lr_at(self, t: int) -> float:
        fix1 = 1.0 - math.pow(float(self.beta1), t)
        fix2 = 1.0 - math.pow(float(self.beta2), t)
        return float(self.alpha) * math.sqrt(fix2) / fix1

    @property
    def lr(self) -> float:
        """The bias-corrected step size of step ``self.t`` (of step 1 before any
        update); read-only, derived from ``alpha`` at every step."""
        return self._lr_at(max(self.t, 1))

    @lr.setter
    def lr(self, value) -> None:
        # Not `alpha = value`: `opt.lr *= 0.5` passes lr's derived value, not alpha's.
        raise AttributeError(
            f"{type(self).__name__}.lr is read-only: it is derived from alpha at every step; "
            f"change alpha instead (now {self.alpha!r}), e.g. `optimizer.alpha *= 0.5`"
        )

    def update_one(self, param):
        xp = get_array_module(param.data)
        state = self._state(param)
        state["t"] += 1
        t = state["t"]
        m, v = state["m"], state["v"]
        beta1, beta2 = float(self.beta1), float(self.beta2)
        grad = param.grad.data
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        v += (1.0 - beta2) * grad * grad
        eps_t = float(self.eps) * math.sqrt(1.0 - math.pow(beta2, t))
        param.data -= self._lr_at(t) * m / (xp.sqrt(v) + eps_t)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): before the Adam
    step, ``param *= 1 - alpha * weight_decay`` (the gradient is not touched),
    as PyTorch's AdamW does.

    Parameters
    ----------
    alpha, beta1, beta2, eps : float
        As for :class:`Adam`.
    weight_decay : float
        The decay rate, scaled by ``alpha`` at each step.
    """

    def __init__(
        self,
        alpha: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ):
        super().__init__(alpha, beta1, beta2, eps)
        self.weight_decay = weight_decay

    def update_one(self, param):
        param.data *= 1.0 - float(self.alpha) * float(self.weight_decay)
        super().update_one(param)


# =============================================================================
# Hooks: called with the list of parameters about to be updated
# =============================================================================
# A hook never changes a gradient array in place: the backward pass may hand the
# very same gradient Variable to two parameters (y = W1 + W2), and editing it
# for one would edit it for the other. Hooks assign a new Variable instead.
class WeightDecay:
    """L2 regularization: ``grad += rate * param`` before the update.

    Parameters
    ----------
    rate : float
        The L2 coefficient.
    """

    def __init__(self, rate: float):
        self.rate = rate

    def __call__(self, params) -> None:
        rate = float(self.rate)
        for param in params:
            param.grad = Variable(param.grad.data + rate * param.data)


class ClipGrad:
    """Scale all gradients down together when their global L2 norm exceeds
    ``max_norm``: ``grad *= max_norm / (norm + 1e-6)`` if that factor is < 1.

    Parameters
    ----------
    max_norm : float
        The largest global L2 norm the gradients may have.
    """

    def __init__(self, max_norm: float):
        self.max_norm = max_norm

    def __call__(self, params) -> None:
        # Summed on the device, read back once: float() per parameter would
        # wait for the GPU once per parameter.
        squares = [(p.grad.data * p.grad.data).sum(dtype=np.float64) for p in params]
        total = float(sum(squares)) if squares else 0.0
        rate = float(self.max_norm) / (math.sqrt(total) + 1e-6)
        if rate < 1.0:
            for param in params:
                param.grad = Variable(param.grad.data * rate)


class FreezeParam:
    """Leave the parameters of the given layers (or the given Parameters) untouched.

    The layers are asked for their parameters at every update, so a weight
    replaced after the hook was created stays frozen too.

    Parameters
    ----------
    *layers : Layer or Parameter
        What not to update.
    """

    def __init__(self, *layers):
        self.targets = layers

    def __call__(self, params) -> None:
        frozen = set()
        for target in self.targets:
            if isinstance(target, Parameter):
                frozen.add(id(target))
            else:
                frozen.update(id(p) for p in target.params())
        for param in params:
            if id(param) in frozen:
                param.grad = None
