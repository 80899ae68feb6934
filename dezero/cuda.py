"""Alias of :mod:`dezero.backend` under the name the book uses (``dezero.cuda``)."""

from dezero.backend import array_types, as_cupy, as_numpy, cupy, get_array_module, gpu_enable  # noqa: F401
