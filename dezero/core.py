"""The autograd engine: Variable, Function, the configuration switches and backward.

A forward computation builds a graph as it runs (define-by-run): every Function
call records its inputs and (weakly) its outputs, and every output Variable
records the Function that made it. ``backward`` walks that graph from an output
to the leaves, newest Function first, and is itself made of Functions, so it can
be differentiated again (``create_graph=True``).
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import linecache
import os
import sys
import types
import weakref
from typing import TYPE_CHECKING, Iterator, Optional, Sequence

import numpy as np

from dezero.backend import array_types, cupy, get_array_module


# =============================================================================
# Configuration
# =============================================================================
# Each switch is a context variable, so every thread (and every asyncio task)
# has its own value, as PyTorch's grad mode is per thread: one thread's
# ``no_grad()`` block cannot turn recording off for another thread that trains.
# A new thread starts from the defaults. The engine reads the variables
# directly (``_enable_backprop.get()``), the cheapest way on every op call.
_enable_backprop: contextvars.ContextVar[bool] = contextvars.ContextVar("enable_backprop", default=True)
_train: contextvars.ContextVar[bool] = contextvars.ContextVar("train", default=True)
_detect_anomaly: contextvars.ContextVar[bool] = contextvars.ContextVar("detect_anomaly", default=False)
_record_constants: contextvars.ContextVar[bool] = contextvars.ContextVar("record_constants", default=False)


def _switch(variable: contextvars.ContextVar, doc: str) -> property:
    """An attribute of ``Config`` that reads and writes the current thread's value."""

    def read(self):
        return variable.get()

    def write(self, value) -> None:
        variable.set(value)

    return property(read, write, doc=doc)


class _Config:
    """The switches of the current thread (``dezero.Config``).

    Read them as ``Config.enable_backprop`` and set them as the book does
    (``Config.enable_backprop = False``), or for a block with
    :func:`using_config`, :func:`no_grad` and :func:`test_mode`. Each thread
    sees its own values, starting from the defaults below; an attribute you
    add yourself (``Config.my_flag = 1``) is shared by all threads.
    """

    enable_backprop = _switch(_enable_backprop, "Record the graph for backward (default True).")
    train = _switch(_train, "Training mode: dropout drops, batch norm uses batch statistics (default True).")
    detect_anomaly = _switch(
        _detect_anomaly,
        "Check every forward output and backward gradient for NaN and inf (default False); see detect_anomaly().",
    )
    record_constants = _switch(
        _record_constants,
        "Record also the ops whose inputs need no gradient (integer "
        "ids sliced, constants combined), for a tool that reads the "
        "whole computation, such as the ONNX exporter (default False). "
        "Gradients are unchanged by it.",
    )

    def __repr__(self) -> str:
        return (
            f"Config(enable_backprop={self.enable_backprop}, train={self.train}, "
            f"detect_anomaly={self.detect_anomaly}, record_constants={self.record_constants})"
        )


Config = _Config()


@contextlib.contextmanager
def using_config(name: str, value) -> Iterator[None]:
    """Set ``Config.<name>`` to ``value`` for the current thread, for the block.

    Parameters
    ----------
    name : str
        A switch of :data:`Config` (``'enable_backprop'``, ``'train'``...).
    value
        Its value inside the block; the previous value comes back on exit,
        also when the block raises.

    Returns
    -------
    contextlib.AbstractContextManager
        To be used in a ``with`` statement.

    Raises
    ------
    AttributeError
        If ``Config`` has no attribute ``name``.
    """
    old_value = getattr(Config, name)
    setattr(Config, name, value)
    try:
        yield
    finally:
        setattr(Config, name, old_value)


def no_grad():
    """Context manager under which no graph is recorded (inference, parameter updates).

    Returns
    -------
    contextlib.AbstractContextManager
        ``with dezero.no_grad(): ...`` sets ``Config.enable_backprop`` to False
        inside the block.
    """
    return using_config("enable_backprop", False)


def test_mode():
    """Context manager that switches layers such as dropout and batch norm to inference.

    Returns
    -------
    contextlib.AbstractContextManager
        ``with dezero.test_mode(): ...`` sets ``Config.train`` to False inside the
        block (PyTorch's ``model.eval()``, for every model at once).
    """
    return using_config("train", False)


def detect_anomaly():
    """Context manager under which the first NaN or inf raises, naming where it came from.

    Inside the block every Function checks its forward outputs, and backward
    checks every gradient a Function returns. The first one holding NaN or inf
    raises :class:`FloatingPointError` naming the Function, its inputs' shapes
    and dtypes, and the line of your code that called it (recorded at forward
    time, inside the block only: run the forward under it too). Sets
    ``Config.detect_anomaly`` for the current thread; outside the block nothing
    is recorded or checked.

    Each op then pays a walk up the call stack and a pass over its outputs
    and gradients: measured by ``benchmarks/overhead.py``, 1.7 times the
    time of an op on 0-d values (3 microseconds more) and 1.15 times on
    arrays of 100,000 elements, so use it to find a NaN, not to train.

    Returns
    -------
    contextlib.AbstractContextManager
        ``with dezero.detect_anomaly(): ...`` sets ``Config.detect_anomaly``
        to True inside the block.

    Examples
    --------
    >>> with dezero.detect_anomaly():                            # doctest: +SKIP
    ...     loss = model(x)
    ...     loss.backward()
    FloatingPointError: detect_anomaly: Log.forward returned nan in output 0 ...
    """
    return using_config("detect_anomaly", True)


# =============================================================================
# Variable
# =============================================================================
_SCALAR_TYPES = (int, float, complex, bool, np.generic)

# The integer dtypes that carry gradients: NumPy's default integer (what
# np.array([1, 2]) makes, as in the book's steps 37-40) and int64. Their
# gradients are computed in 64-bit integers, exact short of 2**63; narrower
# and unsigned integers would wrap inside a backward (a gather of 300 rows of
# an int8, a negative gradient of a uint8), so they take none, as in PyTorch.
_INTEGER_GRADIENT_DTYPES = frozenset({np.dtype(np.int64), np.dtype(np.int_)})


def _takes_gradients(dtype) -> bool:
    return dtype.kind in "fc" or dtype in _INTEGER_GRADIENT_DTYPES


class Variable:
    """A box around an array that remembers where it came from.

    Parameters
    ----------
    data : numpy.ndarray, cupy.ndarray or None
        The value. NumPy scalars are stored as 0-d arrays. Lists and Python
        numbers are refused, though ops accept them: a Variable's dtype decides
        whether it gets a gradient and in which precision, so it is asked for
        (``np.array([1, 2])`` would be integers, with integer gradients, and
        ``np.array([1.0])`` float64 even in a float32 model).
    name : str, optional
        A label used by the graph drawer and in error messages.
    requires_grad : bool
        Whether backward computes a gradient for this Variable. Every numeric
        Variable you create does by default (bools never do); arrays and scalars
        passed straight to a Function are wrapped with ``requires_grad=False``
        (nobody can read their gradient), which lets backward skip work such
        as the gradient of a network's input batch.

    Notes
    -----
    A gradient is never truncated or wrapped around. Floating and complex
    Variables take gradients in their own dtype. int64 Variables (NumPy's
    default integer, what ``np.array([1, 2])`` makes) take part as in the
    book, whose chapters 37-40 differentiate integer arrays: along integer
    arithmetic (sums, products, reshapes, broadcasts) their gradients are
    exact int64 values. Other integer dtypes (int8 to int32, unsigned) and
    bools never require a gradient, as in PyTorch: their gradients would wrap
    around inside a backward (a gather of 300 rows of an int8, the -1 of
    ``10 - x`` for a uint8). An integer result of floating values
    (``astype(x, int)``, an argmax) cuts the graph there, and a floating
    gradient that reaches an integer Variable stops at it (``.grad`` stays
    None): labels and indices get none.

    Pickling a Variable (and ``copy.copy``, ``copy.deepcopy``) keeps its data, name,
    ``requires_grad`` and the value of its ``.grad``, but not the graph: the
    copy is a leaf, and so is its ``.grad``.
    """

    __slots__ = ("data", "name", "grad", "creator", "generation", "_requires_grad", "__weakref__")
    # No __eq__/__hash__ on purpose: Variables compare and hash by identity,
    # which the backward engine relies on (it keys its dicts by Variable).
    # ndarray <op> Variable must call Variable's reflected operator, not
    # broadcast the Variable as an object element.
    __array_priority__ = 200
    __array_ufunc__ = None

    def __init__(self, data=None, name: Optional[str] = None, requires_grad: bool = True):
        if data is not None and type(data) is not np.ndarray:
            data = _variable_data(data)
        self.data = data
        self.name = name
        self.grad: Optional[Variable] = None
        self.creator: Optional[Function] = None
        self.generation = 0
        # Bools have no gradient; integers have one only along integer
        # arithmetic, where it is exact (see Notes and Function._link).
        self._requires_grad = requires_grad and (
            data is None or data.dtype.kind in "fc" or data.dtype in _INTEGER_GRADIENT_DTYPES
        )

    @property
    def requires_grad(self) -> bool:
        """Whether backward gives this Variable a gradient. Setting it on a
        Variable whose dtype has no gradients (bool, integers narrower than
        int64, unsigned integers) raises TypeError (the engine reads the slot
        behind this property)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data is not None and not _takes_gradients(self.data.dtype):
            raise TypeError(
                f"requires_grad: a {self.data.dtype} Variable cannot require a gradient (floating, "
                "complex and int64 Variables can: cast it first, e.g. F.astype(x, np.float32))"
            )
        self._requires_grad = bool(value)

    # --- array-like properties -------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    def __len__(self) -> int:
        if self.data is None or self.data.ndim == 0:
            raise TypeError("len() of a 0-d (or empty) Variable")
        return len(self.data)

    def item(self):
        """The value of a size-1 Variable as a Python scalar (``loss.item()``).

        Returns
        -------
        int, float, complex or bool
            The one element, as ``numpy.ndarray.item`` gives it.

        Raises
        ------
        ValueError
            If the Variable does not hold exactly one element.
        """
        return self._single_value("item()", ValueError)

    def __float__(self) -> float:
        return float(self._single_value("float()", TypeError))

    def __int__(self) -> int:
        return int(self._single_value("int()", TypeError))

    def _single_value(self, caller: str, error: type):
        # Any size-1 shape, as item() in NumPy and float()/int() in PyTorch
        # (NumPy 2 takes 0-d arrays only in float()).
        if self.data is None or self.data.size != 1:
            shape = None if self.data is None else self.data.shape
            raise error(f"{caller}: only a size-1 Variable converts to a Python scalar, got shape {shape}")
        return self.data.item()

    def __bool__(self) -> bool:
        # NumPy's rule. Without it Python would fall back to __len__ and call
        # [0.] true and zeros(3) true.
        if self.data is None:
            raise ValueError("the truth value of a Variable that holds no data (None) is undefined")
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a Variable of shape {self.data.shape} is ambiguous "
                "(only a size-1 Variable has one); use x.data.any() or x.data.all()"
            )
        return bool(self.data)

    def __iter__(self) -> Iterator["Variable"]:
        """Iterate over the first axis, as NumPy does; each row is differentiable."""
        if self.data is None or self.data.ndim == 0:
            raise TypeError("iteration over a 0-d Variable (or one without data)")
        return (self[i] for i in range(len(self.data)))

    def __repr__(self) -> str:
        prefix = type(self).__name__.lower() + "("
        if self.data is None:
            return prefix + "None)"
        body = str(self.data).replace("\n", "\n" + " " * len(prefix))
        return prefix + body + ")"

    # --- pickling ----------------------------------------------------------------
    # Pickling (and copy.copy, copy.deepcopy) keeps the value and its gradient's value, not
    # the graph: the copy is a leaf. A graph is a record of one computation; it
    # holds weak references (which cannot be pickled) and, after
    # backward(create_graph=True), a .grad carries one too. A model pickled then
    # must come back as its weights and gradients, as after a plain backward.
    def __getstate__(self) -> dict:
        return {"data": self.data, "name": self.name, "grad": self.grad, "requires_grad": self.requires_grad}

    def __setstate__(self, state: dict) -> None:
        self.data = state["data"]
        self.name = state["name"]
        self.grad = state["grad"]  # a Variable: pickled by this method too, so a leaf
        self._requires_grad = state["requires_grad"]
        self.creator = None
        self.generation = 0

    # --- graph bookkeeping -------------------------------------------------------
    def set_creator(self, func: "Function") -> None:
        """Record ``func`` as the Function that made this Variable (used by the engine).

        Parameters
        ----------
        func : Function
            The Function whose output this Variable is; the generation follows from it.
        """
        self.creator = func
        self.generation = func.generation + 1

    def cleargrad(self) -> None:
        """Forget the gradient: ``self.grad = None`` (gradients accumulate until then)."""
        self.grad = None

    def unchain(self) -> None:
        """Forget the creator: this Variable becomes a leaf."""
        self.creator = None

    def unchain_backward(self) -> None:
        """Cut every link of the graph behind this Variable (truncated BPTT)."""
        if self.creator is None:
            return
        pending = [self.creator]
        seen = {id(self.creator)}
        while pending:
            func = pending.pop()
            for x in func.inputs or ():
                if x.creator is not None and id(x.creator) not in seen:
                    seen.add(id(x.creator))
                    pending.append(x.creator)
                x.unchain()

    def backward(self, retain_grad: bool = False, create_graph: bool = False, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf behind self.

        Parameters
        ----------
        retain_grad : bool
            Keep the gradients of intermediate Variables in their ``.grad``.
        create_graph : bool
            Record the backward computation so it can be differentiated again.
        grad : array or Variable, optional
            Gradient of the final objective with respect to self; defaults to
            ``self.grad`` if set, else ones.

        Notes
        -----
        Gradients accumulate into ``.grad`` across calls (``cleargrad`` resets
        them); each ``.grad`` holds an array of its own, safe to modify in place.
        """
        seeded_by_own_grad = grad is None and self.grad is not None
        if grad is None:
            grad = self.grad
        grads, retained = _run_backward([self], [grad], create_graph, retain_grad, keep=frozenset(), caller="backward")
        handed_out = _arrays_of([grad])
        with using_config("enable_backprop", create_graph):
            for var, g in retained + list(grads.items()):
                if var.grad is not None and not (var is self and seeded_by_own_grad):
                    var.grad = var.grad + g
                else:
                    var.grad = _own_gradient(g, handed_out)

    # --- device ------------------------------------------------------------------
    def to_cpu(self) -> "Variable":
        """Move the data and the gradient to the host (NumPy), in place.

        Returns
        -------
        Variable
            self, with its data (and gradient) moved to NumPy.
        """
        from dezero.backend import as_numpy

        if self.data is not None:
            self.data = as_numpy(self.data)
        if self.grad is not None:
            self.grad.to_cpu()
        return self

    def to_gpu(self) -> "Variable":
        """Move the data and the gradient to the GPU (CuPy), in place.

        Returns
        -------
        Variable
            self, with its data (and gradient) moved to CuPy.

        Raises
        ------
        RuntimeError
            If CuPy or a CUDA device is missing.
        """
        from dezero.backend import as_cupy

        if self.data is not None:
            self.data = as_cupy(self.data)
        if self.grad is not None:
            self.grad.to_gpu()
        return self

    # --- operators and array methods ---------------------------------------------
    # ``x + y``, ``x @ W``, ``x.reshape(...)``, ``x.sum()``... are functions of
    # dezero.functions, which imports this module; dezero.functions attaches them
    # to Variable when it loads (``setup_variable``), so this module needs nothing
    # above the backend. The stubs tell type checkers and readers what is there.
    if TYPE_CHECKING:

        def reshape(self, *shape) -> Variable: ...
        def transpose(self, *axes) -> Variable: ...
        @property
        def T(self) -> Variable: ...
        def sum(self, axis=None, keepdims: bool = False) -> Variable: ...
        def mean(self, axis=None, keepdims: bool = False) -> Variable: ...
        def max(self, axis=None, keepdims: bool = False) -> Variable: ...
        def min(self, axis=None, keepdims: bool = False) -> Variable: ...
        def astype(self, dtype) -> Variable: ...
        def dot(self, other) -> Variable: ...
        def matmul(self, other) -> Variable: ...
        def __add__(self, other) -> Variable: ...
        def __radd__(self, other) -> Variable: ...
        def __sub__(self, other) -> Variable: ...
        def __rsub__(self, other) -> Variable: ...
        def __mul__(self, other) -> Variable: ...
        def __rmul__(self, other) -> Variable: ...
        def __truediv__(self, other) -> Variable: ...
        def __rtruediv__(self, other) -> Variable: ...
        def __neg__(self) -> Variable: ...
        def __pow__(self, other) -> Variable: ...
        def __rpow__(self, other) -> Variable: ...
        def __matmul__(self, other) -> Variable: ...
        def __rmatmul__(self, other) -> Variable: ...
        def __getitem__(self, slices) -> Variable: ...

    def __pos__(self):
        return self


def _variable_data(data):
    """What ``Variable(data)`` keeps for anything but None or a plain ndarray."""
    if isinstance(data, (np.matrix, np.ma.MaskedArray)):
        # Their operators differ from ndarray's (a matrix's * is a matrix
        # product, a masked array skips masked values): every op would be wrong.
        raise TypeError(
            f"Variable(data): {type(data).__name__} is not supported, its operators differ "
            "from ndarray's; convert it with np.asarray(data) (a mask is dropped)"
        )
    if isinstance(data, array_types):  # cupy.ndarray, np.memmap and other subclasses
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    hint = ""
    if isinstance(data, (list, tuple, int, float, complex)):
        # Not converted on purpose: a Variable's dtype decides whether it has a
        # gradient and of which precision; np.asarray would guess (ints for [1, 2]).
        hint = "; write Variable(np.array(...)) with the dtype you mean, e.g. np.array([1.0, 2.0], dtype=np.float32)"
    raise TypeError(f"Variable(data): expected numpy.ndarray or cupy.ndarray, got {type(data).__name__}{hint}")


class Parameter(Variable):
    """A Variable that a Layer owns and an Optimizer updates."""

    __slots__ = ()


def as_array(x, like=None):
    """Return ``x`` as an array; scalars become 0-d arrays of ``like``'s backend and dtype.

    A Python or NumPy scalar takes the dtype of ``like`` when ``like`` is a
    floating array, so ``float32_var * 2.0`` and ``float32_var * np.float64(2)``
    both stay float32 (NumPy 2 alone would promote the latter to float64). A
    Python int takes the dtype of an integer ``like``, as in NumPy
    (``1 - uint8_array`` is uint8; an int that does not fit raises OverflowError).
    A list (or tuple) of numbers is treated like a Python scalar: it takes the
    floating dtype of ``like``; without ``like`` it is what ``np.asarray`` makes.

    Parameters
    ----------
    x : array, scalar, or list or tuple of numbers
        Arrays are returned unchanged.
    like : array, optional
        Gives a scalar or a list its backend and (for floating arrays) its dtype.

    Returns
    -------
    numpy.ndarray or cupy.ndarray
    """
    if isinstance(x, array_types):
        return x
    if isinstance(x, (list, tuple)):
        return _sequence_as_array(x, like, "as_array")
    if like is None:
        return np.asarray(x)
    xp = get_array_module(like)
    kind = like.dtype.kind
    if kind in "fc" and not isinstance(x, complex):
        return xp.asarray(x, dtype=like.dtype)
    if kind in "iu" and type(x) is int:
        return xp.asarray(x, dtype=like.dtype)
    return xp.asarray(x.item() if isinstance(x, np.generic) else x)


def _sequence_as_array(x, like, op: str):
    """A list or tuple of numbers as an array of ``like``'s backend; "weak" as a
    Python scalar is, so a float32 model given ``[[1.0, 2.0]]`` computes in
    float32 (NumPy would make it float64 first)."""
    try:
        array = np.asarray(x)
    except ValueError as e:  # ragged nesting
        raise ValueError(f"{op}: a list input must be a rectangle of numbers ({e})") from None
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"{op}: a list input must hold numbers only, it makes an array of dtype "
            f"{array.dtype} (Variables, None or strings inside?)"
        )
    if like is None:
        return array
    xp = get_array_module(like)
    if like.dtype.kind in "fc" and array.dtype.kind in "biuf":
        return xp.asarray(array, dtype=like.dtype)
    if like.dtype.kind in "iu" and array.dtype.kind in "iu":
        return xp.asarray(x, dtype=like.dtype)  # from the list: raises OverflowError as NumPy does
    return xp.asarray(array)


def as_variable(obj, like=None) -> Variable:
    """Wrap arrays, scalars and lists of numbers as Variables (constants:
    ``requires_grad=False``); Variables pass through.

    Parameters
    ----------
    obj : Variable, array, scalar, or list or tuple of numbers
        The value to wrap.
    like : array, optional
        Gives a scalar or a list its backend and dtype (see :func:`as_array`).

    Returns
    -------
    Variable
        ``obj`` itself if it is a Variable, else a new constant Variable.
    """
    if isinstance(obj, Variable):
        return obj
    return Variable(as_array(obj, like), requires_grad=False)


def as_variables(*objs, op: str = "as_variables") -> list:
    """Wrap the operands of one op together, as a Function call does: Variables
    and arrays pass, scalars and lists take the dtype of the first array among
    them (``linear([[1.0, 2.0]], W)`` computes in W's dtype).

    Parameters
    ----------
    *objs : Variable, array, scalar or list of numbers
    op : str
        The op's name, for error messages.

    Returns
    -------
    list of Variable

    Raises
    ------
    TypeError
        For an operand of another type, or operands on different devices.
    """
    return _to_variables(objs, op)


# =============================================================================
# Function
# =============================================================================
class Function:
    """One node of the graph: ``forward`` on raw arrays, ``backward`` on Variables.

    Subclasses implement ``forward(*xs)`` returning an array or a tuple of
    arrays, and ``backward(*gys)`` returning one gradient (Variable or None)
    per input, built from differentiable operations.
    """

    # Set when the call is recorded in a graph (see _link); empty otherwise.
    inputs: tuple = ()
    _output_refs: "tuple | weakref.ref" = ()  # see ``outputs``
    generation = 0
    # (file, line, function) of the user code that called this Function:
    # recorded in detect_anomaly() mode only, None otherwise.
    created_at: Optional[tuple] = None
    # Positions of inputs that may be None, meaning "absent" (the bias of
    # Linear and the convolutions): None there becomes Variable(None), as the
    # book's Function makes of it; anywhere else it is a TypeError.
    optional_inputs: tuple = ()

    @property
    def outputs(self) -> tuple:
        """Weak references to the outputs (call one to get the Variable, or None
        once it is gone); empty when the call was not recorded.

        The one output of almost every op is kept as the bare weak reference:
        a tuple around it would be one more object per op for Python's cyclic
        garbage collector to track, and on long graphs that collector is a good
        part of the cost of an op.
        """
        refs = self._output_refs
        return refs if isinstance(refs, tuple) else (refs,)

    def __call__(self, *inputs):
        """Run ``forward`` on the inputs' arrays and, when backprop is on and an
        input requires a gradient, record the graph. Arrays, scalars and lists
        of numbers are taken as constants. Returns one Variable, or a list of
        them when ``forward`` returns a tuple. A Function object is called once.
        """
        if self._output_refs:
            # A second forward would overwrite what the first one's backward needs.
            raise RuntimeError(
                f"{type(self).__name__}: this Function object was already called; "
                "create a new instance for every call (reusing a node breaks its gradients)"
            )
        for x in inputs:
            if not isinstance(x, Variable):
                inputs = tuple(_to_variables(inputs, type(self).__name__, self.optional_inputs))
                break
        else:
            if cupy is not None and len(inputs) > 1:
                # CuPy's own error ("Unsupported type numpy.ndarray") would not
                # say which op, nor what to do about it.
                _check_same_device(inputs, type(self).__name__)
        try:
            if len(inputs) == 1:  # the common case, without building a list
                ys = self.forward(inputs[0].data)
            else:
                ys = self.forward(*[x.data for x in inputs])
        except ValueError as e:
            if "could not be broadcast" not in str(e):  # NumPy's wording, not ours
                raise
            # NumPy's message names neither the op nor which inputs clash.
            shapes = " and ".join(str(tuple(x.shape)) for x in inputs)
            raise ValueError(f"{type(self).__name__}: inputs of shapes {shapes} cannot be broadcast together") from None
        except OverflowError as e:
            # NumPy 2's "Python integer 300 out of bounds for uint8" (uint8_x - 300)
            # names no op. A try costs nothing until it raises.
            raise OverflowError(_overflow_message(type(self).__name__, e, inputs)) from None
        if _detect_anomaly.get():
            self.created_at = _caller_outside_dezero()
            if not _running_backward.get():
                for i, y in enumerate(ys if isinstance(ys, tuple) else (ys,)):
                    _check_finite(self, inputs, i, y, "forward")
        if isinstance(ys, tuple):
            outputs = [Variable(_output_array(self, y)) for y in ys]
            if _enable_backprop.get():
                self._link(inputs, outputs)
            return outputs
        if type(ys) is not np.ndarray:
            # NumPy gives 0-d results as NumPy scalars; anything else is checked.
            ys = np.asarray(ys) if isinstance(ys, np.generic) else _output_array(self, ys)
        y = Variable(ys)
        if _enable_backprop.get():
            self._link(inputs, (y,))
        return y

    def _link(self, inputs: tuple, outputs: Sequence[Variable]) -> None:
        """Record the graph: inputs strongly, outputs weakly (no reference cycles).
        Nothing is recorded when no input requires a gradient (e.g. on raw data),
        unless ``Config.record_constants`` asks for the whole computation."""
        generation = -1
        for x in inputs:
            if x._requires_grad and x.generation > generation:
                generation = x.generation
        record_all = False
        if generation < 0:
            for y in outputs:
                y._requires_grad = False
            if not _record_constants.get():
                return
            record_all = True
            generation = max(x.generation for x in inputs)
        else:
            for y in outputs:
                # An integer result of floating values (astype, argmax) has no
                # gradient: it stops the graph, unless everything is recorded.
                # Integer arithmetic on integers (the book's chapters 37-40)
                # keeps it, and its gradients are exact integers.
                if y._requires_grad and y.data.dtype.kind in "iu" and _has_floating_input(inputs):
                    y._requires_grad = False
        self.generation = generation
        for y in outputs:
            if y._requires_grad or record_all or _record_constants.get():
                y.creator = self
                y.generation = generation + 1
        self.inputs = inputs
        if len(outputs) == 1:
            self._output_refs = weakref.ref(outputs[0])
        else:  # map, not a comprehension: on CPython 3.11 that is a call of its own
            self._output_refs = tuple(map(weakref.ref, outputs))

    def forward(self, *xs):
        """Compute the output(s) from raw arrays; subclasses implement it.

        Parameters
        ----------
        *xs : numpy.ndarray or cupy.ndarray
            The inputs' data, one argument per input.

        Returns
        -------
        array or tuple of arrays
            The output(s), of the inputs' backend; take it with
            ``xp = get_array_module(x)``.
        """
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *gys):
        """Gradients with respect to the inputs; subclasses implement it. ``self.inputs`` holds the inputs.

        Parameters
        ----------
        *gys : Variable or None
            The gradient of each output (None for an output that did not reach the loss).

        Returns
        -------
        Variable, None or tuple of them
            One gradient per input, shaped like it (None for an input that needs
            none). Built from differentiable functions, so that
            ``create_graph=True`` can differentiate it again.
        """
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} function>"


def _type_name(obj) -> str:
    kind = type(obj)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _has_floating_input(inputs: tuple) -> bool:
    # data is None for an absent optional input (a bias of None)
    return any(x._requires_grad and x.data is not None and x.data.dtype.kind in "fc" for x in inputs)


def _output_array(func: Function, y):
    """One output of ``func.forward`` as an array; NumPy and Python scalars
    (``x.sum()`` of a 0-d array is one) become 0-d arrays."""
    if isinstance(y, np.generic):  # what NumPy gives for 0-d results
        return np.asarray(y)
    if isinstance(y, array_types):
        return y
    if isinstance(y, _SCALAR_TYPES):
        return np.asarray(y)
    kind = "Variable" if isinstance(y, Variable) else _type_name(y)
    raise TypeError(
        f"{type(func).__name__}.forward returned a {kind}; forward works on raw arrays "
        "and returns arrays (or a tuple of arrays), the engine wraps them in Variables"
    )


# =============================================================================
# Anomaly mode
# =============================================================================
_DEZERO_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_running_backward: contextvars.ContextVar[bool] = contextvars.ContextVar("running_backward", default=False)


@contextlib.contextmanager
def _setting(variable: contextvars.ContextVar, value) -> Iterator[None]:
    token = variable.set(value)
    try:
        yield
    finally:
        variable.reset(token)


def _caller_outside_dezero() -> Optional[tuple]:
    """(file, line, function) of the innermost frame that is not dezero's own
    code: the user's line behind an op, also when a Layer called it."""
    frame: Optional[types.FrameType] = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_DEZERO_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    return frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name


def _describe_site(func: Function) -> str:
    if func.created_at is None:
        return "outside detect_anomaly() (run the forward inside it too to see where)"
    filename, line, function = func.created_at
    source = linecache.getline(filename, line).strip()
    return f"at {filename}:{line} in {function}" + (f"\n    {source}" if source else "")


def _check_finite(func: Function, inputs: Sequence[Variable], index: int, value, stage: str) -> None:
    """Raise FloatingPointError if ``value`` (output ``index`` of ``func.forward``,
    or the gradient of input ``index`` from ``func.backward``) holds NaN or inf."""
    array = value.data if isinstance(value, Variable) else value
    if not isinstance(array, array_types) or array.dtype.kind not in "fc":
        return  # integers cannot hold NaN; a Python float from forward is checked as an array
    xp = get_array_module(array)
    if bool(xp.isfinite(array).all()):
        return
    what = "nan" if bool(xp.isnan(array).any()) else "inf"
    name = type(func).__name__
    where = f"output {index}" if stage == "forward" else f"the gradient of input {index}"
    described = ", ".join(f"{tuple(x.shape)} {x.dtype}" for x in inputs if x.data is not None)
    site = "called" if stage == "forward" else f"the {name} was created"
    raise FloatingPointError(
        f"detect_anomaly: {name}.{stage} returned {what} in {where} "
        f"(inputs: {described}); {site} {_describe_site(func)}"
    )


def _to_variables(inputs: Sequence, op: str, optional: tuple = ()) -> list:
    """Turn an op's inputs into Variables; scalars and lists take the arrays' dtype,
    and None at a position in ``optional`` becomes Variable(None)."""
    if all(isinstance(x, Variable) for x in inputs):
        return list(inputs)
    like = None
    for x in inputs:
        data = x.data if isinstance(x, Variable) else x
        if isinstance(data, array_types):
            like = data
            break
    converted = []
    for i, x in enumerate(inputs):
        if isinstance(x, Variable):
            converted.append(x)
        elif isinstance(x, array_types) or isinstance(x, _SCALAR_TYPES) or isinstance(x, (list, tuple)):
            try:
                if isinstance(x, (list, tuple)):
                    data = _sequence_as_array(x, like, f"{op}: input {i}")
                else:
                    data = as_array(x, like)
            except OverflowError as e:  # 300 - uint8_x: 300 takes x's dtype, as in NumPy
                arrays = [] if like is None else [Variable(like)]
                raise OverflowError(_overflow_message(op, e, arrays, f"input {i} ({x!r}): ")) from None
            converted.append(Variable(data, requires_grad=False))
        elif x is None and i in optional:
            converted.append(Variable(None))
        else:
            raise TypeError(
                f"{op}: input {i} has unsupported type {type(x).__name__} "
                "(expected Variable, numpy/cupy ndarray, a scalar or a list of numbers)"
            )
    if cupy is not None:
        _check_same_device(converted, op)
    return converted


def _overflow_message(op: str, error: OverflowError, inputs: Sequence, what: str = "") -> str:
    dtypes = ", ".join(str(x.dtype) for x in inputs if isinstance(x, Variable) and x.data is not None)
    message = f"{op}: {what}{error}" + (f" (inputs of dtype {dtypes})" if dtypes else "")
    if "out of bounds" in str(error):
        message += (
            "; a Python int takes the dtype of the integer array it meets, as in NumPy: "
            "cast the array to a wider dtype first (F.astype(x, np.int64))"
        )
    return message


def _check_same_device(variables: Sequence[Variable], op: str) -> None:
    """All NumPy or all CuPy (the caller has made sure CuPy is installed)."""
    if len({isinstance(v.data, cupy.ndarray) for v in variables if v.data is not None}) > 1:
        where = ", ".join(
            f"input {i}: {'cupy' if isinstance(v.data, cupy.ndarray) else 'numpy'}"
            for i, v in enumerate(variables)
            if v.data is not None
        )
        raise TypeError(f"{op}: inputs live on different devices ({where}); move them with to_gpu()/to_cpu() first")


# =============================================================================
# The backward engine
# =============================================================================
def _seed_gradient(y: Variable, grad, caller: str) -> Variable:
    if y.data is None:
        raise ValueError(f"{caller}: Variable {y.name or ''!s} holds no data (data is None)")
    if y.data.dtype.kind not in "fc" and not (y._requires_grad and y.data.dtype.kind in "iu"):
        # Which of the cases below made an integer output is not recorded (the
        # graph is not, for an output without a gradient): name them all.
        why = (
            "bools have no gradient"
            if y.data.dtype.kind == "b"
            else "it has no gradient. An integer result has one only along integer arithmetic on "
            "integer Variables that require one; this one was computed from values that take none "
            "(bools, as in a sum of bools, constants, Variables with requires_grad=False), or from "
            "floating values (astype, argmax), which cut the graph"
        )
        raise TypeError(f"{caller}: the output has dtype {y.data.dtype}: {why}")
    if grad is None:
        xp = get_array_module(y.data)
        return Variable(xp.ones_like(y.data))
    grad = as_variable(grad, like=y.data)
    if get_array_module(grad.data) is not get_array_module(y.data):
        raise TypeError(
            f"{caller}: grad is a {get_array_module(grad.data).__name__} array but the output "
            f"a {get_array_module(y.data).__name__} one; put grad on the output's device"
        )
    if grad.shape != y.shape:
        raise ValueError(f"{caller}: grad of shape {grad.shape} does not match the output of shape {y.shape}")
    return grad


def _run_backward(outputs, grad_outputs, create_graph, retain_grad, keep, caller):
    """Propagate gradients from ``outputs`` back to the leaves.

    Returns ``(leaf_grads, retained)``: a dict ``leaf -> grad`` for the
    Variables without creator that were reached, and a list of
    ``(variable, grad)`` for intermediate Variables that were asked to be kept
    (all of them if ``retain_grad``, else those in the set ``keep``).
    Variables and Functions are dict keys and set members by identity.
    """
    grads: dict = {}  # Variable -> its gradient so far; an entry lives until its creator runs
    retained: list = []
    # The Functions whose outputs have a gradient, newest generation first (heapq
    # is a min-heap, hence -generation; the counter keeps equal generations in
    # the order they were found). ``pushed`` keeps each Function in it once.
    heap: list = []
    pushed: set = set()
    counter = 0
    anomaly = _detect_anomaly.get()

    # In anomaly mode the gradients each backward returns are checked below;
    # the ops a backward runs on the way are not (_running_backward), so the
    # error names the Function whose backward went wrong.
    with using_config("enable_backprop", create_graph), _setting(_running_backward, True):
        for y, gy in zip(outputs, grad_outputs):
            gy = _seed_gradient(y, gy, caller)
            grads[y] = gy if y not in grads else _add_gradients(grads[y], gy, create_graph)
            func = y.creator
            if func is not None and func not in pushed:
                pushed.add(func)
                heapq.heappush(heap, (-func.generation, counter, func))
                counter += 1

        while heap:
            func = heapq.heappop(heap)[2]
            gys = []
            # func.outputs, read without the property's call (a good part of an op's cost)
            refs = func._output_refs
            for ref in refs if isinstance(refs, tuple) else (refs,):
                y = ref()
                gy = None if y is None else grads.pop(y, None)
                if gy is not None and (retain_grad or (keep and y in keep)):
                    retained.append((y, gy))
                gys.append(gy)
            gxs = func.backward(*gys) if len(gys) > 1 else func.backward(gys[0])
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            inputs = func.inputs
            if len(gxs) != len(inputs):
                raise RuntimeError(
                    f"{type(func).__name__}.backward returned {len(gxs)} gradients for {len(inputs)} inputs"
                )
            for i, gx in enumerate(gxs):
                x = inputs[i]
                if gx is None or not x._requires_grad:
                    continue
                # NumPy's dtypes are singletons: `is not` is the cheap test, and
                # _check_gradient sorts out an equal dtype that is another object.
                if not isinstance(gx, Variable) or gx.data.shape != x.data.shape or gx.data.dtype is not x.data.dtype:
                    gx = _check_gradient(func, i, x, gx)
                    if gx is None:
                        continue
                if anomaly:
                    _check_finite(func, inputs, i, gx, "backward")
                previous = grads.get(x)
                if previous is not None:  # x feeds several Functions: sum (its creator is queued)
                    grads[x] = _add_gradients(previous, gx, create_graph)
                    continue
                grads[x] = gx
                creator = x.creator
                if creator is not None and creator not in pushed:
                    pushed.add(creator)
                    heapq.heappush(heap, (-creator.generation, counter, creator))
                    counter += 1
    return grads, retained


def _check_gradient(func: Function, index: int, x: Variable, gx) -> Optional[Variable]:
    """The engine's consistency guard, called when a gradient is not a Variable of
    its input's shape and dtype: anything but a Variable, or a wrong shape, is a
    bug in ``func.backward``; another float dtype is cast back (mixed-precision
    inputs), and so is an integer gradient whose values the input's integer
    dtype is sure to hold (``np.can_cast(..., "safe")``)."""
    if not isinstance(gx, Variable):
        raise TypeError(
            f"{type(func).__name__}.backward returned a {_type_name(gx)} for input {index}; "
            "a backward returns Variables (or None), computed with dezero functions so "
            "that they can be differentiated again"
        )
    x_data, g_data = x.data, gx.data
    if g_data.shape != x_data.shape:
        raise RuntimeError(
            f"{type(func).__name__}.backward returned a gradient of shape {g_data.shape} "
            f"for input {index} of shape {x_data.shape}; a backward must reduce its "
            "gradients to the input's shape (see sum_to)"
        )
    if g_data.dtype != x_data.dtype:
        if x_data.dtype.kind in "iu":
            if g_data.dtype.kind not in "iu":
                # Never truncated: a floating gradient stops at an integer Variable
                # (labels, indices, integers that were cast to float).
                return None
            if not np.can_cast(g_data.dtype, x_data.dtype, "safe"):
                # Never wrapped either: an int8 input times an int64 weight of 300
                # has the gradient 300, which int8 cannot hold. An integer gradient
                # of a wider dtype is kept exact in its own dtype.
                return gx
        gx = gx.astype(x_data.dtype)
    return gx


def _add_gradients(previous: Variable, gx: Variable, create_graph: bool) -> Variable:
    if create_graph:
        return previous + gx
    # Not recorded, so a plain array sum is enough (and never in place: the
    # same gradient object may have been handed to several inputs).
    return Variable(previous.data + gx.data)


class _Copy(Function):
    """A copy of the array that keeps the graph: gradient in, gradient out."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def _arrays_of(seeds) -> set:
    """The ids of the arrays the caller passed in as seed gradients."""
    return {id(s.data if isinstance(s, Variable) else s) for s in seeds}


def _own_gradient(g: Variable, handed_out: set) -> Variable:
    """``g``, or a copy of it when its array is already somebody's (a seed, a
    gradient handed out before: Add gives one to both inputs) or a view (a
    read-only broadcast): every gradient given to the user is an array of its
    own, safe to modify in place. Under ``enable_backprop`` the copy is
    recorded, so a gradient taken with ``create_graph`` stays differentiable.
    ``handed_out`` collects the ids of the arrays given out so far."""
    if id(g.data) in handed_out or g.data.base is not None:
        g = _Copy()(g)
    handed_out.add(id(g.data))
    return g


def grad(outputs, inputs, grad_outputs=None, create_graph: bool = False):
    """Return d(outputs)/d(inputs) without touching any ``.grad``.

    Parameters
    ----------
    outputs : Variable or sequence of Variables
        What to differentiate.
    inputs : Variable or sequence of Variables
        With respect to what.
    grad_outputs : array, Variable or sequence of them, optional
        Upstream gradients (ones by default).
    create_graph : bool
        Record the computation so the result can be differentiated again.

    Returns
    -------
    Variable or list of Variables
        Matching the form of ``inputs``; None for an input the outputs do not
        depend on. Each holds an array of its own (never shared with another
        result or with ``grad_outputs``), safe to modify in place.
    """
    single_input = isinstance(inputs, Variable)
    outputs = [outputs] if isinstance(outputs, Variable) else list(outputs)
    inputs = [inputs] if single_input else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, v in enumerate(inputs + outputs):
        if not isinstance(v, Variable):
            raise TypeError(f"grad: expected Variables, got {type(v).__name__} at position {i}")

    keep = set(inputs)
    leaf_grads, retained = _run_backward(outputs, grad_outputs, create_graph, False, keep, caller="grad")
    found = dict(retained)
    for leaf, g in leaf_grads.items():
        if leaf in keep:
            found[leaf] = g
    handed_out = _arrays_of(grad_outputs)
    with using_config("enable_backprop", create_graph):
        result = [None if found.get(x) is None else _own_gradient(found[x], handed_out) for x in inputs]
    return result[0] if single_input else result
