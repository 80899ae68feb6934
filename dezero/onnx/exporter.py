"""``export``: trace a model once, walk the recorded graph, write an ONNX file.

The walk starts at the model's outputs and follows every Variable to the
Function that created it, down to the leaves: the model's inputs, its
Parameters (named initializers ``l1/W``) and constants (initializers). Each
Function is then written, inputs first, by its entry in
:data:`dezero.onnx.ops.EXPORTERS`, every node checked against the dtypes its
ONNX operator runs on (:mod:`dezero.onnx.dtypes`) before anything is written.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from dezero.backend import array_types, as_numpy
from dezero.core import Function, Parameter, Variable, test_mode, using_config
from dezero.files import atomic_write
from dezero.onnx.builder import Batch, ExportError, GraphBuilder, Tensor, concrete, show
from dezero.onnx.dtypes import Kernels
from dezero.onnx.ops import EXPORTERS, graph_inputs

__all__ = ["export", "supported_functions", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17  # onnxruntime 1.12 (2022) and later run it
MIN_OPSET = 13  # Softmax along one axis and ReduceSum's axes input date from 13

_INSTALL_HINT = "pip install onnx onnxruntime"


def supported_functions() -> list:
    """The dezero Function classes the exporter writes.

    Returns
    -------
    list of str
        Their class names, sorted.
    """
    return sorted(cls.__name__ for cls in EXPORTERS)


def _import_onnx():
    try:
        import onnx
    except ImportError as e:
        raise ImportError(f"dezero.onnx.export needs the onnx package: {_INSTALL_HINT}") from e
    return onnx


# =============================================================================
# Tracing and walking
# =============================================================================
def _as_inputs(x) -> list:
    items = list(x) if isinstance(x, (tuple, list)) else [x]
    if not items:
        raise ValueError("dezero.onnx.export: x must hold at least one input array")
    inputs = []
    for i, item in enumerate(items):
        data = item.data if isinstance(item, Variable) else item
        if not isinstance(data, array_types):
            raise TypeError(f"dezero.onnx.export: input {i} must be an array or a Variable, got {type(item).__name__}")
        # A Variable of our own that takes a gradient, so that every op on it is recorded.
        inputs.append(Variable(data))
    return inputs


def _walk(outputs: list) -> tuple:
    """Every Function behind ``outputs``, inputs before the Functions that read
    them, and for each the Function it was reached from (toward the outputs)."""
    order: list = []
    done: set = set()
    downstream: dict = {}
    stack: list = []
    for y in outputs:
        if y.creator is not None:
            downstream.setdefault(y.creator, None)
            stack.append((y.creator, False))
    while stack:  # iterative: an unrolled RNN is deeper than Python's recursion limit
        f, expanded = stack.pop()
        if f in done:
            continue
        if expanded:
            done.add(f)
            order.append(f)
            continue
        stack.append((f, True))
        for x in graph_inputs(f):
            g = x.creator
            if g is not None and g not in done:
                downstream.setdefault(g, f)
                stack.append((g, False))
    return order, downstream


def _layer_paths(model) -> dict:
    """``id(layer) -> path`` ('conv1', 'res2/a') for every sub-layer of a Layer."""
    from dezero.layers import Layer

    paths = {}
    pending = [(model, "")]
    while pending:
        layer, path = pending.pop(0)
        if id(layer) in paths:
            continue
        paths[id(layer)] = path
        for name, value in vars(layer).items():
            if isinstance(value, Layer):
                pending.append((value, path + "/" + name if path else name))
    return paths


def _layer_outputs(model) -> dict:
    """``id(Variable) -> layer path`` for the outputs of each layer's last call."""
    from dezero.layers import Layer

    if not isinstance(model, Layer):
        return {}
    found = {}
    paths = _layer_paths(model)
    for layer in model.layers_tree():
        for ref in getattr(layer, "outputs", None) or ():
            y = ref() if ref is not None else None
            if y is not None:  # sub-layers come later: the innermost layer names it
                found[id(y)] = paths.get(id(layer)) or type(layer).__name__
    return found


def _place(f: Function, downstream: dict, layer_outputs: dict, param_paths: dict) -> str:
    """Where ``f`` sits in the model, as a sentence about it, for error messages.

    Returns
    -------
    str
        ``"it uses parameter 'fc/W', is applied to the output of layer 'fc1'
        and reaches the model's output through Cube -> ReLU"``; the first two
        parts only where they apply.
    """
    # Every part is a verb phrase of one subject, "it", so the sentence reads
    # whichever parts a Function has.
    parts = []
    params = [param_paths[id(x)] for x in f.inputs or () if id(x) in param_paths]
    if params:
        parts.append("uses parameter " + ", ".join(f"'{p}'" for p in params))
    fed_by = [layer_outputs[id(x)] for x in graph_inputs(f) if id(x) in layer_outputs]
    if fed_by:
        parts.append("is applied to the output of layer " + ", ".join(f"'{p}'" for p in fed_by))
    chain = []
    g: Optional[Function] = f
    while g is not None:
        label = type(g).__name__
        y = g.outputs[0]() if g.outputs else None
        if y is not None and id(y) in layer_outputs:
            label += f" (output of layer '{layer_outputs[id(y)]}')"
        chain.append(label)
        g = downstream.get(g)
    parts.append("reaches the model's output through " + " -> ".join(chain))
    return "it " + (", ".join(parts[:-1]) + " and " if len(parts) > 1 else "") + parts[-1]


# =============================================================================
# The graph
# =============================================================================
class _Exporter:
    def __init__(self, model, inputs: list, input_names: list, opset: int, dynamic_batch: bool):
        self.model = model
        self.inputs = inputs
        self.input_names = input_names
        batch_size = None
        if dynamic_batch:
            sizes = {x.shape[0] for x in inputs if x.ndim > 0}
            if len(sizes) > 1:
                raise ValueError(
                    f"dezero.onnx.export: the inputs have batch sizes {sorted(sizes)} on axis 0; "
                    "with dynamic_batch=True they share one"
                )
            batch_size = sizes.pop() if sizes else None
        self.g = GraphBuilder(opset, batch_size, Kernels(_import_onnx(), opset))
        self.param_paths = {}
        if hasattr(model, "named_params"):
            self.param_paths = {id(p): path for path, p in model.named_params()}

    def input_shape(self, x: Variable) -> tuple:
        if self.g.batch_size is None or x.ndim == 0:
            return tuple(x.shape)
        return (Batch(1),) + tuple(x.shape[1:])

    def leaf(self, var: Variable) -> Optional[Tensor]:
        """The tensor of a Variable no traced Function made."""
        g = self.g
        if var.data is None:  # an absent optional input (no bias)
            return None
        for x in self.inputs:
            # A raw array taken from an input (x.data) is that input too.
            if var is x or var.data is x.data:
                return g.tensors[id(x)]
        data = as_numpy(var.data)
        if isinstance(var, Parameter):
            path = self.param_paths.get(id(var)) or var.name or "param"
            return g.constant(data, name=path)
        return g.constant(data, name="const")

    def build(self, outputs: list, output_names: list):
        g = self.g
        for name in list(self.input_names) + list(output_names):
            g.reserve(name)
        for x, name in zip(self.inputs, self.input_names):
            g.tensors[id(x)] = Tensor(name, self.input_shape(x), x.dtype)

        order, downstream = _walk(outputs)
        layer_outputs = _layer_outputs(self.model)
        g.layer_outputs = layer_outputs
        missing = [f for f in order if type(f) not in EXPORTERS]
        if missing:
            f = missing[0]
            others = sorted({type(h).__name__ for h in missing} - {type(f).__name__})
            raise ExportError(
                f"dezero.onnx.export: no ONNX exporter for Function {type(f).__name__} (output shape "
                f"{_out_shape(f)}); {_place(f, downstream, layer_outputs, self.param_paths)}."
                + (f" Also unsupported: {', '.join(others)}." if others else "")
                + f" Supported: {', '.join(supported_functions())}"
            )

        for f in order:
            xs: list = []
            for x in graph_inputs(f):
                if id(x) not in g.tensors:
                    t = self.leaf(x)
                    if t is None:
                        xs.append(None)
                        continue
                    g.tensors[id(x)] = t
                xs.append(g.tensors[id(x)])
            try:
                y = EXPORTERS[type(f)](g, f, *xs)
            except ExportError as e:
                raise ExportError(
                    f"dezero.onnx.export: {type(f).__name__} "
                    f"({_place(f, downstream, layer_outputs, self.param_paths)}): {e}"
                ) from None
            self._check(f, y)
            g.tensors[id(f.outputs[0]())] = y

        results = []
        for y in outputs:
            if id(y) not in g.tensors:
                t = self.leaf(y)
                if t is None:
                    raise ValueError("dezero.onnx.export: the model returned a Variable that holds no data")
                g.tensors[id(y)] = t
            results.append(g.tensors[id(y)])
        return self._name_outputs(results, output_names)

    def _check(self, f: Function, y: Tensor) -> None:
        # A shape rule that disagrees with what dezero computed is a bug here:
        # stop rather than write a graph that computes something else.
        out = f.outputs[0]() if f.outputs else None
        assert out is not None, type(f).__name__  # the walk holds every output it reached
        got = concrete(y.shape, self.g.batch_size or 0)
        if got != tuple(out.shape) or y.dtype != out.dtype:
            raise RuntimeError(
                f"dezero.onnx.export: the exporter of {type(f).__name__} produced "
                f"{show(y.shape)} {y.dtype} where dezero computed {tuple(out.shape)} "
                f"{out.dtype} (a bug in dezero.onnx, please report it)"
            )

    def _name_outputs(self, results: list, output_names: list) -> list:
        """Give the output tensors their public names: rename the node output,
        or add an Identity when the tensor is an input, an initializer or
        another output already."""
        g = self.g
        produced = {out: node for node in g.nodes for out in node.outputs}
        renamed = {}
        named = []
        for t, name in zip(results, output_names):
            if t.name in produced and t.name not in renamed:
                renamed[t.name] = name
                produced[t.name].outputs = [name if o == t.name else o for o in produced[t.name].outputs]
            else:
                g.nodes.append(_identity(t.name, name))
            named.append(Tensor(name, t.shape, t.dtype))
        for node in g.nodes:
            node.inputs = [renamed.get(i, i) for i in node.inputs]
        return named


def _identity(src: str, dst: str):
    from dezero.onnx.builder import Node

    return Node("Identity", [src], [dst], dst + "_identity")


def _out_shape(f: Function):
    y = f.outputs[0]() if f.outputs else None
    return None if y is None else tuple(y.shape)


def _prune(g: GraphBuilder, output_names: list) -> None:
    """Drop the nodes and initializers no output depends on (a sum whose mean
    became a ReduceMean, say)."""
    needed = set(output_names)
    kept = []
    for node in reversed(g.nodes):
        if any(o in needed for o in node.outputs):
            kept.append(node)
            needed.update(i for i in node.inputs if i)
    g.nodes = kept[::-1]
    g.initializers = {k: v for k, v in g.initializers.items() if k in needed}


# =============================================================================
# Protobufs and the file
# =============================================================================
def _value_info(onnx, t: Tensor):
    dims = [("N" if d.k == 1 else None) if isinstance(d, Batch) else d for d in t.shape]
    return onnx.helper.make_tensor_value_info(t.name, onnx.helper.np_dtype_to_tensor_dtype(t.dtype), dims)


def _to_proto(onnx, g: GraphBuilder, inputs: list, outputs: list, graph_name: str, opset: int):
    helper = onnx.helper
    nodes = []
    for node in g.nodes:
        attrs = {k: helper.np_dtype_to_tensor_dtype(v) if isinstance(v, np.dtype) else v for k, v in node.attrs.items()}
        nodes.append(helper.make_node(node.op_type, node.inputs, node.outputs, name=node.name, **attrs))
    initializers = [onnx.numpy_helper.from_array(v, name) for name, v in g.initializers.items()]
    graph = helper.make_graph(
        nodes, graph_name, [_value_info(onnx, t) for t in inputs], [_value_info(onnx, t) for t in outputs], initializers
    )
    opset_ids = [helper.make_opsetid("", opset)]
    import dezero

    return helper.make_model(
        graph,
        opset_imports=opset_ids,
        producer_name="dezero",
        producer_version=dezero.__version__,
        ir_version=helper.find_min_ir_version_for(opset_ids),
    )


def _names(kind: str, names, count: int, default: str) -> list:
    if names is None:
        return [default] if count == 1 else [f"{default}{i}" for i in range(count)]
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"dezero.onnx.export: {kind} must be a list of non-empty strings, got {names!r}")
    names = list(names)
    if len(names) != count:
        raise ValueError(
            f"dezero.onnx.export: {len(names)} {kind} for {count} {'inputs' if kind == 'input_names' else 'outputs'}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"dezero.onnx.export: {kind} must be distinct, got {names}")
    return names


def export(
    model,
    x,
    path,
    input_names: Optional[Sequence[str]] = None,
    output_names: Optional[Sequence[str]] = None,
    opset: Optional[int] = None,
    dynamic_batch: bool = True,
):
    """Write ``model`` as an ONNX file, traced on the input ``x``.

    ``model(x)`` runs once under ``dezero.test_mode()`` (dropout off, batch
    norm with its running statistics), recording the graph; the graph is
    then walked from the output back to the input and the parameters and
    written with one ONNX node (or a few) per dezero Function.

    Parameters
    ----------
    model : Layer or callable
        What to export. A Layer's Parameters become initializers named by
        their paths (``l1/W``, ``conv1/b``); batch norm statistics are named
        ``<layer>/avg_mean`` and ``<layer>/avg_var``.
    x : array, Variable, or a tuple of them
        Example input(s). Only the shapes beyond axis 0 and the dtypes are
        fixed by it: axis 0 becomes the dynamic batch dimension ``N``.
    path : str or os.PathLike
        The file to write, atomically (a temporary file in the same
        directory, flushed, fsync'd and renamed over ``path``).
    input_names, output_names : list of str, optional
        Names of the graph's inputs and outputs; default ``x`` and ``y``
        (``x0``, ``x1``... when there are several).
    opset : int, optional
        ONNX opset version, from 13 up to what the installed ``onnx`` knows;
        default 17.
    dynamic_batch : bool
        Make axis 0 of the inputs (and of what depends on it) symbolic. False
        fixes every shape to the traced one.

    Returns
    -------
    onnx.ModelProto
        The model that was written, checked by ``onnx.checker.check_model``.

    Raises
    ------
    ImportError
        If the ``onnx`` package is missing (``pip install onnx onnxruntime``).
    ExportError
        If the graph holds a Function with no exporter (the message names it,
        where it sits in the model, and the supported ones), something that
        would only be right at the traced batch size, or an operation on a
        dtype that neither ONNX Runtime nor an exact substitute computes (a
        float64 convolution: the message names the ONNX operator and the
        dtype). No file is written then.
    TypeError, ValueError
        For bad arguments (names, opset, inputs).
    """
    onnx = _import_onnx()
    if opset is None:
        opset = DEFAULT_OPSET
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"dezero.onnx.export: opset must be an int from {MIN_OPSET} to {newest} "
            f"(the newest the installed onnx knows), got {opset!r}"
        )
    path = os.fspath(path)
    inputs = _as_inputs(x)
    input_names = _names("input_names", input_names, len(inputs), "x")

    # record_constants: ops on integer ids (slicing them before an embedding)
    # take no gradient, so only a trace that records them sees where ids come from.
    with using_config("enable_backprop", True), using_config("record_constants", True), test_mode():
        y = model(*inputs)
    ys = list(y) if isinstance(y, (tuple, list)) else [y]
    for i, out in enumerate(ys):
        if not isinstance(out, Variable):
            raise TypeError(
                f"dezero.onnx.export: the model must return Variables, output {i} is a {type(out).__name__}"
            )
    output_names = _names("output_names", output_names, len(ys), "y")
    clash = set(input_names) & set(output_names)
    if clash:
        raise ValueError(f"dezero.onnx.export: {sorted(clash)} named both an input and an output")

    exporter = _Exporter(model, inputs, input_names, opset, dynamic_batch)
    results = exporter.build(ys, output_names)
    g = exporter.g
    _prune(g, output_names)
    used = {i for node in g.nodes for i in node.inputs}
    unused = [name for name in input_names if name not in used and name not in output_names]
    if unused:
        raise ExportError(
            f"dezero.onnx.export: the outputs do not depend on input(s) {unused} in the "
            "recorded graph; was something computed outside dezero's Functions "
            "(NumPy on .data)? Such values would be frozen into the file as constants"
        )
    proto = _to_proto(
        onnx,
        g,
        [g.tensors[id(x)] for x in inputs],
        results,
        type(model).__name__ if hasattr(model, "named_params") else "dezero_model",
        opset,
    )
    onnx.checker.check_model(proto, full_check=True)
    with atomic_write(path) as f:
        f.write(proto.SerializeToString())
    return proto
