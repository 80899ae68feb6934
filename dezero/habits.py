"""What users of PyTorch and Chainer reach for, and what dezero calls it.

dezero keeps the book's API: ``Adam(alpha=...)``, ``optimizer.update()``,
``model.cleargrads()``, ``with dezero.test_mode():``, ``axis=``. Someone who
types the PyTorch or Chainer spelling should not get Python's bare "has no
attribute" or "unexpected keyword argument", but an error that names the
dezero way. The tables here hold those sentences, in one place; the classes
and functions concerned consult them only once a lookup or a call has
already failed, so nothing changes on the normal path.

``docs/coming_from_pytorch.md`` is the same mapping written for people.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional, TypeVar

__all__ = [
    "LAYER_ATTRIBUTES",
    "OPTIMIZER_ATTRIBUTES",
    "FUNCTION_NAMES",
    "FUNCTION_KEYWORDS",
    "attribute_error",
    "renamed_keywords",
    "LAYER_KEYWORDS",
    "layer_keywords",
    "check_optimizer_arguments",
]

# model.<name> -> what to write instead (Layer.__getattr__).
LAYER_ATTRIBUTES = {
    "eval": "test mode is a context, not a switch on the model: `with dezero.test_mode(): y = model(x)` "
    "(dropout off, batch norm on its running statistics)",
    "train": "training mode is the default; leave it with `with dezero.test_mode(): ...`, "
    "which switches back by itself at the end of the block",
    "parameters": "use `model.params()` (a generator of every Parameter, each once)",
    "named_parameters": "use `model.named_params()` (pairs of path and Parameter, e.g. ('l1/W', W))",
    "zero_grad": "use `model.cleargrads()`, before `loss.backward()`",
    "zerograds": "use `model.cleargrads()` (Chainer's old name), before `loss.backward()`",
    "namedparams": "use `model.named_params()` (pairs of path and Parameter, e.g. ('l1/W', W))",
    "cuda": "use `model.to_gpu()` (needs CuPy)",
    "cpu": "use `model.to_cpu()`",
    "to": "use `model.to_gpu()` or `model.to_cpu()`",
    "to_device": "use `model.to_gpu()` or `model.to_cpu()`",
    "children": "use `model.layers_tree()` (this layer and every sub-layer, each once)",
    "modules": "use `model.layers_tree()` (this layer and every sub-layer, each once)",
    "register_buffer": "use `model.add_persistent(name, array)` (saved with the weights, not trained)",
    "register_parameter": "assign it as an attribute: `self.W = Parameter(array)` registers it",
    "state_dict": "use `model.save_weights(path)` (or `dezero.save_checkpoint(path, model, optimizer)`); "
    "in memory, `dict(model.named_params())` maps paths to Parameters",
    "load_state_dict": "use `model.load_weights(path)` (or `dezero.load_checkpoint(path, model, optimizer)`)",
}

# optimizer.<name> -> what to write instead (Optimizer.__getattr__).
OPTIMIZER_ATTRIBUTES = {
    "step": "use `optimizer.update()`",
    "zero_grad": "gradients belong to the model: call `model.cleargrads()` before `loss.backward()`",
    "param_groups": "hyperparameters are plain attributes (e.g. `optimizer.lr = 0.01` for SGD, "
    "`optimizer.alpha = 1e-4` for Adam); the model comes from `setup(model)`",
    "add_param_group": "an optimizer updates the one model given to `setup(model)`; "
    "use one optimizer per model, or a Model that holds both",
}

# F.<name> -> the dezero function (the module-level __getattr__ of dezero.functions).
FUNCTION_NAMES = {
    "cross_entropy": "use `F.softmax_cross_entropy(logits, labels)` (it takes logits, like PyTorch's cross_entropy)",
    "nll_loss": "use `F.softmax_cross_entropy(logits, labels)` on the logits (it applies log_softmax itself)",
    "mse_loss": "use `F.mean_squared_error(x0, x1)` (it averages over the batch, not over every element)",
    "binary_cross_entropy_with_logits": "use `F.sigmoid_cross_entropy(logits, labels)`",
    "max_pool2d": "use `F.pooling(x, kernel_size, stride, pad)` (max pooling; also `F.max_pooling`); "
    "its stride defaults to 1, not to kernel_size",
    "avg_pool2d": "use `F.average_pooling(x, kernel_size, stride, pad)`; its stride defaults to 1, not to kernel_size",
    "conv_transpose2d": "use `F.deconv2d(x, W, b, stride, pad)`",
    "embedding": "use `F.embed_id(x, W)`",
    "squeeze": "use `F.reshape(x, shape)`",
    "unsqueeze": "use `F.expand_dims(x, axis)`",
    "view": "use `F.reshape(x, shape)` or `x.reshape(...)`",
    "permute": "use `F.transpose(x, axes)` or `x.transpose(...)`",
}

# Keyword arguments of PyTorch -> dezero's name (functions taking ``axis``).
FUNCTION_KEYWORDS = {"dim": "axis", "keepdim": "keepdims"}


def attribute_error(owner: object, name: str, table: dict) -> AttributeError:
    """The AttributeError for ``owner.<name>``, with the dezero way when ``table`` knows it.

    Parameters
    ----------
    owner : object
        The object whose attribute was asked for (a Layer, an Optimizer).
    name : str
        The attribute's name.
    table : dict
        Known habits: name -> what to write instead.

    Returns
    -------
    AttributeError
        To be raised by the caller's ``__getattr__``; Python's own wording
        for names the table does not know.
    """
    kind = type(owner).__name__
    message = f"{kind!r} object has no attribute {name!r}"
    hint = table.get(name)
    if hint is not None:
        message += f": {hint}"
    return AttributeError(message)


_F = TypeVar("_F", bound=Callable)


def renamed_keywords(function: _F) -> _F:
    """Make ``function`` answer PyTorch's ``dim=``/``keepdim=`` with dezero's names.

    The call goes straight through; only when it fails with a TypeError and a
    keyword of :data:`FUNCTION_KEYWORDS` was passed is the error replaced by
    one naming the right keyword, e.g. ``softmax() takes axis=, not dim=``.

    Parameters
    ----------
    function : callable
        A function taking ``axis`` (and perhaps ``keepdims``).

    Returns
    -------
    callable
        The wrapped function, with the same name, docstring and signature.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except TypeError:
            wrong = [k for k in kwargs if k in FUNCTION_KEYWORDS]
            if not wrong:
                raise
            fixes = ", ".join(f"{FUNCTION_KEYWORDS[k]}=, not {k}=" for k in wrong)
            raise TypeError(f"{function.__name__}() takes {fixes} (dezero uses NumPy's names)") from None

    return wrapper  # type: ignore[return-value]


# Keyword arguments of PyTorch's layer constructors -> what dezero takes instead.
LAYER_KEYWORDS = {
    "in_features": "use in_size=",
    "out_features": "use out_size= (the first argument)",
    "bias": "use nobias= (inverted: nobias=True for no bias)",
    "padding": "use pad=",
    "output_padding": "use outsize= (the output's (height, width))",
    "padding_mode": "there is none: dezero pads with zeros",
    "dilation": "there is none: dezero has no dilated convolution",
    "groups": "there is none: dezero has no grouped convolution",
    "num_features": "there is none: the number of channels comes from the first batch",
    "momentum": "use decay= (decay = 1 - momentum: PyTorch's 0.1 is dezero's 0.9)",
    "affine": "there is none: gamma and beta are always learned",
    "track_running_stats": "there is none: the running statistics are always kept",
    "num_embeddings": "use in_size= (the first argument)",
    "embedding_dim": "use out_size= (the second argument)",
    "input_size": "use in_size=",
    "batch_first": "there is none: RNN and LSTM take one time step, (N, in_size), per call",
    "num_layers": "there is none: stack RNN or LSTM layers yourself, one per layer",
    "padding_idx": "there is none: EmbedID has no padding id; mask the rows yourself",
}


def layer_keywords(init: _F) -> _F:
    """Make a layer constructor answer PyTorch's keyword names with dezero's.

    The call goes straight through; only when it fails with a TypeError and a
    keyword of :data:`LAYER_KEYWORDS` was passed is the error replaced by one
    naming the dezero keyword, e.g. ``Conv2d() has no keyword 'padding'
    (...); for padding=, use pad=``. Another unexpected keyword gets Python's
    error, naming the layer called rather than a shared base class.

    Parameters
    ----------
    init : callable
        A layer's ``__init__``.

    Returns
    -------
    callable
        The wrapped ``__init__``.
    """

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        try:
            return init(self, *args, **kwargs)
        except TypeError as error:
            wrong = [k for k in kwargs if k in LAYER_KEYWORDS]
            if not wrong:
                # Python names the __init__ that failed, which may be a shared base
                # class (_ConvBase): name the layer the user called instead.
                text = str(error)
                if "__init__()" in text:
                    raise TypeError(f"{type(self).__name__}(){text.split('__init__()', 1)[1]}") from None
                raise
            fixes = "; ".join(f"for {k}=, {LAYER_KEYWORDS[k]}" for k in wrong)
            raise TypeError(
                f"{type(self).__name__}() has no keyword {wrong[0]!r} (dezero keeps the book's names); {fixes}"
            ) from None

    return wrapper  # type: ignore[return-value]


def _optimizer_keyword_hint(cls: type, name: str, accepted: list) -> Optional[str]:
    """What to say about the keyword ``name``, which ``cls`` does not take."""
    kind = cls.__name__
    step_size = "lr" if "lr" in accepted else "alpha" if "alpha" in accepted else None
    if name in ("lr", "learning_rate", "alpha", "step_size"):
        if step_size is None:
            return f"{kind} has no `{name}`: it has no learning rate"
        return f"{kind} has no `{name}`; use `{step_size}`"
    if name == "betas" and "beta1" in accepted:
        return f"{kind} has no `betas`; use `beta1=` and `beta2=`"
    if name == "weight_decay":
        return (
            f"{kind} has no `weight_decay`; use `AdamW(weight_decay=...)` for decoupled decay, or "
            "`optimizer.add_hook(WeightDecay(rate))` for the L2 term added to the gradient "
            "(what PyTorch's weight_decay= does)"
        )
    if name == "momentum":
        return f"{kind} has no `momentum`; use `MomentumSGD(lr=..., momentum=...)`"
    if name in ("params", "model", "target"):
        return f"{kind} takes hyperparameters only; attach the model with `{kind}(...).setup(model)`"
    return None


def check_optimizer_arguments(cls: Any, args: tuple, kwargs: dict) -> None:
    """Refuse PyTorch-style optimizer arguments with an error that says the dezero way.

    ``Adam(model.parameters(), lr=1e-3)`` is ``Adam(alpha=1e-3).setup(model)``
    here: the model comes through ``setup`` and Adam's step size is ``alpha``,
    as in the book. Called by ``Optimizer.__new__``, before ``__init__``.

    Parameters
    ----------
    cls : type
        The optimizer class being created.
    args, kwargs : tuple, dict
        The arguments of the call.

    Raises
    ------
    TypeError
        If a model, a Parameter or a generator of them is passed (they go to
        ``setup``), or a keyword the class does not take; the message names
        the right spelling where there is one.
    """
    kind = cls.__name__
    for value in list(args) + list(kwargs.values()):
        if hasattr(value, "named_params") or inspect.isgenerator(value) or type(value).__name__ == "Parameter":
            raise TypeError(
                f"{kind}() takes hyperparameters only, got a {type(value).__name__}; "
                f"attach the model with `{kind}(...).setup(model)`"
            )
    if not kwargs:
        return
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return
    parameters = list(signature.parameters.values())[1:]  # without self
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    accepted = [p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for name in kwargs:
        if name in accepted:
            continue
        hint = _optimizer_keyword_hint(cls, name, accepted)
        known = ", ".join(accepted) if accepted else "none"
        message = hint or f"{kind} has no `{name}`"
        raise TypeError(f"{message} ({kind}'s hyperparameters: {known})")
