"""The ONNX graph under construction, kept as plain Python data.

Nodes, constants and tensor names are collected here by the per-Function
exporters (:mod:`dezero.onnx.ops`); only the final step in
:mod:`dezero.onnx.exporter` turns them into ``onnx`` protobufs. Nothing here
imports ``onnx``.

Shapes are *symbolic* in one way only: a dimension may be ``Batch(k)``,
meaning ``k * N`` where N is the batch size of the graph inputs (their axis 0).
Every other dimension is the int seen while tracing. That is what lets one
trace at one batch size produce a graph that runs at any batch size: a
reshape to ``(N, -1)`` is written with -1 on the batch axis instead of the
traced batch size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np

from dezero.backend import as_numpy
from dezero.onnx.dtypes import exact_substitutes, holds

__all__ = ["Batch", "Tensor", "Node", "GraphBuilder", "ExportError"]


class ExportError(ValueError):
    """A model cannot be written as an ONNX graph that computes what dezero computes."""


@dataclass(frozen=True)
class Batch:
    """A dimension of size ``k * N``, N being the (dynamic) batch size.

    Parameters
    ----------
    k : int
        How many batches the dimension holds (a flatten of (N, 2) gives 2N).
    """

    k: int = 1

    def __repr__(self) -> str:
        return "N" if self.k == 1 else f"{self.k}N"


Dim = Union[int, Batch]


@dataclass
class Tensor:
    """A named value of the graph: its symbolic shape and its NumPy dtype.

    Parameters
    ----------
    name : str
        The tensor's name in the ONNX graph.
    shape : tuple
        Ints and :class:`Batch` dimensions.
    dtype : numpy.dtype
        The element type.
    """

    name: str
    shape: tuple
    dtype: np.dtype


@dataclass
class Node:
    """One ONNX node, before it becomes a protobuf.

    Parameters
    ----------
    op_type : str
        The ONNX operator (``"Gemm"``, ``"Conv"``...).
    inputs : list of str
        Names of the input tensors; ``""`` for an absent optional input.
    outputs : list of str
        Names of the output tensors.
    name : str
        The node's unique name.
    attrs : dict
        The operator's attributes.
    """

    op_type: str
    inputs: list  # tensor names; "" for an absent optional input
    outputs: list
    name: str
    attrs: dict = field(default_factory=dict)


def concrete(shape: Sequence[Dim], batch_size: int) -> tuple:
    """The shape at the traced batch size."""
    return tuple(d.k * batch_size if isinstance(d, Batch) else d for d in shape)


def _no_kernel(op_type: str, opset: int, dtype: np.dtype, role: str, allowed: list) -> str:
    return (
        f"ONNX {op_type} (opset {opset}) does not run on {dtype}{role}: the ONNX standard and ONNX Runtime's "
        f"CPU kernels together give it {', '.join(d.name for d in allowed)}, and no other dtype computes "
        "it exactly"
    )


def show(shape: Sequence[Dim]) -> str:
    return "(" + ", ".join(repr(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class GraphBuilder:
    """Collects nodes and initializers; hands out unique names.

    Parameters
    ----------
    opset : int
        The ONNX opset the graph is written for (some ops changed form).
    batch_size : int or None
        The batch size of the trace when axis 0 of the inputs is dynamic,
        None when every shape is fixed.
    kernels : Kernels, optional
        The dtypes each operator runs on (:class:`dezero.onnx.dtypes.Kernels`).
        Given, every node is checked against it as it is added, and computed in
        an exact substitute dtype where its own has no kernel; without it
        nothing is checked.
    """

    def __init__(self, opset: int, batch_size: Optional[int], kernels=None):
        self.opset = opset
        self.batch_size = batch_size
        self.kernels = kernels
        self._exact_casts: dict = {}  # name of a value-preserving Cast's output -> its input
        self.nodes: list = []
        self.initializers: dict = {}  # name -> np.ndarray
        self.tensors: dict = {}  # id(Variable) -> Tensor
        self.layer_outputs: dict = {}  # id(Variable) -> path of the layer that returned it
        self._names: set = set()
        self._counter = 0

    # --- names -------------------------------------------------------------------------
    def reserve(self, name: str) -> None:
        """Mark ``name`` as taken (the graph's input and output names).

        Parameters
        ----------
        name : str
            A tensor name no generated name may repeat.
        """
        self._names.add(name)

    def unique(self, base: str) -> str:
        """A fresh name: ``base`` itself if free, else ``base_1``, ``base_2``...

        Parameters
        ----------
        base : str
            The preferred name.

        Returns
        -------
        str
            A name not used before in this graph (now taken).
        """
        name, i = base, 0
        while name in self._names:
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        return name

    def scope_of(self, f) -> str:
        """The name prefix of the nodes that export ``f``.

        Parameters
        ----------
        f : Function
            A traced Function.

        Returns
        -------
        str
            ``'<layer path>/'`` when ``f``'s output is what a layer returned, else ``''``.
        """
        path = self.layer_outputs.get(id(f.outputs[0]()))
        return path + "/" if path else ""

    # --- graph content -----------------------------------------------------------------
    def tensor(self, var) -> Tensor:
        """The graph tensor a traced Variable became.

        Parameters
        ----------
        var : Variable
            An input or an output of a Function already exported.

        Returns
        -------
        Tensor
        """
        return self.tensors[id(var)]

    def constant(self, value, dtype=None, name: str = "const") -> Tensor:
        """Add an initializer holding ``value``.

        Parameters
        ----------
        value : array_like
            NumPy or CuPy array, or a scalar (CuPy arrays are copied to the host).
        dtype : numpy.dtype, optional
            Cast to this type first.
        name : str
            The preferred name (made unique).

        Returns
        -------
        Tensor
        """
        array = np.asarray(as_numpy(value), dtype=dtype)  # CuPy arrays come to the host
        name = self.unique(name)
        self.initializers[name] = array
        return Tensor(name, array.shape, array.dtype)

    def ints(self, values: Sequence[int], name: str = "const") -> Tensor:
        """Add a 1-D int64 constant: shapes, axes, slice bounds.

        Parameters
        ----------
        values : sequence of int
            The values.
        name : str
            The preferred name (made unique).

        Returns
        -------
        Tensor
        """
        return self.constant(np.array([int(v) for v in values], dtype=np.int64), name=name)

    def runs(self, op_type: str, dtype) -> bool:
        """Whether ``op_type`` has a kernel for a first input of ``dtype``.

        Parameters
        ----------
        op_type : str
            The ONNX operator.
        dtype : numpy.dtype
            The type of its first input.

        Returns
        -------
        bool
            True as well when no kernels were given to check against.
        """
        return self.kernels is None or self.kernels.runs(op_type, dtype)

    def op(self, op_type: str, inputs: Sequence[Optional[Tensor]], shape: Sequence[Dim], dtype=None, **attrs) -> Tensor:
        """Append one node with a single output.

        When the operator has no kernel for the inputs' dtypes, it is computed
        in an exact substitute (:func:`dezero.onnx.dtypes.exact_substitutes`):
        Casts to it before, and of the output back after.

        Parameters
        ----------
        op_type : str
            The ONNX operator.
        inputs : sequence of Tensor or None
            Its inputs; None for an absent optional input.
        shape : sequence
            The output's symbolic shape.
        dtype : numpy.dtype, optional
            The output's type; by default that of the first input.
        **attrs
            The operator's attributes.

        Returns
        -------
        Tensor
            The node's output.

        Raises
        ------
        ExportError
            When neither the dtype nor any exact substitute runs.
        """
        if dtype is None:
            first = inputs[0]
            assert first is not None, op_type
            dtype = first.dtype
        dtype = np.dtype(dtype)
        if self.kernels is None:
            return self._append(op_type, inputs, shape, dtype, attrs)
        inputs, compute = self._runnable(op_type, list(inputs), dtype)
        y = self._append(op_type, inputs, shape, compute, attrs)
        # Computed in a substitute, the output is cast back.
        return y if compute == dtype else self.op("Cast", [y], shape, dtype, to=dtype)

    def _runnable(self, op_type: str, inputs: list, dtype: np.dtype) -> tuple:
        """``inputs`` cast to exact substitutes where ``op_type`` has no kernel
        for their dtypes, and the dtype the node then outputs."""
        kernels = self.kernels
        params = kernels.params(op_type, len(inputs))
        compute = dtype
        for param in dict.fromkeys(p for p in params if p is not None):
            typed = {i: t for i, t in enumerate(inputs) if params[i] == param and t is not None}
            given = {t.dtype for t in typed.values()}
            # The exporters give the inputs of one type parameter one dtype.
            assert len(given) <= 1, f"{op_type}: the inputs of type {param} have dtypes {sorted(map(str, given))}"
            allowed = kernels.allowed(op_type, param)
            if not given or given <= set(allowed):
                continue
            (dtype_of_param,) = given
            follows = param == kernels.output_param(op_type)
            use = next((d for d in exact_substitutes(op_type, dtype_of_param, follows) if d in allowed), None)
            if use is None:
                first = min(typed)
                role = "" if first == 0 else f" as its input {kernels.input_name(op_type, first)}"
                raise ExportError(_no_kernel(op_type, self.opset, dtype_of_param, role, allowed))
            for i, t in typed.items():
                inputs[i] = self.cast(t, use)
            if follows:
                compute = use
        return inputs, compute

    def _append(self, op_type: str, inputs: Sequence[Optional[Tensor]], shape, dtype, attrs: dict) -> Tensor:
        self._counter += 1
        name = self.unique(f"{op_type}_{self._counter}")
        names = [t.name if t is not None else "" for t in inputs]
        while names and names[-1] == "":  # trailing absent optional inputs are left out
            names.pop()
        self.nodes.append(Node(op_type, names, [name], name, attrs))
        return Tensor(name, tuple(shape), np.dtype(dtype))

    def cast(self, x: Tensor, dtype) -> Tensor:
        """``x`` as ``dtype``: a Cast node, or ``x`` itself when it already is.

        A Cast of what a value-preserving Cast produced (uint8 to uint64, then
        to int64) casts the original instead: the same values, one node.

        Parameters
        ----------
        x : Tensor
            The value.
        dtype : numpy.dtype
            The wanted type.

        Returns
        -------
        Tensor
        """
        dtype = np.dtype(dtype)
        if x.dtype == dtype:
            return x
        x = self._exact_casts.get(x.name, x)
        if x.dtype == dtype:
            return x
        y = self.op("Cast", [x], x.shape, dtype, to=dtype)
        if holds(x.dtype, dtype):
            self._exact_casts[y.name] = x
        return y

    # --- symbolic shapes -----------------------------------------------------------------
    def broadcast(self, op: str, *shapes: Sequence[Dim]) -> tuple:
        """NumPy's broadcasting of symbolic shapes.

        A batch dimension against a fixed one other than 1 means the fixed one
        was the traced batch size baked into a constant: right at this batch
        size, wrong at any other, so it is refused.

        Parameters
        ----------
        op : str
            The operation, for the error message.
        *shapes : sequence
            Symbolic shapes of the operands.

        Returns
        -------
        tuple
            The broadcast shape.

        Raises
        ------
        ExportError
            When a batch dimension meets a fixed one other than 1.
        """
        ndim = max(len(s) for s in shapes)
        padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
        out = []
        for axis, dims in enumerate(zip(*padded)):
            batch = {d for d in dims if isinstance(d, Batch)}
            fixed = {d for d in dims if not isinstance(d, Batch) and d != 1}
            if len(batch) > 1 or (batch and fixed):
                raise ExportError(
                    f"{op}: operands of shapes {', '.join(show(s) for s in shapes)} meet on axis {axis}, "
                    "where a batch-sized dimension meets a fixed one: a constant or a shape was computed "
                    f"for the traced batch size {self.batch_size} and would not fit another. Build it "
                    "from the input inside the graph, or export with dynamic_batch=False"
                )
            out.append(batch.pop() if batch else (fixed.pop() if fixed else 1))
        return tuple(out)

    def reshape_dims(self, op: str, in_shape: tuple, out_shape: tuple) -> tuple:
        """Which axis of a reshape's output holds the batch.

        A reshape keeps the row-major order of the elements. If axis a of the
        input has size k*N, everything before it (``outer`` elements) must stay
        before the batch axis b of the output for every N, so the axes before b
        hold exactly ``outer`` elements, and the axes after b a size that
        divides k times the input's inner size. Only at a traced batch size
        of 1 can several axes qualify.

        Parameters
        ----------
        op : str
            The operation, for the error message.
        in_shape : tuple
            The input's symbolic shape.
        out_shape : tuple
            The output's traced shape (ints).

        Returns
        -------
        tuple
            ``out_shape`` with its batch axis as a :class:`Batch`.

        Raises
        ------
        ExportError
            When no axis, or more than one, can hold the batch.
        """
        batch_axes = [a for a, d in enumerate(in_shape) if isinstance(d, Batch)]
        if not batch_axes:
            return tuple(out_shape)
        if len(batch_axes) > 1:
            raise ExportError(f"{op}: the input {show(in_shape)} has more than one batch-sized axis")
        a = batch_axes[0]
        k = in_shape[a].k
        outer = math.prod(in_shape[:a])  # the other axes are fixed ints
        inner = math.prod(in_shape[a + 1 :])
        candidates = []
        for b in range(len(out_shape)):
            inner_out = math.prod(out_shape[b + 1 :])
            if math.prod(out_shape[:b]) == outer and inner_out > 0 and (k * inner) % inner_out == 0:
                candidates.append((b, k * inner // inner_out))
        if len(candidates) > 1 and (a, k) in candidates:
            # Only a trace at batch size 1 gets here ((1, 512) may be (N, 512) or
            # (1, 512N)): the batch staying where it was is what a model means.
            candidates = [(a, k)]
        if len(candidates) != 1:
            why = (
                "none of its axes can hold the batch for every batch size"
                if not candidates
                else "several of its axes could hold the batch; trace with a batch of 2 or more"
            )
            raise ExportError(
                f"{op}: reshaping {show(in_shape)} to {tuple(out_shape)}: {why} (or export with dynamic_batch=False)"
            )
        b, k_out = candidates[0]
        return tuple(Batch(k_out) if i == b else d for i, d in enumerate(out_shape))
