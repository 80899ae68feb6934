"""Export dezero models to ONNX, the format other runtimes read.

    import dezero.onnx
    dezero.onnx.export(model, x, "model.onnx")

``export`` traces ``model(x)`` once in test mode and writes the recorded
graph: parameters as named initializers, axis 0 of the input as a dynamic
batch dimension. See ``docs/onnx.md`` for the supported Functions and the
limits. Needs the ``onnx`` package (``pip install onnx onnxruntime`` to run
the files too); ``import dezero.onnx`` itself does not.

Modules: :mod:`~dezero.onnx.builder` (the graph under construction, symbolic
batch shapes), :mod:`~dezero.onnx.ops` (one exporter per Function class),
:mod:`~dezero.onnx.dtypes` (the dtypes each ONNX operator runs on),
:mod:`~dezero.onnx.exporter` (the walk, the protobufs and the file).
"""

from dezero.onnx.builder import ExportError
from dezero.onnx.exporter import DEFAULT_OPSET, MIN_OPSET, export, supported_functions

__all__ = ["export", "supported_functions", "ExportError", "DEFAULT_OPSET", "MIN_OPSET"]
