"""Layers: objects that own Parameters and compute with them.

A Layer registers an attribute as soon as a Parameter or another Layer is
assigned to it. It remembers only the attribute's *name*; the value is always
read back with ``getattr``. There is therefore exactly one place where a weight
lives, and replacing it (``model.l1.W = Parameter(...)``, ``model.l1 = Linear(3)``)
is seen by ``params()``, the optimizers and ``save_weights`` alike: no second
dictionary can go stale::

    class TwoLayerNet(Layer):
        def __init__(self, hidden, out):
            super().__init__()
            self.l1 = Linear(hidden)      # registered as 'l1'
            self.l2 = Linear(out)         # registered as 'l2'

        def forward(self, x):
            return self.l2(F.sigmoid(self.l1(x)))

Parameters are addressed by '/'-joined paths (``l1/W``), which is also how
``save_weights`` names them in the ``.npz`` file.

A container of layers (a list, a dict, a deque, a SimpleNamespace..., at any
depth) is not registered, and would hide their parameters from training and
saving, so the Layer refuses it (at assignment, or when the parameters are
next gathered if the layers were put into it later);
hold a variable number of layers in a :class:`LayerList` instead. Assigning a
plain Variable over a Parameter is refused for the same reason.

Lazy layers (``Linear(10)`` without ``in_size``) create their weights on the
first call, from the input's shape, on the input's backend (or on the backend
chosen with ``to_gpu``/``to_cpu``).
"""

from __future__ import annotations

import collections.abc as abc
import math
import types
import weakref
from typing import TYPE_CHECKING, Callable, Iterator, Optional

import numpy as np

from dezero.backend import array_types, as_cupy, as_numpy, cupy, get_array_module
from dezero import habits, serialization, visualize
from dezero.core import Parameter, Variable, as_variable
import dezero.functions as F
from dezero.functions.normalization import check_decay_and_eps
from dezero.functions.shapes import pair

__all__ = ["Layer", "LayerList", "Linear", "Conv2d", "Deconv2d", "EmbedID", "BatchNorm", "RNN", "LSTM"]


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

    _backend: Optional[str] = None  # 'numpy' or 'cupy' once to_cpu()/to_gpu() ran
    _state_names: tuple = ()  # attributes holding a Variable state (RNN's h), moved too

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

    def _watched_list(self) -> list:
        names = self.__dict__.get("_watched_containers")
        if names is None:
            names = []
            object.__setattr__(self, "_watched_containers", names)
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
            if value is not None and isinstance(self.__dict__.get(name), Parameter):
                raise TypeError(
                    f"{type(self).__name__}.{name} is a Parameter: assigning a {type(value).__name__} "
                    f"would take it out of params(), so it would never be trained nor saved; assign "
                    f"a Parameter (.{name} = Parameter(array)), change its values in place "
                    f"(.{name}.data = array), or del the attribute first to store something else"
                )
            if name in names:  # e.g. ``self.b = None``: no longer a parameter
                names.remove(name)
            holds_data = True
            if type(value) not in _LEAF_TYPES and value is not None:
                found, holds_data = _scan(value)
                if found:
                    raise TypeError(_container_message(self, name, value))
            watched = self._watched_list()
            if not holds_data:
                # An empty container (or one of empty containers, [[]]): Layers
                # could be put into it later (self.blocks = [] and then
                # .append(...)); state_entries() looks again (_check_containers).
                if name not in watched:
                    watched.append(name)
            elif name in watched:
                watched.remove(name)
        object.__setattr__(self, name, value)

    if not TYPE_CHECKING:  # a __getattr__ would make type checkers accept any attribute

        def __getattr__(self, name: str):
            # Only reached when normal lookup fails: PyTorch's and Chainer's names
            # (model.eval(), model.parameters()...) get the dezero way; any other
            # name gets Python's usual AttributeError.
            raise habits.attribute_error(self, name, habits.LAYER_ATTRIBUTES)

    def _check_containers(self) -> None:
        """Refuse a container attribute that has come to hold Layers or
        Parameters since it was assigned: their parameters would be invisible.

        A container seen holding data (a number, a string, an array: a loss
        history) is not looked at again, so this costs next to nothing per
        call; one that holds only empty containers (``[[]]``) is still
        waiting to be filled and stays watched.
        """
        watched = self.__dict__.get("_watched_containers")
        if not watched:
            return
        for name in list(watched):
            found, holds_data = _scan(self.__dict__.get(name))
            if found:
                raise TypeError(_container_message(self, name, self.__dict__.get(name)))
            if holds_data:
                watched.remove(name)

    def __delattr__(self, name: str) -> None:
        for names in (self._names_list(), self._persistent_list(), self._watched_list()):
            if name in names:
                names.remove(name)
        object.__delattr__(self, name)

    def add_persistent(self, name: str, value=None) -> None:
        """Register a plain array attribute that is not trained but is saved with
        the weights (batch norm's running statistics). ``value`` may be None for
        a lazily sized array.

        Parameters
        ----------
        name : str
            The attribute.
        value : array or None
            Its value (NumPy or CuPy).

        Raises
        ------
        TypeError
            If ``value`` is neither an array nor None.
        """
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
        # Bookkeeping, not attributes for __setattr__ to register or watch.
        object.__setattr__(self, "inputs", [_weak(x) for x in inputs])
        object.__setattr__(self, "outputs", [_weak(y) for y in outputs])
        return outputs if len(outputs) > 1 else outputs[0]

    def forward(self, *inputs):
        """The computation of the layer; subclasses implement it. Call the layer, not this method.

        Parameters
        ----------
        *inputs : Variable or array
            What the layer is called with.

        Returns
        -------
        Variable or tuple of Variables
            The output(s).
        """
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
        :mod:`dezero.serialization` sees a model.

        Parameters
        ----------
        prefix : str
            Put in front of every path (the path of this layer in a larger model).
        seen : set, optional
            Ids already visited (used by the recursion).

        Yields
        ------
        tuple
            ``(path, layer, attribute, kind)``.
        """
        if seen is None:
            seen = set()
        seen.add(id(self))
        self._check_containers()
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
        """Yield ``(path, Parameter)`` pairs, e.g. ``('l1/W', W)``; shared Parameters once.

        Yields
        ------
        tuple of (str, Parameter)
        """
        for path, owner, name, kind in self.state_entries():
            if kind == "param":
                yield path, getattr(owner, name)

    def params(self) -> Iterator[Parameter]:
        """Yield every Parameter once, recursively, in assignment order.

        Yields
        ------
        Parameter
        """
        for _, param in self.named_params():
            yield param

    def flatten_params(self) -> dict:
        """Return ``{path: Parameter}`` (a fresh dict: a view, not a second store).

        Returns
        -------
        dict of str to Parameter
        """
        return dict(self.named_params())

    def named_persistents(self) -> Iterator[tuple]:
        """Yield ``(path, array or None)`` for the persistent (non-trained) arrays.

        Yields
        ------
        tuple of (str, array or None)
        """
        for path, owner, name, kind in self.state_entries():
            if kind == "persistent":
                yield path, getattr(owner, name)

    def layers_tree(self, seen: Optional[set] = None) -> Iterator["Layer"]:
        """Yield this layer and every sub-layer once.

        Parameters
        ----------
        seen : set, optional
            Ids already visited (used by the recursion).

        Yields
        ------
        Layer
        """
        if seen is None:
            seen = set()
        if id(self) in seen:
            return
        seen.add(id(self))
        self._check_containers()
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
        weights will be created there. An optimizer's state follows at its next update.

        Returns
        -------
        Layer
            self.
        """
        return self._move("numpy", as_numpy)

    def to_gpu(self) -> "Layer":
        """Move every Parameter, persistent array and recurrent state to CuPy; lazy
        weights will be created there. An optimizer's state follows at its next update.

        Returns
        -------
        Layer
            self.

        Raises
        ------
        RuntimeError
            If CuPy or a CUDA device is missing (nothing is moved then).
        """
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
        weights (so W lands next to b), else that of the input ``x``.

        Parameters
        ----------
        x : Variable or array, optional
            The input that is about to create the weights.

        Returns
        -------
        module
            ``numpy`` or ``cupy``.
        """
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
        or None when nothing is known. Used to check weights loaded into a lazy layer.

        A size may also be given a name (a str): every array of the layer that
        uses that name must have the same size there, and one dtype
        (``BatchNorm``'s four arrays are all ``('channels',)``).

        Parameters
        ----------
        name : str
            The attribute of the weight (``"W"``, ``"b"``...).

        Returns
        -------
        tuple or None
            The expected shape: None or a size name in the places the input decides.
        """
        return None

    # --- looking at a model -----------------------------------------------------------
    def plot(self, *inputs, to_file="model.png"):
        """Run forward on ``inputs`` and draw the graph; see :func:`dezero.visualize.plot_model`.

        ``to_file=None`` writes nothing and returns the picture for a Jupyter
        notebook, drawn inline (see :func:`dezero.visualize.show_graph`).

        Parameters
        ----------
        *inputs : Variable or array
            Inputs for one forward pass.
        to_file : str, os.PathLike or None
            The image file (its extension picks the format), or None for the
            inline picture.

        Returns
        -------
        str or graphviz.Source
            The path written, or the picture.
        """
        return visualize.plot_model(self, *inputs, to_file=to_file)

    def summary(self, print_fn: Optional[Callable] = print) -> str:
        """A table of the parameters; see :func:`dezero.visualize.summary`.

        Parameters
        ----------
        print_fn : callable or None
            Called with the table's text; None prints nothing.

        Returns
        -------
        str
            The table.
        """
        return visualize.summary(self, print_fn)

    # --- saving and loading -------------------------------------------------------------
    def save_weights(self, path) -> None:
        """Write the weights to an ``.npz`` file, atomically; see :func:`dezero.serialization.save_weights`.

        Parameters
        ----------
        path : str or os.PathLike
            The file, used exactly as given.
        """
        serialization.save_weights(self, path)

    def load_weights(self, path) -> None:
        """Load weights written by :meth:`save_weights`, all or nothing; see
        :func:`dezero.serialization.load_weights`.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by :meth:`save_weights`.
        """
        serialization.load_weights(self, path)


class LayerList(Layer):
    """A list of Layers whose parameters are registered, like PyTorch's
    ``ModuleList`` and Chainer's ``ChainList``: for a number of blocks known
    only at run time, where a plain list would hide them from ``params()``::

        class Tower(Layer):
            def __init__(self, depth):
                super().__init__()
                self.blocks = LayerList(*[Linear(32) for _ in range(depth)])

            def forward(self, x):
                for block in self.blocks:
                    x = F.relu(block(x))
                return x

    Item ``i`` is registered as the attribute ``str(i)``, so its parameters
    are ``blocks/0/W``, ``blocks/0/b``, ``blocks/1/W``...: they are trained,
    saved, loaded and moved to the GPU with the layer that holds the list.
    A LayerList has no ``forward``: iterate over it (or use
    :class:`dezero.models.Sequential` for a plain chain).

    Parameters
    ----------
    *layers : Layer
        The first items, in order.
    """

    _size: int = 0  # items 0 .. _size - 1 are the attributes '0', '1', ...

    def __init__(self, *layers: Layer):
        super().__init__()
        self.extend(layers)

    def _check_layer(self, layer, where: str) -> None:
        if not isinstance(layer, Layer):
            hint = " (pass the layers themselves: LayerList(*layers))" if isinstance(layer, (list, tuple)) else ""
            raise TypeError(f"LayerList.{where}: expected a Layer, got {type(layer).__name__}{hint}")

    def append(self, layer: Layer) -> None:
        """Add ``layer`` at the end, registered as ``str(len(self))``.

        Parameters
        ----------
        layer : Layer
            The layer to add.
        """
        self._check_layer(layer, "append")
        setattr(self, str(self._size), layer)
        self._size += 1

    def extend(self, layers) -> None:
        """Append every layer of ``layers``, in order.

        Parameters
        ----------
        layers : iterable of Layer
            The layers to add.
        """
        for layer in layers:
            self.append(layer)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Layer]:
        return (getattr(self, str(i)) for i in range(self._size))

    def _index(self, i) -> int:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"LayerList indices must be ints or slices, got {type(i).__name__}")
        if not -self._size <= i < self._size:
            raise IndexError(f"LayerList index {i} out of range for {self._size} layers")
        return int(i) % self._size

    def __getitem__(self, i):
        """``blocks[i]``, or a plain list of layers for a slice."""
        if isinstance(i, slice):
            return [getattr(self, str(k)) for k in range(self._size)[i]]
        return getattr(self, str(self._index(i)))

    def __setitem__(self, i, layer: Layer) -> None:
        """Replace item ``i`` (it keeps its name and position)."""
        index = self._index(i)
        self._check_layer(layer, "__setitem__")
        setattr(self, str(index), layer)

    def forward(self, *inputs):
        raise NotImplementedError(
            "LayerList has no forward: iterate over it in the forward of the layer "
            "that holds it, or use dezero.models.Sequential to chain layers"
        )

    def __repr__(self) -> str:
        return f"LayerList({', '.join(type(layer).__name__ for layer in self)})"


# What a value is, decided by its type alone (an ndarray also by its dtype).
_DATA, _PLACEHOLDER, _LAYER, _CONTAINER, _MAPPING, _NAMESPACE, _ARRAY = range(7)
# Types seen so far and their kind: one dict lookup per item, so a list of
# a million Variables on a layer is checked in a fraction of a second.
_KINDS: dict[type, int] = {type(None): _PLACEHOLDER}
# Sequences that are data: iterating them would only yield data (a range may be huge).
_DATA_SEQUENCES = (str, bytes, bytearray, memoryview, range)
# Numbers and strings: a list made of them alone is data, which one pass in C
# (set.issuperset over map(type, ...)) tells for a list of a million floats in
# about 10 milliseconds.
_LEAF_TYPES = frozenset(
    {int, float, complex, bool, str, bytes, np.float64, np.float32, np.float16, np.int64, np.int32, np.bool_}
)


def _kind(kind_type: type) -> int:
    """The kind of the values of ``kind_type`` (remembered in _KINDS).

    Containers are every ``collections.abc.Collection`` (lists, tuples, sets,
    deques, UserList, dict views...), every Mapping (dicts, UserDict,
    ChainMap: keys and values), SimpleNamespace (its attributes) and NumPy
    arrays of objects. A Collection can be iterated again without being used
    up, so iterators and generators, which are no Collections, are never
    touched."""
    kind = _KINDS.get(kind_type)
    if kind is not None:
        return kind
    if issubclass(kind_type, (Layer, Parameter)):
        kind = _LAYER
    elif issubclass(kind_type, (Variable, *_DATA_SEQUENCES)):
        kind = _DATA
    elif issubclass(kind_type, np.ndarray):
        kind = _ARRAY
    elif issubclass(kind_type, array_types):  # CuPy arrays hold numbers only
        kind = _DATA
    elif hasattr(kind_type, "__array__") or hasattr(kind_type, "__dlpack__"):
        # Other libraries' arrays (a PyTorch tensor, a pandas frame): data, and
        # iterating them may fail (a 0-d tensor) or cost a Python object per number.
        kind = _DATA
    elif issubclass(kind_type, types.SimpleNamespace):
        kind = _NAMESPACE
    elif issubclass(kind_type, abc.Mapping):
        kind = _MAPPING
    elif issubclass(kind_type, abc.Collection):
        kind = _CONTAINER
    else:
        kind = _DATA
    _KINDS[kind_type] = kind
    return kind


def _parts(value, kind: int, counts: bool) -> list:
    """The iterables to look into in a container, each with whether a value
    found there is data. The keys of a mapping are searched for Layers but
    are not data: ``{"encoder": []}`` is a structure still waiting for its
    layers."""
    if kind == _MAPPING:
        return [(value.keys(), False), (value.values(), counts)]
    if kind == _NAMESPACE:
        return [(vars(value).values(), counts)]
    if kind == _ARRAY:
        return [(value.ravel(), counts)]
    return [(value, counts)]


def _scan(value) -> tuple:
    """``(found, holds_data)`` for an attribute's value: whether it holds a Layer
    or Parameter at any depth (a list of lists of Layers hides their parameters
    as well as a list of Layers), and whether it is data or holds some (a
    value that is no container; None inside a container is a placeholder,
    ``[None] * n`` to be filled with layers, not data).

    Walked with a stack rather than recursion, so any depth is fine, and with
    the ids of the containers seen, so a container that holds itself is
    looked at once.
    """
    kind = _kind(type(value))
    if kind == _ARRAY and value.dtype != object:
        kind = _DATA
    if kind in (_DATA, _PLACEHOLDER, _LAYER):  # no container: nothing to watch
        return False, True
    try:
        return _scan_container(value, kind)
    except Exception:  # a container of the user's that fails to iterate: data, not ours to judge
        return False, True


def _scan_container(value, kind: int) -> tuple:
    holds_data = False
    seen = {id(value)}
    stack = _parts(value, kind, True)
    while stack:
        items, counts = stack.pop()
        if _LEAF_TYPES.issuperset(map(type, items)):
            holds_data = holds_data or (counts and len(items) > 0)
            continue
        for item in items:
            known = _KINDS.get(type(item))
            kind = _kind(type(item)) if known is None else known
            if kind == _DATA:
                holds_data = holds_data or counts
            elif kind == _LAYER:
                return True, holds_data
            elif kind == _ARRAY and item.dtype != object:
                holds_data = holds_data or counts
            elif kind != _PLACEHOLDER and id(item) not in seen:
                seen.add(id(item))
                stack.extend(_parts(item, kind, counts))
    return False, holds_data


def _container_message(layer: Layer, name: str, value) -> str:
    return (
        f"{type(layer).__name__}.{name}: a {type(value).__name__} of Layers/Parameters is not "
        "registered, so its parameters would be invisible to params(), the optimizers and "
        f"save_weights; use a dezero.layers.LayerList (self.{name} = LayerList(...), then "
        f".append(layer)) or dezero.models.Sequential, or assign each one as an attribute "
        "(setattr(self, f'l{i}', layer))"
    )


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_size(value) -> bool:
    return _is_int(value) and value > 0


def _positive_int(owner: str, name: str, value) -> int:
    """``value`` as an int, or a clear error naming the layer and the argument
    (int() would quietly turn 2.5 into 2; a size of 0 would divide by zero)."""
    if not _is_int(value):
        raise TypeError(f"{owner}: {name} must be a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value}")
    return int(value)


def _int_pair(owner: str, name: str, value, minimum: int) -> tuple:
    """An int or an (h, w) pair of ints, each at least ``minimum``, as a pair."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if isinstance(value, (tuple, list)) and len(items) != 2 or not all(_is_int(v) for v in items):
        raise TypeError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in items):
        what = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{owner}: {name} must be {what}, got {value!r}")
    return pair(value)


def _normal(xp, shape: tuple, std: float, dtype):
    # Drawn in float64 by the global generator (so np.random.seed makes runs
    # repeatable) and cast once, so a float32 layer never holds float64 weights.
    return (xp.random.randn(*shape) * std).astype(dtype)


def _check_constructor(layer: str, got: str, meant: Optional[str], nobias, dtype, in_name: str, in_value) -> np.dtype:
    """The arguments after the sizes, checked: the book's order is not PyTorch's
    (``Linear(64, 10)`` would be a 64-wide layer with ``nobias=10``), and a
    wrong guess must fail loudly, saying which call was probably meant."""
    if not isinstance(nobias, (bool, np.bool_)):
        hint = (
            (
                f"; dezero takes the output size first and the input size as a keyword, unlike "
                f"PyTorch's (in, out) order: for that layer write {meant}"
            )
            if meant
            else ""
        )
        raise TypeError(f"{layer} got {got}: nobias must be a bool, got {nobias!r}{hint}")
    if in_value is not None:
        _positive_int(layer, in_name, in_value)
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{layer}: dtype must be a floating-point type, got {dtype!r}") from None
    if dtype.kind != "f":
        raise TypeError(f"{layer}: dtype must be a floating-point type, got {dtype}")
    return dtype


# =============================================================================
# Linear
# =============================================================================
class Linear(Layer):
    """Fully connected layer ``y = x @ W + b``, W of shape (in_size, out_size).

    W is drawn from N(0, 1/in_size) (LeCun normal: keeps the variance of the
    output close to that of the input when inputs are standardized; the book's
    choice), b is zero. With ``in_size=None`` W is created on the first call
    from ``x.shape[1]``.

    Parameters
    ----------
    out_size : int
        The number of outputs (the first argument, as in the book).
    nobias : bool
        No bias b.
    dtype : numpy dtype
        Of the weights (float32 by default).
    in_size : int, optional
        The number of inputs; None: taken from the first batch.

    Raises
    ------
    TypeError
        If ``nobias`` is not a bool (PyTorch's ``Linear(in, out)`` order).
    """

    @habits.layer_keywords
    def __init__(self, out_size: int, nobias: bool = False, dtype=np.float32, in_size: Optional[int] = None):
        # Only two sizes make a layer to suggest (Linear(10, 0) is no swapped call).
        meant = f"Linear({nobias}, in_size={out_size})" if _is_size(nobias) and _is_size(out_size) else None
        dtype = _check_constructor(
            "Linear", f"out_size={out_size!r}, nobias={nobias!r}", meant, nobias, dtype, "in_size", in_size
        )
        super().__init__()
        self.out_size = _positive_int("Linear", "out_size", out_size)
        self.dtype = dtype
        self.W = Parameter(None, name="W")
        if in_size is not None:
            self._init_W(np, in_size)
        self.b = None if nobias else Parameter(np.zeros(self.out_size, dtype=self.dtype), name="b")

    @property
    def in_size(self) -> Optional[int]:
        return None if self.W.data is None else self.W.shape[0]

    def _init_W(self, xp, in_size: int) -> None:
        in_size = _positive_int("Linear", "in_size (x.shape[1] for a lazy layer)", in_size)
        self.W.data = _normal(xp, (in_size, self.out_size), math.sqrt(1.0 / in_size), self.dtype)

    def lazy_shape(self, name):
        return {"W": (None, self.out_size), "b": (self.out_size,)}.get(name)

    def forward(self, x):
        if self.W.data is None:
            if x.ndim != 2:
                raise ValueError(
                    f"Linear: x must be 2-D (N, in_size), got shape {tuple(x.shape)}; "
                    "flatten it first (F.reshape(x, (len(x), -1)))"
                )
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

    @habits.layer_keywords
    def __init__(
        self,
        out_channels: int,
        kernel_size,
        stride=1,
        pad=0,
        nobias: bool = False,
        dtype=np.float32,
        in_channels: Optional[int] = None,
    ):
        layer = type(self).__name__
        # Read in PyTorch's order (in, out, kernel, stride, padding), the five
        # numbers say which call was meant.
        pytorch_order = (out_channels, kernel_size, stride, pad)
        meant = (
            (f"{layer}({kernel_size}, kernel_size={stride}, stride={pad}, pad={nobias}, in_channels={out_channels})")
            if all(_is_size(v) for v in pytorch_order) and _is_int(nobias) and nobias >= 0
            else None
        )
        dtype = _check_constructor(
            layer,
            f"out_channels={out_channels!r}, kernel_size={kernel_size!r}, stride={stride!r}, "
            f"pad={pad!r}, nobias={nobias!r}",
            meant,
            nobias,
            dtype,
            "in_channels",
            in_channels,
        )
        super().__init__()
        owner = type(self).__name__
        self.out_channels = _positive_int(owner, "out_channels", out_channels)
        self.kernel_size = _int_pair(owner, "kernel_size", kernel_size, 1)
        _int_pair(owner, "stride", stride, 1)  # checked now rather than at the first call
        _int_pair(owner, "pad", pad, 0)
        self.stride = stride
        self.pad = pad
        self.dtype = dtype
        self.W = Parameter(None, name="W")
        if in_channels is not None:
            self._init_W(np, in_channels)
        self.b = None if nobias else Parameter(np.zeros(self.out_channels, dtype=self.dtype), name="b")

    @property
    def in_channels(self) -> Optional[int]:
        if self.W.data is None:
            return None
        return self.W.shape[self._in_axis]

    def _init_W(self, xp, in_channels: int) -> None:
        in_channels = _positive_int(type(self).__name__, "in_channels (x.shape[1] for a lazy layer)", in_channels)
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

    Parameters
    ----------
    out_channels : int
        The number of output channels (the first argument).
    kernel_size : int or (int, int)
        KH, KW.
    stride, pad : int or (int, int)
        Step between windows and zero padding on each side.
    nobias : bool
        No bias b.
    dtype : numpy dtype
        Of the weights (float32 by default).
    in_channels : int, optional
        The number of input channels; None: taken from the first batch.
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

    Parameters
    ----------
    out_channels : int
        The number of output channels (the first argument).
    kernel_size : int or (int, int)
        KH, KW.
    stride, pad : int or (int, int)
        As for :func:`dezero.functions.conv.deconv2d`.
    nobias : bool
        No bias b.
    dtype : numpy dtype
        Of the weights (float32 by default).
    in_channels : int, optional
        The number of input channels; None: taken from the first batch.
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
    """Lookup table: row ``x[i]`` of W (in_size, out_size) for each integer id; W ~ N(0, 1).

    Parameters
    ----------
    in_size : int
        The number of ids (the vocabulary).
    out_size : int
        The length of each vector.
    dtype : numpy dtype
        Of W (float32 by default).
    """

    @habits.layer_keywords
    def __init__(self, in_size: int, out_size: int, dtype=np.float32):
        super().__init__()
        self.dtype = np.dtype(dtype)
        shape = (_positive_int("EmbedID", "in_size", in_size), _positive_int("EmbedID", "out_size", out_size))
        self.W = Parameter(_normal(np, shape, 1.0, self.dtype), name="W")

    def forward(self, x):
        return F.embed_id(x, self.W)

    def _list_as_variable(self, x) -> Variable:
        # Ids, not values: a list of them stays integer (embed_id moves it to W's backend).
        return as_variable(x)


# =============================================================================
# Batch normalization
# =============================================================================
class BatchNorm(Layer):
    """Batch normalization over axis 1 (features or channels).

    gamma (ones) and beta (zeros) are Parameters; the running mean and variance
    (``avg_mean``, ``avg_var``) are plain arrays, updated during training and
    used in test mode (``with dezero.test_mode()``), and saved with the weights.
    All four are sized from the first input.

    Parameters
    ----------
    decay : float
        Weight of the old running statistics (PyTorch's momentum is 1 - decay).
    eps : float
        Added to the variance before the square root.
    """

    @habits.layer_keywords
    def __init__(self, decay: float = 0.9, eps: float = 2e-5):
        super().__init__()
        # Checked here, not at the first batch, where a mistake would surface far from its cause.
        if isinstance(decay, (int, np.integer)) and not isinstance(decay, (bool, np.bool_)) and decay > 1:
            # nn.BatchNorm2d(C) habit.
            raise ValueError(
                f"BatchNorm: decay must be in [0, 1], got {decay}; the first argument is the decay "
                "of the running statistics (the book's), not the number of channels, which comes "
                "from the first batch: BatchNorm() or BatchNorm(decay=0.9)"
            )
        check_decay_and_eps("BatchNorm", decay, eps)
        self.decay = decay
        self.eps = eps
        self.gamma = Parameter(None, name="gamma")
        self.beta = Parameter(None, name="beta")
        self.avg_mean: Optional[np.ndarray] = None
        self.avg_var: Optional[np.ndarray] = None
        self.add_persistent("avg_mean", None)
        self.add_persistent("avg_var", None)

    def lazy_shape(self, name):
        # gamma, beta and both running statistics: one value per channel each.
        return ("channels",)

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
        return F.batch_norm(x, self.gamma, self.beta, self.avg_mean, self.avg_var, decay=self.decay, eps=self.eps)


# =============================================================================
# Recurrent layers
# =============================================================================
def _check_state_batch(layer: "RNN | LSTM", x) -> None:
    # A state kept from a batch of another size would broadcast silently.
    if layer.h is not None and layer.h.shape[0] != x.shape[0]:
        raise ValueError(
            f"{type(layer).__name__}: the input has batch size {x.shape[0]} but the state "
            f"has {layer.h.shape[0]}; call reset_state() before a batch of another size"
        )


class RNN(Layer):
    """Elman RNN: ``h = tanh(x2h(x) + h2h(h_prev))`` (h2h without bias).

    The hidden state is kept between calls; ``reset_state()`` starts a new
    sequence. Cut the graph with ``loss.unchain_backward()`` for truncated BPTT.
    ``to_gpu``/``to_cpu`` move the state too (as a new leaf: the graph is cut there).

    Parameters
    ----------
    hidden_size : int
        The length of the state h.
    in_size : int, optional
        The length of an input; None: taken from the first one.
    dtype : numpy dtype
        Of the weights (float32 by default).
    """

    _state_names = ("h",)

    @habits.layer_keywords
    def __init__(self, hidden_size: int, in_size: Optional[int] = None, dtype=np.float32):
        super().__init__()
        hidden_size = _positive_int("RNN", "hidden_size", hidden_size)
        self.x2h = Linear(hidden_size, in_size=in_size, dtype=dtype)
        self.h2h = Linear(hidden_size, in_size=hidden_size, nobias=True, dtype=dtype)
        self.h: Optional[Variable] = None

    def reset_state(self) -> None:
        """Forget the state: the next call starts a new sequence."""
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
    """Long short-term memory with the standard gates.

    One step::

        f, i, o = sigmoid(.), sigmoid(.), sigmoid(.)   forget, input, output gates
        u = tanh(.)                                    candidate cell
        c = f * c_prev + i * u,   h = o * tanh(c)

    each pre-activation being ``x2h(x) + h2h(h_prev)``. The four gates share one
    Linear of width 4*hidden_size (columns f|i|o|u), so a step is two matrix
    products instead of eight. The state (h, c) moves with ``to_gpu``/``to_cpu``, as in :class:`RNN`.

    Parameters
    ----------
    hidden_size : int
        The length of the states h and c.
    in_size : int, optional
        The length of an input; None: taken from the first one.
    dtype : numpy dtype
        Of the weights (float32 by default).
    """

    _state_names = ("h", "c")

    @habits.layer_keywords
    def __init__(self, hidden_size: int, in_size: Optional[int] = None, dtype=np.float32):
        super().__init__()
        self.hidden_size = _positive_int("LSTM", "hidden_size", hidden_size)
        self.x2h = Linear(4 * self.hidden_size, in_size=in_size, dtype=dtype)
        self.h2h = Linear(4 * self.hidden_size, in_size=self.hidden_size, nobias=True, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        """Forget the states h and c: the next call starts a new sequence."""
        self.h: Optional[Variable] = None
        self.c: Optional[Variable] = None

    def forward(self, x):
        _check_state_batch(self, x)
        gates = self.x2h(x)
        if self.h is not None:
            gates = gates + self.h2h(self.h)
        H = self.hidden_size
        f = F.sigmoid(gates[:, 0 * H : 1 * H])
        i = F.sigmoid(gates[:, 1 * H : 2 * H])
        o = F.sigmoid(gates[:, 2 * H : 3 * H])
        u = F.tanh(gates[:, 3 * H : 4 * H])
        c_new = i * u if self.c is None else f * self.c + i * u
        h_new = o * F.tanh(c_new)
        self.h, self.c = h_new, c_new
        return h_new
