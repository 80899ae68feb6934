"""Layers: objects that own Parameters and compute with them.

A Layer registers an attribute as soon as a Parameter or another Layer is
assigned to it. It remembers only the attribute's *name*; the value is always
read back with ``getattr``. There is therefore exactly one place where a weight
lives, and replacing it (``model.l1.W = Parameter(...)``, ``model.l1 = Linear(3)``)
is seen by ``params()``, the optimizers and ``save_weights`` alike: no second
dictionary can go stale.

    class TwoLayerNet(Layer):
        def __init__(self, hidden, out):
            super().__init__()
            self.l1 = Linear(hidden)      # registered as 'l1'
            self.l2 = Linear(out)         # registered as 'l2'

        def forward(self, x):
            return self.l2(F.sigmoid(self.l1(x)))

Parameters are addressed by '/'-joined paths (``l1/W``), which is also how
``save_weights`` names them in the ``.npz`` file.

Lazy layers (``Linear(10)`` without ``in_size``) create their weights on the
first call, from the input's shape, on the input's backend (or on the backend
chosen with ``to_gpu``/``to_cpu``).
"""
from __future__ import annotations

import math
import weakref
from typing import Callable, Iterator, Optional

import numpy as np

from dezero.backend import array_types, as_cupy, as_numpy, cupy, get_array_module
from dezero import serialization, visualize
from dezero.core import Parameter, Variable, as_variable
import dezero.functions as F
from dezero.functions.shapes import pair

__all__ = ["Layer", "Linear", "Conv2d", "Deconv2d", "EmbedID", "BatchNorm", "RNN", "LSTM"]


def _is_number_list(x) -> bool:
    """Whether ``x`` is a list or tuple of (nested) numbers rather than, say, a
    tuple of states; only the first element is looked at, the op checks the rest."""
    if not isinstance(x, (list, tuple)):
        return False
    while isinstance(x, (list, tuple)) and len(x) > 0:
        x = x[0]
    return isinstance(x, (int, float, complex, np.generic))


def _weak(x):
    try:
        return weakref.ref(x)
    except TypeError:  # ints, None, ...: nothing to keep
        return None


# =============================================================================
# Layer
# =============================================================================
class Layer:
    """Base class of everything that owns Parameters.

    Subclasses implement ``forward(*inputs)``. Calling the layer runs forward
    and keeps weak references to the inputs and outputs (``self.inputs``,
    ``self.outputs``), as a Function does.
    """

    _backend: Optional[str] = None   # 'numpy' or 'cupy' once to_cpu()/to_gpu() ran
    _state_names: tuple = ()         # attributes holding a Variable state (RNN's h), moved too

    def __init__(self):
        # The name lists are also created on first use, so a subclass that
        # forgets to call super().__init__() still registers its parameters.
        self._names_list()
        self._persistent_list()

    # --- registration ------------------------------------------------------------------
    def _names_list(self) -> list:
        names = self.__dict__.get("_param_names")
        if names is None:
            names = []
            object.__setattr__(self, "_param_names", names)
        return names

    def _persistent_list(self) -> list:
        names = self.__dict__.get("_persistent_names")
        if names is None:
            names = []
            object.__setattr__(self, "_persistent_names", names)
        return names

    def __setattr__(self, name: str, value) -> None:
        names = self._names_list()
        if isinstance(value, (Parameter, Layer)):
            if name not in names:  # reassignment keeps the original position
                names.append(name)
            if name in self._persistent_list():  # now a parameter, not a plain array
                self._persistent_list().remove(name)
            if isinstance(value, Parameter) and value.name is None:
                value.name = name  # shown by the graph drawer
        else:
            if name in names:  # e.g. ``self.b = None``: no longer a parameter
                names.remove(name)
            if _holds_layers(value):
                raise TypeError(
                    f"{type(self).__name__}.{name}: a {type(value).__name__} of Layers/Parameters "
                    "is not registered, so its parameters would be invisible to params(), the "
                    "optimizers and save_weights; assign each one as an attribute "
                    "(setattr(self, f'l{i}', layer)) or use dezero.models.Sequential")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        names = self._names_list()
        if name in names:
            names.remove(name)
        persistents = self._persistent_list()
        if name in persistents:
            persistents.remove(name)
        object.__delattr__(self, name)

    def add_persistent(self, name: str, value=None) -> None:
        """Register a plain array attribute that is not trained but is saved with
        the weights (batch norm's running statistics). ``value`` may be None for
        a lazily sized array."""
        if value is not None and not isinstance(value, array_types):
            raise TypeError(f"add_persistent({name!r}): expected an array or None, got {type(value).__name__}")
        persistents = self._persistent_list()
        if name not in persistents:
            persistents.append(name)
        setattr(self, name, value)

    def __getstate__(self) -> dict:
        # Weak references cannot be pickled, and a recurrent state would carry
        # its whole graph along: keep its value only.
        state = self.__dict__.copy()
        state.pop("inputs", None)
        state.pop("outputs", None)
        for name in self._state_names:
            if state.get(name) is not None:
                state[name] = Variable(state[name].data, requires_grad=False)
        return state

    # --- calling -------------------------------------------------------------------------
    def __call__(self, *inputs):
        if any(_is_number_list(x) for x in inputs):
            inputs = tuple(self._list_as_variable(x) if _is_number_list(x) else x for x in inputs)
        outputs = self.forward(*inputs)
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        self.inputs = [_weak(x) for x in inputs]
        self.outputs = [_weak(y) for y in outputs]
        return outputs if len(outputs) > 1 else outputs[0]

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def _list_as_variable(self, x) -> Variable:
        """A list of numbers given to the layer, as a Variable on the layer's
        backend and in its floating dtype, as a Python number would take it
        (``model([[1.0, 2.0]])`` on a float32 model computes in float32)."""
        like = next((p.data for p in self.params() if p.data is not None), None)
        dtype = getattr(self, "dtype", None)
        if like is None and isinstance(dtype, np.dtype):
            like = np.empty(0, dtype=dtype)  # a lazy layer without weights yet
        return as_variable(x, like=like)

    # --- traversal ----------------------------------------------------------------------
    def state_entries(self, prefix: str = "", seen: Optional[set] = None) -> Iterator[tuple]:
        """Yield ``(path, layer, attribute, kind)`` for every array saved with the
        model: each Parameter (kind ``'param'``) and persistent array (kind
        ``'persistent'``), depth first in assignment order; a Parameter or Layer
        reachable twice is visited once (under its first path). This is how
        :mod:`dezero.serialization` sees a model."""
        if seen is None:
            seen = set()
        seen.add(id(self))
        for name in list(self._names_list()):
            value = getattr(self, name)
            path = prefix + name
            if isinstance(value, Layer):
                if id(value) not in seen:
                    yield from value.state_entries(path + "/", seen)
            elif id(value) not in seen:
                seen.add(id(value))
                yield path, self, name, "param"
        for name in self._persistent_list():
            yield prefix + name, self, name, "persistent"

    def named_params(self) -> Iterator[tuple]:
        """Yield ``(path, Parameter)`` pairs, e.g. ``('l1/W', W)``; shared Parameters once."""
        for path, owner, name, kind in self.state_entries():
            if kind == "param":
                yield path, getattr(owner, name)

    def params(self) -> Iterator[Parameter]:
        """Yield every Parameter once, recursively, in assignment order."""
        for _, param in self.named_params():
            yield param

    def flatten_params(self) -> dict:
        """Return ``{path: Parameter}`` (a fresh dict: a view, not a second store)."""
        return dict(self.named_params())

    def named_persistents(self) -> Iterator[tuple]:
        """Yield ``(path, array or None)`` for the persistent (non-trained) arrays."""
        for path, owner, name, kind in self.state_entries():
            if kind == "persistent":
                yield path, getattr(owner, name)

    def layers_tree(self, seen: Optional[set] = None) -> Iterator["Layer"]:
        """Yield this layer and every sub-layer once."""
        if seen is None:
            seen = set()
        if id(self) in seen:
            return
        seen.add(id(self))
        yield self
        for name in list(self._names_list()):
            value = getattr(self, name)
            if isinstance(value, Layer):
                yield from value.layers_tree(seen)

    def cleargrads(self) -> None:
        """Reset the gradient of every Parameter to None."""
        for param in self.params():
            param.cleargrad()

    # --- devices --------------------------------------------------------------------------
    def to_cpu(self) -> "Layer":
        """Move every Parameter, persistent array and recurrent state to NumPy; lazy
        weights will be created there. An optimizer's state follows at its next update."""
        return self._move("numpy", as_numpy)

    def to_gpu(self) -> "Layer":
        """Move every Parameter, persistent array and recurrent state to CuPy; lazy
        weights will be created there. An optimizer's state follows at its next update."""
        return self._move("cupy", as_cupy)

    def _move(self, backend: str, convert) -> "Layer":
        for param in self.params():
            if backend == "cupy":
                param.to_gpu()
            else:
                param.to_cpu()
        for _, owner, name, kind in list(self.state_entries()):
            value = getattr(owner, name)
            if kind == "persistent" and value is not None:
                setattr(owner, name, convert(value))
        for layer in self.layers_tree():
            for name in layer._state_names:
                state = getattr(layer, name, None)
                if state is None:
                    continue
                moved = convert(state.data)
                if moved is not state.data:
                    # A fresh leaf: the graph behind the old state stays on the old
                    # device, and no backward pass can cross from one to the other.
                    setattr(layer, name, Variable(moved, requires_grad=False))
        # Only once everything moved (to_gpu raises without a GPU): where lazy
        # weights will be created from now on.
        for layer in self.layers_tree():
            object.__setattr__(layer, "_backend", backend)
        return self

    def array_module(self, x=None):
        """The array module (NumPy or CuPy) new weights of this layer are created
        with: the one chosen by to_gpu/to_cpu, else that of the layer's existing
        weights (so W lands next to b), else that of the input ``x``."""
        if self._backend == "cupy":
            return cupy
        if self._backend == "numpy":
            return np
        for name in self._names_list():
            value = getattr(self, name)
            if isinstance(value, Parameter) and value.data is not None:
                return get_array_module(value.data)
        return get_array_module(x)

    def lazy_shape(self, name: str) -> Optional[tuple]:
        """The shape the not-yet-created weight ``name`` will have, with None for
        the sizes that come from the first input (``Linear``'s W: ``(None, out_size)``),
        or None when nothing is known. Used to check weights loaded into a lazy layer."""
        return None

    # --- looking at a model -----------------------------------------------------------
    def plot(self, *inputs, to_file: str = "model.png"):
        """Run forward on ``inputs`` and draw the graph; see :func:`dezero.visualize.plot_model`."""
        return visualize.plot_model(self, *inputs, to_file=to_file)

    def summary(self, print_fn: Optional[Callable] = print) -> str:
        """A table of the parameters; see :func:`dezero.visualize.summary`."""
        return visualize.summary(self, print_fn)

    # --- saving and loading -------------------------------------------------------------
    def save_weights(self, path) -> None:
        """Write the weights to an ``.npz`` file, atomically; see :func:`dezero.serialization.save_weights`."""
        serialization.save_weights(self, path)

    def load_weights(self, path) -> None:
        """Load weights written by :meth:`save_weights`, all or nothing; see
        :func:`dezero.serialization.load_weights`."""
        serialization.load_weights(self, path)


def _holds_layers(value) -> bool:
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, (list, tuple)):
        return False
    return any(isinstance(v, (Layer, Parameter)) for v in value)


def _normal(xp, shape: tuple, std: float, dtype):
    # Drawn in float64 by the global generator (so np.random.seed makes runs
    # repeatable) and cast once, so a float32 layer never holds float64 weights.
    return (xp.random.randn(*shape) * std).astype(dtype)


# =============================================================================
# Linear
# =============================================================================
class Linear(Layer):
    """Fully connected layer ``y = x @ W + b``, W of shape (in_size, out_size).

    W is drawn from N(0, 1/in_size) (LeCun normal: keeps the variance of the
    output close to that of the input when inputs are standardized; the book's
    choice), b is zero. With ``in_size=None`` W is created on the first call
    from ``x.shape[1]``.
    """

    def __init__(self, out_size: int, nobias: bool = False, dtype=np.float32,
                 in_size: Optional[int] = None):
        super().__init__()
        self.out_size = int(out_size)
        self.dtype = np.dtype(dtype)
        self.W = Parameter(None, name="W")
        if in_size is not None:
            self._init_W(np, int(in_size))
        self.b = None if nobias else Parameter(np.zeros(self.out_size, dtype=self.dtype), name="b")

    @property
    def in_size(self) -> Optional[int]:
        return None if self.W.data is None else self.W.shape[0]

    def _init_W(self, xp, in_size: int) -> None:
        self.W.data = _normal(xp, (in_size, self.out_size), math.sqrt(1.0 / in_size), self.dtype)

    def lazy_shape(self, name):
        return {"W": (None, self.out_size), "b": (self.out_size,)}.get(name)

    def forward(self, x):
        if self.W.data is None:
            if x.ndim != 2:
                raise ValueError(f"Linear: x must be 2-D (N, in_size), got shape {tuple(x.shape)}; "
                                 "flatten it first (F.reshape(x, (len(x), -1)))")
            self._init_W(self.array_module(x), x.shape[1])
        return F.linear(x, self.W, self.b)


# =============================================================================
# Convolutions
# =============================================================================
class _ConvBase(Layer):
    """What Conv2d and Deconv2d share; they differ in the layout of W."""

    _in_axis: int  # the axis of W that counts input channels

    def _w_shape(self, in_channels: Optional[int]) -> tuple:
        raise NotImplementedError

    def __init__(self, out_channels: int, kernel_size, stride=1, pad=0, nobias: bool = False,
                 dtype=np.float32, in_channels: Optional[int] = None):
        super().__init__()
        self.out_channels = int(out_channels)
        self.kernel_size = pair(kernel_size)
        self.stride = stride
        self.pad = pad
        self.dtype = np.dtype(dtype)
        self.W = Parameter(None, name="W")
        if in_channels is not None:
            self._init_W(np, int(in_channels))
        self.b = None if nobias else Parameter(np.zeros(self.out_channels, dtype=self.dtype), name="b")

    @property
    def in_channels(self) -> Optional[int]:
        if self.W.data is None:
            return None
        return self.W.shape[self._in_axis]

    def _init_W(self, xp, in_channels: int) -> None:
        kh, kw = self.kernel_size
        # Fan-in scaling, std = sqrt(1 / (C * KH * KW)), the book's choice. He et
        # al. use 2 / fan-in to make up for ReLU zeroing half the signal; that
        # matters for deep nets trained from scratch without batch norm, not for
        # the small ones trained here or for pretrained weights, which replace it.
        std = math.sqrt(1.0 / (in_channels * kh * kw))
        self.W.data = _normal(xp, self._w_shape(in_channels), std, self.dtype)

    def lazy_shape(self, name):
        return {"W": self._w_shape(None), "b": (self.out_channels,)}.get(name)

    def _ensure_W(self, x, op: str) -> None:
        if x.ndim != 4:
            raise ValueError(f"{op}: x must be 4-D (N, C, H, W), got shape {tuple(x.shape)}")
        if self.W.data is None:
            self._init_W(self.array_module(x), x.shape[1])


class Conv2d(_ConvBase):
    """2-D convolution, W of shape (out_channels, in_channels, KH, KW).

    W is drawn from N(0, 1/(C*KH*KW)) (fan-in scaling), b is zero. With
    ``in_channels=None`` W is created on the first call from ``x.shape[1]``.
    """

    _in_axis = 1

    def _w_shape(self, c):
        return (self.out_channels, c) + self.kernel_size

    def forward(self, x):
        self._ensure_W(x, "Conv2d")
        return F.conv2d(x, self.W, self.b, self.stride, self.pad)


class Deconv2d(_ConvBase):
    """2-D transposed convolution, W of shape (in_channels, out_channels, KH, KW).

    Same arguments and initialization as :class:`Conv2d`.
    """

    _in_axis = 0

    def _w_shape(self, c):
        return (c, self.out_channels) + self.kernel_size

    def forward(self, x):
        self._ensure_W(x, "Deconv2d")
        return F.deconv2d(x, self.W, self.b, self.stride, self.pad)


# =============================================================================
# Embedding
# =============================================================================
class EmbedID(Layer):
    """Lookup table: row ``x[i]`` of W (in_size, out_size) for each integer id; W ~ N(0, 1)."""

    def __init__(self, in_size: int, out_size: int, dtype=np.float32):
        super().__init__()
        self.dtype = np.dtype(dtype)
        self.W = Parameter(_normal(np, (int(in_size), int(out_size)), 1.0, self.dtype), name="W")

    def forward(self, x):
        return F.embed_id(x, self.W)


# =============================================================================
# Batch normalization
# =============================================================================
class BatchNorm(Layer):
    """Batch normalization over axis 1 (features or channels).

    gamma (ones) and beta (zeros) are Parameters; the running mean and variance
    (``avg_mean``, ``avg_var``) are plain arrays, updated during training and
    used in test mode (``with dezero.test_mode()``), and saved with the weights.
    All four are sized from the first input.
    """

    def __init__(self, decay: float = 0.9, eps: float = 2e-5):
        super().__init__()
        self.decay = decay
        self.eps = eps
        self.gamma = Parameter(None, name="gamma")
        self.beta = Parameter(None, name="beta")
        self.avg_mean: Optional[np.ndarray] = None
        self.avg_var: Optional[np.ndarray] = None
        self.add_persistent("avg_mean", None)
        self.add_persistent("avg_var", None)

    def lazy_shape(self, name):
        return (None,)

    def forward(self, x):
        if x.ndim < 2:
            raise ValueError(f"BatchNorm: x must be at least 2-D (N, C, ...), got shape {tuple(x.shape)}")
        xp = self.array_module(x)
        channels, dtype = x.shape[1], x.dtype
        if self.gamma.data is None:
            self.gamma.data = xp.ones(channels, dtype=dtype)
        if self.beta.data is None:
            self.beta.data = xp.zeros(channels, dtype=dtype)
        if self.avg_mean is None:
            self.avg_mean = xp.zeros(channels, dtype=dtype)
        if self.avg_var is None:
            self.avg_var = xp.ones(channels, dtype=dtype)
        return F.batch_norm(x, self.gamma, self.beta, self.avg_mean, self.avg_var,
                            decay=self.decay, eps=self.eps)


# =============================================================================
# Recurrent layers
# =============================================================================
def _check_state_batch(layer: "RNN | LSTM", x) -> None:
    # A state kept from a batch of another size would broadcast silently.
    if layer.h is not None and layer.h.shape[0] != x.shape[0]:
        raise ValueError(f"{type(layer).__name__}: the input has batch size {x.shape[0]} but the state "
                         f"has {layer.h.shape[0]}; call reset_state() before a batch of another size")


class RNN(Layer):
    """Elman RNN: ``h = tanh(x2h(x) + h2h(h_prev))`` (h2h without bias).

    The hidden state is kept between calls; ``reset_state()`` starts a new
    sequence. Cut the graph with ``loss.unchain_backward()`` for truncated BPTT.
    ``to_gpu``/``to_cpu`` move the state too (as a new leaf: the graph is cut there).
    """

    _state_names = ("h",)

    def __init__(self, hidden_size: int, in_size: Optional[int] = None, dtype=np.float32):
        super().__init__()
        self.x2h = Linear(hidden_size, in_size=in_size, dtype=dtype)
        self.h2h = Linear(hidden_size, in_size=hidden_size, nobias=True, dtype=dtype)
        self.h: Optional[Variable] = None

    def reset_state(self) -> None:
        self.h = None

    def forward(self, x):
        _check_state_batch(self, x)
        if self.h is None:
            h_new = F.tanh(self.x2h(x))
        else:
            h_new = F.tanh(self.x2h(x) + self.h2h(self.h))
        self.h = h_new
        return h_new


class LSTM(Layer):
    """Long short-term memory with the standard gates:

        f, i, o = sigmoid(.), sigmoid(.), sigmoid(.)   forget, input, output gates
        u = tanh(.)                                    candidate cell
        c = f * c_prev + i * u,   h = o * tanh(c)

    each pre-activation being ``x2h(x) + h2h(h_prev)``. The four gates share one
    Linear of width 4*hidden_size (columns f|i|o|u), so a step is two matrix
    products instead of eight. The state (h, c) moves with ``to_gpu``/``to_cpu``, as in :class:`RNN`.
    """

    _state_names = ("h", "c")

    def __init__(self, hidden_size: int, in_size: Optional[int] = None, dtype=np.float32):
        super().__init__()
        self.hidden_size = int(hidden_size)
        self.x2h = Linear(4 * self.hidden_size, in_size=in_size, dtype=dtype)
        self.h2h = Linear(4 * self.hidden_size, in_size=self.hidden_size, nobias=True, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.h: Optional[Variable] = None
        self.c: Optional[Variable] = None

    def forward(self, x):
        _check_state_batch(self, x)
        gates = self.x2h(x)
        if self.h is not None:
            gates = gates + self.h2h(self.h)
        H = self.hidden_size
        f = F.sigmoid(gates[:, 0 * H:1 * H])
        i = F.sigmoid(gates[:, 1 * H:2 * H])
        o = F.sigmoid(gates[:, 2 * H:3 * H])
        u = F.tanh(gates[:, 3 * H:4 * H])
        c_new = i * u if self.c is None else f * self.c + i * u
        h_new = o * F.tanh(c_new)
        self.h, self.c = h_new, c_new
        return h_new
