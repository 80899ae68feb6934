"""Graph drawing: the DOT text (structure, labels, determinism, deep graphs) and
rendered images (PNG/SVG/PDF through the Graphviz `dot` program)."""

import os
import re
import shutil
import struct
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Variable
from dezero.visualize import GraphvizNotFoundError, get_dot_graph, plot_dot_graph
from tests.script_env import script_env

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TANH_EXAMPLE = os.path.join(REPO, "examples", "tanh.py")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz `dot` program is not installed")

_NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)", shape=(\w+)')
_EDGE = re.compile(r"^\s*(\w+) -> (\w+);$")


def _unescape(label: str) -> str:
    out, i = [], 0
    while i < len(label):
        if label[i] == "\\":
            nxt = label[i + 1]
            out.append("\n" if nxt == "n" else nxt)
            i += 2
        else:
            out.append(label[i])
            i += 1
    return "".join(out).replace("&amp;", "&")


def parse(dot: str):
    """Return ({node id: (label, shape)}, [(src, dst), ...]) from our DOT text."""
    nodes, edges = {}, []
    for line in dot.splitlines():
        m = _NODE.match(line)
        if m:
            assert m.group(1) not in nodes, f"node {m.group(1)} declared twice"
            nodes[m.group(1)] = (_unescape(m.group(2)), m.group(3))
            continue
        m = _EDGE.match(line)
        if m:
            edges.append((m.group(1), m.group(2)))
    return nodes, edges


def x0_x1_graph(dtype=np.float64):
    x0 = Variable(np.arange(6, dtype=dtype).reshape(2, 3), name="x0")
    x1 = Variable(np.ones((2, 3), dtype=dtype), name="x1")
    y = x0 * x1 + x0
    y.name = "y"
    return x0, x1, y


# =============================================================================
# DOT text
# =============================================================================
def test_known_graph_structure():
    *_, y = x0_x1_graph()
    dot = get_dot_graph(y)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    nodes, edges = parse(dot)
    shapes = Counter(shape for _, shape in nodes.values())
    assert shapes == {"ellipse": 4, "box": 2}  # x0, x1, x0*x1, y; Mul, Add
    assert sorted(label for label, shape in nodes.values() if shape == "box") == ["Add", "Mul"]
    assert all(s in nodes and d in nodes for s, d in edges)

    def name(node_id):
        label = nodes[node_id][0]
        return label.split("\n")[0] if label.split("\n")[0] in ("x0", "x1", "y", "Mul", "Add") else "t"

    assert sorted((name(s), name(d)) for s, d in edges) == sorted(
        [
            ("x0", "Mul"),
            ("x1", "Mul"),
            ("Mul", "t"),
            ("t", "Add"),
            ("x0", "Add"),
            ("Add", "y"),
        ]
    )
    # Edges always join a variable and a function.
    for s, d in edges:
        assert {nodes[s][1], nodes[d][1]} == {"ellipse", "box"}


def test_repeated_input_gives_one_edge_per_argument():
    x = Variable(np.array(3.0), name="x")
    nodes, edges = parse(get_dot_graph(x * x))
    assert len(nodes) == 3
    assert Counter(edges).most_common(1)[0][1] == 2  # x -> Mul, twice


def test_leaf_without_creator():
    x = Variable(np.array([1.0, 2.0]), name="x")
    nodes, edges = parse(get_dot_graph(x))
    assert list(nodes.values()) == [("x\n(2,) float64", "ellipse")]
    assert edges == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_labels_verbose_and_not(dtype):
    *_, y = x0_x1_graph(dtype)
    dtype_name = np.dtype(dtype).name
    verbose = {label for label, shape in parse(get_dot_graph(y, verbose=True))[0].values() if shape == "ellipse"}
    assert verbose == {
        f"x0\n(2, 3) {dtype_name}",
        f"x1\n(2, 3) {dtype_name}",
        f"y\n(2, 3) {dtype_name}",
        f"(2, 3) {dtype_name}",
    }

    quiet_dot = get_dot_graph(y, verbose=False)
    quiet = {label for label, shape in parse(quiet_dot)[0].values() if shape == "ellipse"}
    assert quiet == {"x0", "x1", "y", ""}
    assert dtype_name not in quiet_dot and "(2, 3)" not in quiet_dot


def test_labels_are_escaped():
    name = 'a"b\\c\nd &lt; e'
    x = Variable(np.array(1.0), name=name)
    dot = get_dot_graph(F.exp(x))
    labels = [label for label, _ in parse(dot)[0].values()]
    assert f"{name}\n() float64" in labels
    # Every line is a complete statement: the raw newline in the name did not split one.
    for line in dot.splitlines()[1:-1]:
        assert line.endswith(";"), line


def test_node_ids_are_deterministic():
    def build():
        x = Variable(np.array([0.5, 1.5]), name="x")
        h = F.tanh(x) * x
        return F.exp(h) + h * 2.0

    y = build()
    first = get_dot_graph(y)
    assert get_dot_graph(y) == first
    # An identical graph built again (new objects, new id()s) gives the same text.
    assert get_dot_graph(build()) == first
    ids = list(parse(first)[0])
    assert [int(i[1:]) for i in ids] == list(range(len(ids)))  # a counter, in walk order
    assert ids[0] == "v0" and ids[1] == "f1"  # the output first, then its creator


def test_deep_chain_does_not_recurse():
    n = 10_000
    assert sys.getrecursionlimit() < n  # the walk would fail if it recursed per node
    x = Variable(np.array(0.0), name="x")
    y = x
    for _ in range(n):
        y = y + 1.0
    nodes, edges = parse(get_dot_graph(y, verbose=False))
    shapes = Counter(shape for _, shape in nodes.values())
    assert shapes == {"ellipse": n + 1, "box": n}
    assert len(edges) == 2 * n
    assert Counter(label for label, shape in nodes.values() if shape == "box") == {"AddConstant": n}


def test_backward_graph_with_create_graph():
    x = Variable(np.array(0.7), name="x")
    y = F.sin(x) * x
    gx = dezero.grad(y, x, create_graph=True)
    gx.name = "gx"
    nodes, edges = parse(get_dot_graph(gx))
    functions = Counter(label for label, shape in nodes.values() if shape == "box")
    # d/dx (x sin x) = sin x + x cos x: the backward used Cos and Mul nodes.
    assert functions["Cos"] >= 1 and functions["Mul"] >= 1
    labels = [label for label, _ in nodes.values()]
    assert "gx\n() float64" in labels and "x\n() float64" in labels
    assert len(edges) >= sum(functions.values()) + 1


def test_rejects_non_variable():
    with pytest.raises(TypeError, match="get_dot_graph: output must be a Variable, got ndarray"):
        get_dot_graph(np.zeros(3))


# =============================================================================
# Rendering
# =============================================================================
def png_size(data: bytes) -> tuple:
    # PNG: 8-byte signature, then the IHDR chunk (length, type, width, height).
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@needs_dot
@pytest.mark.parametrize("ext, magic", [("png", b"\x89PNG\r\n\x1a\n"), ("svg", b"<svg"), ("pdf", b"%PDF")])
def test_render_formats(tmp_path, ext, magic):
    *_, y = x0_x1_graph()
    target = tmp_path / "deep" / "er" / f"graph.{ext}"  # missing parents are created
    result = plot_dot_graph(y, to_file=target)
    assert result == str(target)
    data = target.read_bytes()
    assert len(data) > 500
    if ext == "svg":
        text = data.decode("utf-8")
        assert "<svg" in text and "</svg>" in text
        assert ">Mul<" in text and ">Add<" in text and ">x0<" in text
    else:
        assert data.startswith(magic)
    if ext == "png":
        width, height = png_size(data)
        # Four variables and two functions in a few rows: a small portrait picture.
        assert 100 <= width <= 2000 and 200 <= height <= 3000
        assert height > width
    # Only the image is left: the temporary file was renamed into place.
    assert os.listdir(target.parent) == [f"graph.{ext}"]


@needs_dot
def test_render_overwrites_and_str_path(tmp_path):
    target = tmp_path / "g.png"
    target.write_bytes(b"old")
    x = Variable(np.array(2.0), name="x")
    assert plot_dot_graph(F.exp(x), verbose=False, to_file=str(target)) == str(target)
    assert target.read_bytes().startswith(b"\x89PNG")
    assert os.listdir(tmp_path) == ["g.png"]


@needs_dot
def test_render_backward_graph(tmp_path):
    x = Variable(np.array(1.0), name="x")
    g = F.tanh(x)
    for _ in range(2):
        g = dezero.grad(g, x, create_graph=True)
    plot_dot_graph(g, to_file=tmp_path / "d2.png")
    data = (tmp_path / "d2.png").read_bytes()
    assert data.startswith(b"\x89PNG")
    width, height = png_size(data)
    assert width > 100 and height > 300


@needs_dot
def test_render_shows_names_literally(tmp_path):
    # Quotes, backslashes and HTML entities in a name must reach the picture as typed.
    x = Variable(np.array(1.0), name='say "hi" \\ &lt;3')
    plot_dot_graph(F.exp(x), verbose=False, to_file=tmp_path / "g.svg")
    svg = (tmp_path / "g.svg").read_text()
    # SVG itself escapes & and ", so the literal text `&lt;` appears as `&amp;lt;`.
    assert ">say &quot;hi&quot; \\ &amp;lt;3<" in svg


def test_unknown_extension(tmp_path):
    x = Variable(np.array(1.0))
    for name in ("graph", "graph.xyz"):
        with pytest.raises(ValueError, match="end the name with .png, .svg or .pdf"):
            plot_dot_graph(F.exp(x), to_file=tmp_path / name)
    assert os.listdir(tmp_path) == []


INSTALL_HINTS = ("apt-get install graphviz", "brew install graphviz", "conda install graphviz")


def test_missing_dot_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert shutil.which("dot") is None
    x = Variable(np.array(1.0), name="x")
    y = F.exp(x)
    with pytest.raises(GraphvizNotFoundError) as info:
        plot_dot_graph(y, to_file=tmp_path / "out" / "g.png")
    message = str(info.value)
    assert "`dot`" in message and "get_dot_graph" in message
    for hint in INSTALL_HINTS:
        assert hint in message
    assert isinstance(info.value, RuntimeError)
    assert not (tmp_path / "out").exists()
    # The DOT text needs no Graphviz at all.
    assert len(parse(get_dot_graph(y))[0]) == 3


def test_missing_dot_reported_by_graphviz(tmp_path, monkeypatch):
    # `dot` found on PATH but not runnable: graphviz raises ExecutableNotFound.
    graphviz = pytest.importorskip("graphviz")

    def fail(self, *args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot", "-Kdot", "-Tpng"])

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/usr/bin/" + name)
    monkeypatch.setattr(graphviz.Source, "pipe", fail)
    with pytest.raises(GraphvizNotFoundError) as info:
        plot_dot_graph(F.exp(Variable(np.array(1.0))), to_file=tmp_path / "g.png")
    for hint in INSTALL_HINTS:
        assert hint in str(info.value)
    assert isinstance(info.value.__cause__, graphviz.ExecutableNotFound)
    assert os.listdir(tmp_path) == []


@needs_dot
def test_notebook_display(tmp_path, monkeypatch):
    display_mod = pytest.importorskip("IPython.display")
    import dezero.visualize as visualize

    shown = []
    monkeypatch.setattr(visualize, "_in_notebook", lambda: True)
    monkeypatch.setattr(display_mod, "display", lambda obj: shown.append(obj))
    y = F.exp(Variable(np.array(1.0)))
    plot_dot_graph(y, to_file=tmp_path / "g.png")
    plot_dot_graph(y, to_file=tmp_path / "g.svg")
    assert [type(o).__name__ for o in shown] == ["Image", "SVG"]


# =============================================================================
# Inline pictures for Jupyter (the IPython display protocol)
# =============================================================================
def svg_of(obj) -> str:
    """What Jupyter shows for ``obj``: the SVG of its mime bundle."""
    bundle = obj._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"]
    svg = bundle["image/svg+xml"]
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and svg.rstrip().endswith("</svg>")
    return svg


@needs_dot
def test_show_graph_gives_an_inline_svg_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    *_, y = x0_x1_graph(np.float32)
    picture = dezero.utils.show_graph(y)
    svg = svg_of(picture)
    for label in (">Mul<", ">Add<", ">x0<", ">x1<", ">y<", "(2, 3) float32"):
        assert label in svg
    assert picture.source == get_dot_graph(y)  # the same DOT text, drawn
    assert "float32" not in svg_of(dezero.visualize.show_graph(y, verbose=False))
    assert os.listdir(tmp_path) == []


@needs_dot
def test_plot_dot_graph_without_a_file_returns_the_inline_picture(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = Variable(np.array(0.5), name="x")
    g = dezero.grad(F.tanh(x), x, create_graph=True)  # the graph of a derivative
    svg = svg_of(plot_dot_graph(g, to_file=None))
    assert ">Tanh<" in svg and ">x<" in svg
    assert os.listdir(tmp_path) == []


@needs_dot
def test_layer_plot_without_a_file_returns_the_inline_picture(tmp_path, monkeypatch):
    from dezero.models import MLP

    monkeypatch.chdir(tmp_path)
    model = MLP((5, 2))
    with dezero.no_grad():  # plot records a graph even so
        svg = svg_of(model.plot(np.ones((4, 3), dtype=np.float32), to_file=None))
    assert svg.count(">Linear<") == 2 and ">Sigmoid<" in svg
    assert ">W<" in svg and "(3, 5) float32" in svg  # the lazy weights were made by the forward pass
    assert os.listdir(tmp_path) == []


def test_show_graph_without_dot_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(GraphvizNotFoundError) as info:
        dezero.visualize.show_graph(F.exp(Variable(np.array(1.0))))
    assert str(info.value).startswith("show_graph: the Graphviz program `dot` was not found")
    for hint in INSTALL_HINTS:
        assert hint in str(info.value)
    with pytest.raises(TypeError, match="get_dot_graph: output must be a Variable"):
        dezero.visualize.show_graph(np.zeros(2))


def test_not_a_notebook_outside_jupyter():
    import dezero.visualize as visualize

    assert visualize._in_notebook() is False


# =============================================================================
# examples/tanh.py
# =============================================================================
def tanh_derivatives_closed_form(x: float, order: int) -> list:
    """d^k/dx^k tanh(x) for k = 1..order, as polynomials in t = tanh(x):
    tanh' = 1 - t^2, and d/dx p(t) = p'(t) (1 - t^2)."""
    P = np.polynomial.Polynomial
    one_minus_t2 = P([1.0, 0.0, -1.0])
    p, values = P([0.0, 1.0]), []  # p_0(t) = t
    for _ in range(order):
        p = p.deriv() * one_minus_t2
        values.append(p(np.tanh(x)))
    return values


def test_closed_form_reference():
    # The reference itself, against the familiar first two derivatives and a finite difference.
    t = np.tanh(1.0)
    d = tanh_derivatives_closed_form(1.0, 4)
    assert np.isclose(d[0], 1 - t**2) and np.isclose(d[1], -2 * t * (1 - t**2))
    h = 1e-4
    d2_plus = tanh_derivatives_closed_form(1.0 + h, 2)[1]
    d2_minus = tanh_derivatives_closed_form(1.0 - h, 2)[1]
    d3_numeric = (d2_plus - d2_minus) / (2 * h)
    assert np.isclose(d[2], d3_numeric, rtol=1e-6)


def test_tanh_example_derivatives_in_process():
    import importlib.util

    spec = importlib.util.spec_from_file_location("tanh_example", TANH_EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _, derivatives = module.tanh_derivatives(0.3, 5)
    expected = tanh_derivatives_closed_form(0.3, 5)
    np.testing.assert_allclose([float(g.data) for g in derivatives], expected, rtol=1e-12)


def test_tanh_example_quick(tmp_path):
    out = tmp_path / "graphs"
    env = script_env(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, TANH_EXAMPLE, "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    values = {int(k): float(v) for k, v in re.findall(r"^order (\d+): .* = (\S+)$", proc.stdout, flags=re.M)}
    assert sorted(values) == [1, 2], proc.stdout + proc.stderr
    expected = tanh_derivatives_closed_form(1.0, 2)
    assert values[1] == pytest.approx(expected[0], rel=1e-12)  # 1 - tanh(1)^2 = 0.41997...
    assert values[2] == pytest.approx(expected[1], rel=1e-12)
    if shutil.which("dot") is None:
        assert proc.returncode == 1 and "apt-get install graphviz" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    data = (out / "tanh_order2.png").read_bytes()
    assert data.startswith(b"\x89PNG")
    width, height = png_size(data)
    assert 100 <= width <= 3000 and 300 <= height <= 5000


@needs_dot
def test_tanh_example_default_graph_opens_in_an_image_viewer(tmp_path):
    # The book's 6th derivative is a 9777x9851 px PNG that viewers refuse: the
    # default is the 3rd, and deep graphs are one flag away as SVG.
    env = script_env(tmp_path / "home", quick=False)
    out = tmp_path / "graphs"
    proc = subprocess.run(
        [sys.executable, TANH_EXAMPLE, "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(re.findall(r"^order \d+: ", proc.stdout, flags=re.M)) == 3
    width, height = png_size((out / "tanh_order3.png").read_bytes())
    assert max(width, height) <= 4096
    proc = subprocess.run(
        [sys.executable, TANH_EXAMPLE, "--order", "4", "--format", "svg", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    svg = (out / "tanh_order4.svg").read_text()
    assert "<svg" in svg and "d4y/dx4" in svg


def test_docs_png_is_small_and_valid():
    path = os.path.join(REPO, "docs", "tanh_graph.png")
    data = open(path, "rb").read()
    assert data.startswith(b"\x89PNG") and 10_000 < len(data) < 300_000
    width, height = png_size(data)
    assert 200 <= width <= 3000 and 200 <= height <= 4000


def test_tanh_example_without_dot(tmp_path):
    # With `dot` unreachable the example still prints the derivatives, then
    # explains how to install Graphviz and exits with 1.
    env = dict(os.environ, PATH="")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, TANH_EXAMPLE, "--order", "3", "--out", str(tmp_path / "o")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert len(re.findall(r"^order \d+: ", proc.stdout, flags=re.M)) == 3
    for hint in INSTALL_HINTS:
        assert hint in proc.stderr
    assert not (tmp_path / "o").exists()
