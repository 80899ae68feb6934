"""Draw the graph behind a Variable: DOT text, and images rendered by Graphviz.

For example::

    y = F.tanh(x)
    print(get_dot_graph(y))               # text, needs nothing but this module
    plot_dot_graph(y, to_file="y.png")    # needs the `dot` program of Graphviz
    show_graph(y)                         # in Jupyter: the picture, inline (SVG)

Variables are drawn as ellipses, Functions as boxes, and the edges follow the
data: input -> function -> output. Because ``backward(create_graph=True)``
builds its gradients out of Functions too, the graph of a derivative can be
drawn the same way as the graph of a forward pass.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import deque
from typing import Callable, Optional

from dezero.core import Function, Variable, using_config
from dezero.optional import import_optional

__all__ = ["get_dot_graph", "show_graph", "plot_dot_graph", "plot_model", "summary", "GraphvizNotFoundError"]

_VARIABLE_STYLE = 'shape=ellipse, style=filled, fillcolor="#fbe3c2", color="#c8893a"'
_FUNCTION_STYLE = 'shape=box, style=filled, fillcolor="#cfe2f3", color="#4a7fb0"'

_INSTALL_HINT = (
    "install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install graphviz`; "
    "get_dot_graph() still returns the DOT text without it"
)


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz ``dot`` program, which turns DOT text into images, is not installed."""


# =============================================================================
# DOT text
# =============================================================================
def _quote(text: str) -> str:
    """A DOT double-quoted string that shows ``text`` literally.

    Inside quotes DOT gives meaning to backslash sequences (``\\n``, ``\\l``,
    ``\\N``...) and ends the string at ``"``, so both are escaped; real line
    breaks become DOT's centred line break ``\\n``. Graphviz also expands
    HTML entities in every label (``&lt;`` shows as ``<``), so ``&`` is escaped
    as ``&amp;``.
    """
    text = text.replace("&", "&amp;")
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return '"' + text + '"'


def _variable_label(v: Variable, verbose: bool) -> str:
    lines = []
    if v.name is not None:
        lines.append(str(v.name))
    if verbose:
        if v.data is None:
            lines.append("None")
        else:
            lines.append(f"{v.shape} {v.dtype}")
    return "\n".join(lines)


def get_dot_graph(output: Variable, verbose: bool = True) -> str:
    """Return the DOT description of the graph that produced ``output``.

    Parameters
    ----------
    output : Variable
        The end of the graph; everything it was computed from is drawn.
    verbose : bool
        Add each Variable's shape and dtype under its name.

    Returns
    -------
    str
        A ``digraph`` with one node per Variable (ellipse) and per Function
        (box, labelled with its class name). Node ids are numbered in the order
        the walk meets them, so the same graph always gives the same text.
    """
    if not isinstance(output, Variable):
        raise TypeError(f"get_dot_graph: output must be a Variable, got {type(output).__name__}")

    # Python ids only tell whether an object was met already; the names written
    # to the DOT text come from a counter, so the text does not change between runs.
    node_ids: dict[int, str] = {}
    lines = ["digraph dezero {", '  node [fontname="Helvetica", fontsize=11];']
    edges = []

    def node(obj) -> tuple[str, bool]:
        """The DOT id of ``obj`` and whether it was new."""
        key = id(obj)
        if key in node_ids:
            return node_ids[key], False
        name = f"{'f' if isinstance(obj, Function) else 'v'}{len(node_ids)}"
        node_ids[key] = name
        if isinstance(obj, Function):
            lines.append(f"  {name} [label={_quote(type(obj).__name__)}, {_FUNCTION_STYLE}];")
        else:
            lines.append(f"  {name} [label={_quote(_variable_label(obj, verbose))}, {_VARIABLE_STYLE}];")
        return name, True

    node(output)
    # A queue rather than recursion: a chain of ten thousand ops is an ordinary
    # graph (an unrolled RNN, a high-order derivative) and must not hit the
    # interpreter's recursion limit.
    pending: deque = deque()
    if output.creator is not None:
        pending.append(output.creator)
        node(output.creator)
    while pending:
        func = pending.popleft()
        f_name = node_ids[id(func)]
        for ref in func.outputs or ():
            y = ref()
            if y is not None:  # outputs are held weakly; a freed one is not drawn
                edges.append(f"  {f_name} -> {node(y)[0]};")
        for x in func.inputs or ():
            edges.append(f"  {node(x)[0]} -> {f_name};")
            if x.creator is not None and node(x.creator)[1]:
                pending.append(x.creator)

    lines.extend(edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


# =============================================================================
# Rendering
# =============================================================================
def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    # Terminal IPython would print "<IPython.core.display.Image object>": only a
    # kernel with a front end (Jupyter) can show the picture.
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _display(path: str, fmt: str) -> None:
    try:
        from IPython.display import SVG, Image, display
    except ImportError:
        return
    if fmt == "svg":
        display(SVG(filename=path))
    elif fmt in ("png", "jpg", "jpeg", "gif"):
        display(Image(filename=path))


def _graphviz_source(dot_text: str, caller: str):
    """A ``graphviz.Source`` of ``dot_text``, once Graphviz is known to be usable."""
    graphviz = import_optional("graphviz", "graphviz", f"{caller} (get_dot_graph needs nothing)")
    if shutil.which("dot") is None:
        raise GraphvizNotFoundError(f"{caller}: the Graphviz program `dot` was not found on PATH; {_INSTALL_HINT}")
    return graphviz, graphviz.Source(dot_text)


def show_graph(output: Variable, verbose: bool = True):
    """The graph behind ``output`` as an object Jupyter draws inline, as SVG.

    Make it the last expression of a cell (or pass it to
    ``IPython.display.display``) and the notebook shows the picture; nothing
    is written to disk. The object is a ``graphviz.Source``, so it also has
    ``.source`` (the DOT text), ``.pipe(format="png")`` (the image's bytes) and
    ``.render(filename, format="svg")``.

    Parameters
    ----------
    output : Variable
        The end of the graph; everything it was computed from is drawn.
    verbose : bool
        Add each Variable's shape and dtype to its label.

    Returns
    -------
    graphviz.Source
        Rendered by Graphviz's ``dot`` when it is displayed (its
        ``_repr_mimebundle_`` gives ``image/svg+xml``).

    Raises
    ------
    TypeError
        If ``output`` is not a Variable.
    ImportError
        If the ``graphviz`` Python package is missing (``pip install graphviz``).
    GraphvizNotFoundError
        If the Graphviz ``dot`` program is not installed.
    """
    dot_text = get_dot_graph(output, verbose)  # checks `output` first
    return _graphviz_source(dot_text, "show_graph")[1]


def plot_dot_graph(output: Variable, verbose: bool = True, to_file="graph.png"):
    """Render the graph behind ``output`` to an image file with Graphviz.

    Parameters
    ----------
    output : Variable
        The end of the graph; everything it was computed from is drawn.
    verbose : bool
        Add each Variable's shape and dtype to its label.
    to_file : str, os.PathLike or None
        Where to write; the extension picks the format (``.png``, ``.svg``,
        ``.pdf``, or any other format of the ``dot`` program). Missing parent
        folders are created, and the file is replaced atomically, so a reader
        never sees half an image. None writes nothing and returns what
        :func:`show_graph` returns, for a notebook.

    Returns
    -------
    str or graphviz.Source
        ``to_file`` (in a Jupyter notebook the image is also displayed), or
        with ``to_file=None`` an object that Jupyter draws inline.

    Raises
    ------
    TypeError
        If ``output`` is not a Variable.
    ValueError
        If the extension of ``to_file`` is not an image format Graphviz knows.
    GraphvizNotFoundError
        If the Graphviz ``dot`` program is not installed.
    """
    if to_file is None:
        return show_graph(output, verbose)
    path = os.fspath(to_file)
    fmt = os.path.splitext(path)[1][1:].lower()
    dot_text = get_dot_graph(output, verbose)  # checks `output` before anything is touched

    graphviz = import_optional("graphviz", "graphviz", "plot_dot_graph (get_dot_graph needs nothing)")
    if fmt not in graphviz.FORMATS:
        raise ValueError(
            f"plot_dot_graph: cannot tell the image format from to_file={path!r}; end the name with .png, .svg or .pdf"
        )
    graphviz, source = _graphviz_source(dot_text, "plot_dot_graph")

    try:
        image = source.pipe(format=fmt)
    except graphviz.ExecutableNotFound as e:
        raise GraphvizNotFoundError(
            f"plot_dot_graph: the Graphviz program `dot` could not be run; {_INSTALL_HINT}"
        ) from e

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # Write beside the target and rename: os.replace is atomic on one file
    # system. (open() rather than mkstemp, whose files are private to the
    # owner: the image should get the usual permissions.)
    tmp_path = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp_path, "xb") as f:
            f.write(image)
        os.replace(tmp_path, path)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        raise

    if _in_notebook():
        _display(path, fmt)
    return path


# =============================================================================
# Models
# =============================================================================
def plot_model(model, *inputs, to_file="model.png"):
    """Run ``model`` forward on ``inputs`` and draw the resulting graph with
    :func:`plot_dot_graph` (Graphviz's ``dot`` must be installed). Also
    ``model.plot(*inputs)``.

    Parameters
    ----------
    model : Layer
        The model to draw.
    *inputs
        Inputs for one forward pass (a graph is recorded even under ``no_grad``).
    to_file : str, os.PathLike or None
        The image file; its extension picks the format. None writes nothing
        and returns an object Jupyter draws inline (see :func:`show_graph`).

    Returns
    -------
    str or graphviz.Source
        The path written, or with ``to_file=None`` the inline picture.

    Raises
    ------
    GraphvizNotFoundError
        If the Graphviz ``dot`` program is not installed.
    """
    with using_config("enable_backprop", True):  # under no_grad there would be no graph
        y = model.forward(*inputs)
    if isinstance(y, tuple):
        y = y[0]
    return plot_dot_graph(y, verbose=True, to_file=to_file)


def summary(model, print_fn: Optional[Callable] = print) -> str:
    """Return (and print with ``print_fn``, unless it is None) a table of a
    model's parameters: path, shape, dtype and element count, and the total.

    Lazy parameters that have not seen an input yet show ``(lazy)`` and are
    left out of the total, which says so. Also ``model.summary()``.

    Parameters
    ----------
    model : Layer
        The model (any Layer).
    print_fn : callable or None
        Called with the table's text; None prints nothing.

    Returns
    -------
    str
        The table.
    """
    rows = [("parameter", "shape", "dtype", "count")]
    total, lazy = 0, []
    for path, param in model.named_params():
        if param.data is None:
            rows.append((path, "(lazy)", "-", "?"))
            lazy.append(path)
        else:
            rows.append((path, str(tuple(param.shape)), str(param.dtype), f"{param.size:,}"))
            total += param.size
    for path, value in model.named_persistents():
        shape = "(lazy)" if value is None else str(tuple(value.shape))
        dtype = "-" if value is None else str(value.dtype)
        rows.append((path + " [not trained]", shape, dtype, "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]

    def fmt(r):
        return (f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}").rstrip()

    rule = "-" * len(fmt(rows[0]))
    lines = [f"{type(model).__name__}", rule, fmt(rows[0]), rule]
    lines += [fmt(r) for r in rows[1:]]
    lines.append(rule)
    line = f"Total parameters: {total:,}"
    if lazy:
        line += f" (not counting {len(lazy)} lazy parameter(s) that have not seen an input yet)"
    lines.append(line)
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text
