"""The documentation under docs/ is true: its Python examples run, the output
they show is the output they print, and every page is reachable.

Conventions of the pages (docs/index.md, docs/coming_from_pytorch.md, docs/guide/*.md):

- A fence that starts a line, `` ```python ``, is an example that runs; the
  examples of one page run in order, in one namespace, in a temporary working
  directory. Code that must not run here (it needs a GPU, PyTorch, a
  download) goes in `` ```{code-block} python `` or in an indented fence.
- A `` ```text `` fence right after a `` ```python `` one is the exact output
  of that example.

The Sphinx build itself (every page, the API reference, zero warnings) is a
step of .ci/run.
"""

import contextlib
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# The guide and the pages about the whole API. Topic pages of single modules
# (docs/onnx.md, docs/distributed.md, docs/book_compatibility.md...) are their
# modules' to test: their examples may need optional packages or several processes.
PAGES = [DOCS / "index.md", DOCS / "coming_from_pytorch.md"] + sorted((DOCS / "guide").glob("*.md"))

_BLOCK = re.compile(r"^```(python|text)\n(.*?)^```\n(\s*)", flags=re.M | re.S)


def examples(page: Path) -> list:
    """``[(code, expected output or None)]`` for the runnable examples of ``page``."""
    found, previous_end = [], None
    for match in _BLOCK.finditer(page.read_text(encoding="utf-8")):
        kind, body = match.group(1), match.group(2)
        if kind == "python":
            found.append([body, None])
        elif found and found[-1][1] is None and match.start() == previous_end:
            found[-1][1] = body  # the output block right after its example
        previous_end = match.end()
    return [tuple(item) for item in found]


def test_the_guide_has_runnable_examples():
    names = {page.name for page in PAGES}
    assert {
        "index.md",
        "coming_from_pytorch.md",
        "getting_started.md",
        "functions.md",
        "training.md",
        "saving.md",
        "data.md",
        "graphs.md",
    } <= names
    assert sum(len(examples(page)) for page in PAGES) >= 25


@pytest.mark.parametrize("page", [page for page in PAGES if examples(page)], ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples_run_and_print_what_the_page_shows(page, tmp_path, monkeypatch):
    blocks = examples(page)
    if (
        any("show_graph" in code or ".plot(" in code or "plot_dot_graph" in code for code, _ in blocks)
        and shutil.which("dot") is None
    ):
        pytest.skip("the Graphviz `dot` program is not installed")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEZERO_HOME", str(tmp_path / "cache"))
    np.random.seed(0)
    namespace = {"__name__": f"docs_{page.stem}"}
    for i, (code, expected) in enumerate(blocks):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{page.relative_to(ROOT)} (example {i + 1})", "exec"), namespace)
        if expected is not None:
            assert out.getvalue().rstrip("\n") == expected.rstrip("\n"), (
                f"{page.name}, example {i + 1}: the output shown differs from the output printed"
            )


def test_every_page_is_in_a_table_of_contents():
    # Sphinx warns about an orphan page (and CI builds with -W); this says which.
    index = (DOCS / "index.md").read_text()
    for page in sorted((DOCS / "guide").glob("*.md")):
        assert f"guide/{page.stem}\n" in index, f"docs/guide/{page.name} is missing from the toctree of index.md"
    assert "\n*\n" in index  # the top-level pages (this one's and other modules' topics) by glob


def test_install_instructions_never_name_the_unrelated_package():
    # The PyPI name `dezero` is an old, unrelated release: every install line
    # in the docs, README, examples and messages must work from a clone.
    offenders = []
    patterns = (re.compile(r"pip install\s+[\"']?dezero\b"), re.compile(r"\bdezero\[\w"))
    folders = ["docs", "examples", "steps", "benchmarks", "dezero", ".ci"]
    files = [ROOT / "README.md"] + [
        p
        for folder in folders
        for p in (ROOT / folder).rglob("*")
        if p.is_file()
        and p.suffix in (".md", ".py", ".ipynb", "")
        and "_build" not in p.parts
        and "generated" not in p.parts
    ]
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in patterns:
            for match in pattern.finditer(text):
                line = text[: match.start()].count("\n") + 1
                context = text[max(0, match.start() - 60) : match.end() + 20]
                if "not" in context or "never" in context or "Do not" in context:
                    continue  # a warning against it, not an instruction
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)}")
    assert not offenders, "install lines that fetch the unrelated PyPI package:\n" + "\n".join(offenders)
