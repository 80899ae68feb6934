"""The notebooks under examples/ run top to bottom in a real Jupyter kernel and
show what they promise: graphs inline as SVG, plots as PNG."""

import os
import re
import shutil

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOUR = os.path.join(REPO, "examples", "tour.ipynb")


def mime_types(cell) -> list:
    """The mime types each rich output of ``cell`` carries."""
    return [
        sorted(output.get("data", {}))
        for output in cell.get("outputs", [])
        if output["output_type"] in ("display_data", "execute_result")
    ]


def text_of(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output["output_type"] == "stream")


def test_stored_notebook_is_valid_and_has_no_outputs():
    # Outputs are made by running it (here and in CI), not kept in the repository.
    notebook = nbformat.read(TOUR, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz `dot` program is not installed")
def test_tour_notebook_runs_and_draws_its_graphs_and_plots(tmp_path, monkeypatch):
    notebook = nbformat.read(TOUR, as_version=4)
    # The kernel must import this checkout's dezero, whatever else is installed.
    notebook.cells.append(nbformat.v4.new_code_cell("print('dezero from', dezero.__file__)"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws the plots
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the traceback, if any cell fails

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    svg_cells = [cell for cell in code if ["image/svg+xml", "text/plain"] in mime_types(cell)]
    png_cells = [cell for cell in code if ["image/png", "text/plain"] in mime_types(cell)]
    sources = [cell.source for cell in svg_cells]
    assert len(svg_cells) == 4, [cell.source for cell in code]
    assert any("show_graph(y)" in s for s in sources) and any("show_graph(d2" in s for s in sources)
    assert any("model.plot(" in s for s in sources)
    assert len(png_cells) == 2

    graph_of_y = next(cell for cell in svg_cells if "show_graph(y)" in cell.source)
    svg = graph_of_y.outputs[0]["data"]["image/svg+xml"]
    assert ">Pow<" in svg and ">Add<" in svg and ">y<" in svg

    printed = "\n".join(text_of(cell) for cell in code)
    assert "variable(7.0)" in printed  # dy/dx of x**2 + 3x at 2
    for order in ("first", "second"):
        found = re.search(rf"^{order}: +(\S+) +closed form (\S+)$", printed, flags=re.M)
        assert found and found.group(1) == found.group(2), printed
    accuracy = float(re.search(r"test accuracy ([0-9.]+) %", printed).group(1))
    assert accuracy >= 95.0
    assert f"dezero from {os.path.join(REPO, 'dezero', '__init__.py')}" in printed
    assert os.listdir(tmp_path) == []  # a notebook shows its pictures; it writes no files
