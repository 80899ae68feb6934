"""Which dtypes each ONNX operator runs on, and where another dtype computes it exactly.

An ONNX operator accepts the element types its schema lists for each type
parameter (``onnx.defs.get_schema(op).type_constraints``), and ONNX Runtime,
the runtime the files are tested with, has CPU kernels for fewer of them
(:data:`ORT_MISSING`). :class:`Kernels` answers, for the opset of one export,
whether a node can run with given dtypes; :func:`exact_substitutes` lists the
dtypes a node may be computed in instead, casting its inputs there and its
output back, without changing any result:

- an operator that only selects or moves values (``Max``, ``Relu``, ``Pad``,
  ``MaxPool``...) gives the same values in any dtype that holds every value
  of the original one (int16 in int32, uint16 in float32);
- integer arithmetic that wraps around (``Add``, ``Mul``, ``MatMul``,
  ``ReduceSum``, ``Pow`` of an integer base) gives the same low bits in any
  integer type at least as wide, and a Cast back to the narrower type keeps
  exactly those bits (the ONNX Cast of an integer "discards higher bits"), as
  NumPy's wrapping does;
- anything else (floating-point math, convolutions) has no exact substitute.

Nothing here imports ``onnx`` at module level: :class:`Kernels` is handed the
module by the exporter.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["Kernels", "ORT_MISSING", "exact_substitutes", "holds"]

# The NumPy dtypes a dezero array may have, by the names ONNX type strings use.
_TYPE_STRS = {
    "tensor(bool)": np.dtype(np.bool_),
    "tensor(int8)": np.dtype(np.int8),
    "tensor(int16)": np.dtype(np.int16),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(uint8)": np.dtype(np.uint8),
    "tensor(uint16)": np.dtype(np.uint16),
    "tensor(uint32)": np.dtype(np.uint32),
    "tensor(uint64)": np.dtype(np.uint64),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(float)": np.dtype(np.float32),
    "tensor(double)": np.dtype(np.float64),
}
# From narrow to wide, integers before floats: the order substitutes are tried in.
_ORDER = sorted(_TYPE_STRS.values(), key=lambda d: (d.kind == "f", d.itemsize, "biuf".index(d.kind)))

# The ONNX Runtime CPU kernels (onnxruntime 1.32) lack these dtypes although
# the ONNX schema allows them: {op: {type parameter: {dtype: opsets at which the
# kernel does exist}}}, for opsets 13 and later. Measured by running one node of
# each dtype at each opset; tests/test_onnx.py measures it again against the
# installed onnxruntime.
ORT_MISSING: dict = {
    "Relu": {"T": {"int16": (), "int64": (18,)}},
    "LeakyRelu": {"T": {"float64": (16, 17, 18)}},
    "Where": {"T": {"bool": (), "int16": (), "uint16": (), "uint64": ()}},
    "Max": {"T": {"int16": (), "uint16": ()}},
    "Min": {"T": {"int16": (), "uint16": ()}},
    "Clip": {"T": {"int16": (), "uint16": ()}},
    "Pad": {"T": {"int16": (), "uint16": ()}},
    "ReduceSum": {"T": {"uint32": (), "uint64": ()}},
    "ReduceMean": {"T": {"uint32": (), "uint64": ()}},
    "ReduceMax": {"T": {"uint32": (), "uint64": ()}},
    "ReduceMin": {"T": {"uint32": (), "uint64": ()}},
    "Gemm": {"T": {"int32": (), "int64": (), "uint32": (), "uint64": ()}},
    "Conv": {"T": {"float64": ()}},
    "ConvTranspose": {"T": {"float64": ()}},
    "AveragePool": {"T": {"float64": ()}},
    "Pow": {"T1": {"int8": (), "int16": (), "uint8": (), "uint16": (), "uint32": (), "uint64": ()}},
}

# Operators whose result is one of their input values (or a constant of the
# same type), moved or selected: any dtype holding every value computes them.
_SELECTING = {
    "Relu", "Max", "Min", "Clip", "ReduceMax", "ReduceMin", "MaxPool", "Where", "Pad", "Slice",
    "Concat", "Gather", "Expand", "Reshape", "Transpose", "Identity", "Unsqueeze",
}  # fmt: skip
# Integer arithmetic that wraps around modulo 2**bits.
_WRAPPING = {"Add", "Sub", "Mul", "Neg", "MatMul", "ReduceSum", "Pow"}


def holds(dtype, other) -> bool:
    """Whether ``other`` represents every value of ``dtype`` exactly.

    Stricter than NumPy's "safe" casting, which lets int64 into float64 (whose
    53-bit mantissa rounds integers beyond 2**53).

    Parameters
    ----------
    dtype, other : numpy.dtype
        The types.

    Returns
    -------
    bool
    """
    dtype, other = np.dtype(dtype), np.dtype(other)
    if dtype == other or dtype.kind == "b":
        return True
    if other.kind == "b":
        return False
    if dtype.kind == "f":
        return other.kind == "f" and other.itemsize >= dtype.itemsize
    info = np.iinfo(dtype)
    if other.kind == "f":  # integers up to 2**(mantissa bits + 1) are exact
        return max(-int(info.min), int(info.max)) <= 2 ** (np.finfo(other).nmant + 1)
    wide = np.iinfo(other)
    return wide.min <= info.min and info.max <= wide.max


def exact_substitutes(op_type: str, dtype, follows_output: bool) -> list:
    """The dtypes ``op_type`` may compute a ``dtype`` operand in without changing the result.

    Parameters
    ----------
    op_type : str
        The ONNX operator.
    dtype : numpy.dtype
        The operand's type.
    follows_output : bool
        Whether the operand's type is the output's type (``Pow``'s base is, its
        exponent is not). An operand that only feeds the computation may take
        any type of the same kind that holds all its values.

    Returns
    -------
    list of numpy.dtype
        Candidates, narrowest first; empty when none is exact.
    """
    dtype = np.dtype(dtype)
    holds_all = [d for d in _ORDER if d != dtype and holds(dtype, d)]
    if not follows_output:
        # The exponent of an integer Pow must stay an integer (a float one goes through pow()).
        return [d for d in holds_all if (d.kind == "f") == (dtype.kind == "f")]
    if op_type in _SELECTING:
        return holds_all
    if op_type in _WRAPPING and dtype.kind in "biu":
        # (A bool sum or product, 0, 1 or 2 in an integer type, casts back to
        # the bool NumPy gives: nonzero is True.)
        wider = [d for d in holds_all if d.kind in "iu"]
        # Then the integer types as wide but of the other signedness: the same bits.
        same_width = [d for d in _ORDER if d.kind in "iu" and d != dtype and d.itemsize >= dtype.itemsize]
        return wider + [d for d in same_width if d not in wider]
    return []


class Kernels:
    """The dtypes each ONNX operator runs on at one opset: its schema and ONNX Runtime's kernels.

    Parameters
    ----------
    onnx : module
        The ``onnx`` package.
    opset : int
        The opset of the export.
    """

    def __init__(self, onnx, opset: int):
        self.onnx = onnx
        self.opset = opset
        self._schemas: dict = {}

    def _schema(self, op_type: str):
        if op_type not in self._schemas:
            self._schemas[op_type] = self.onnx.defs.get_schema(op_type, self.opset)
        return self._schemas[op_type]

    def params(self, op_type: str, count: int) -> list:
        """The type parameter of each of ``count`` inputs (None for a fixed type).

        Parameters
        ----------
        op_type : str
            The ONNX operator.
        count : int
            How many inputs the node has.

        Returns
        -------
        list of str or None
            ``'T'``, ``'T1'``...: inputs of one parameter take one dtype.
        """
        schema = self._schema(op_type)
        constrained = {c.type_param_str for c in schema.type_constraints}
        formal = list(schema.inputs)
        out = []
        for i in range(count):
            # The last formal input of a variadic operator (Concat, Max) takes the rest.
            type_str = formal[min(i, len(formal) - 1)].type_str
            out.append(type_str if type_str in constrained else None)
        return out

    def input_name(self, op_type: str, index: int) -> str:
        """The name the ONNX schema gives input ``index`` (``'Y'``, the exponent of ``Pow``).

        Parameters
        ----------
        op_type : str
            The ONNX operator.
        index : int
            The input's position.

        Returns
        -------
        str
        """
        formal = list(self._schema(op_type).inputs)
        return formal[min(index, len(formal) - 1)].name

    def output_param(self, op_type: str) -> Optional[str]:
        """The type parameter of the operator's output, None for a fixed type.

        Parameters
        ----------
        op_type : str
            The ONNX operator.

        Returns
        -------
        str or None
        """
        schema = self._schema(op_type)
        type_str = schema.outputs[0].type_str
        return type_str if type_str in {c.type_param_str for c in schema.type_constraints} else None

    def allowed(self, op_type: str, param: str) -> list:
        """The NumPy dtypes ``param`` of ``op_type`` may be, in the schema and in ONNX Runtime.

        Parameters
        ----------
        op_type : str
            The ONNX operator.
        param : str
            One of its type parameters.

        Returns
        -------
        list of numpy.dtype
            Narrowest first.
        """
        schema = self._schema(op_type)
        strs = next(set(c.allowed_type_strs) for c in schema.type_constraints if c.type_param_str == param)
        missing = ORT_MISSING.get(op_type, {}).get(param, {})
        return [
            d
            for d in _ORDER
            if any(_TYPE_STRS.get(s) == d for s in strs)
            and not (d.name in missing and self.opset not in missing[d.name])
        ]

    def runs(self, op_type: str, dtype) -> bool:
        """Whether ``op_type`` runs with its first input (and what shares its type) of ``dtype``.

        Parameters
        ----------
        op_type : str
            The ONNX operator.
        dtype : numpy.dtype
            The type of its first input.

        Returns
        -------
        bool
        """
        param = self.params(op_type, 1)[0]
        return param is None or np.dtype(dtype) in self.allowed(op_type, param)
