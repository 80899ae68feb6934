"""Sphinx configuration of dezero's documentation.

Build it from the repository root (see README):

    python3 -m pip install -e ".[docs]"
    python3 -m sphinx -W --keep-going -b html docs docs/_build/html

The pages are Markdown (MyST). The API reference is generated from the
docstrings (autodoc, NumPy style through napoleon): one page per module of the
package, written into ``api/generated/`` at the start of every build, so a
module added to ``dezero/`` appears without editing anything here.

Why Sphinx and not pdoc: the docs are a guide (getting started, graphs, data,
GPU, ONNX, distributed, the book and PyTorch pages) as much as a reference, and
Sphinx builds both into one site with cross-references from the guide into the
API (``{func}`~dezero.grad```); ``-W`` turns every broken reference or malformed
docstring into a build failure, which CI relies on; napoleon reads the NumPy
docstring sections the code already uses; and MyST keeps the pages in Markdown,
as README is. pdoc renders the API alone, from the modules, with no guide pages
and no such check.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(DOCS)
sys.path.insert(0, REPO)  # document this checkout, installed or not

import dezero  # noqa: E402

project = "dezero"
author = "the dezero authors"
copyright = "the dezero authors, MIT license"
release = dezero.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: ::: fences, $math$, and #anchors for every heading down to ###.
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# autodoc + napoleon: NumPy-style sections, members in source order.
autodoc_default_options = {"member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "description"
# Type hints fill in the types of documented parameters; a documented return
# value already names its type.
autodoc_typehints_description_target = "documented_params"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

html_theme = "alabaster"
html_title = f"dezero {release}"
html_theme_options = {
    "description": "a define-by-run autograd framework you can read",
    "fixed_sidebar": True,
    "show_relbars": True,
    # Wide enough for the three-column tables of the PyTorch/Chainer page.
    "page_width": "1240px",
    "sidebar_width": "220px",
    "body_max_width": "none",
}

# The API reference: one page per public module, in the package's layer order
# (each module depends only on those before it), then any module not named here.
API_ORDER = [
    "dezero",
    "dezero.backend",
    "dezero.core",
    "dezero.functions",
    "dezero.functions.math",
    "dezero.functions.array",
    "dezero.functions.connection",
    "dezero.functions.activation",
    "dezero.functions.loss",
    "dezero.functions.noise",
    "dezero.functions.normalization",
    "dezero.functions.conv",
    "dezero.functions.pooling",
    "dezero.functions.shapes",
    "dezero.layers",
    "dezero.models",
    "dezero.optimizers",
    "dezero.serialization",
    "dezero.datasets",
    "dezero.transforms",
    "dezero.dataloaders",
    "dezero.files",
    "dezero.visualize",
    "dezero.gradient_check",
    "dezero.utils",
    "dezero.optional",
    "dezero.tuning",
    "dezero.habits",
    "dezero.cuda",
]


def public_modules() -> list:
    """Every module of the package whose name has no part starting with '_'."""
    names = ["dezero"]
    for info in pkgutil.walk_packages(dezero.__path__, prefix="dezero."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    known = [name for name in API_ORDER if name in names]
    return known + sorted(set(names) - set(known))


def own_members(module) -> list:
    """The public names that ``module`` defines itself: those of ``__all__`` (or,
    without one, every name not starting with '_'), less those imported from
    another module, which are documented on that module's page (one place per
    object, so every cross-reference has one target)."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return [n for n in names if getattr(getattr(module, n, None), "__module__", None) == module.__name__]


def api_page(name: str) -> str:
    """The Markdown source of the reference page of module ``name``."""
    module = importlib.import_module(name)  # fail here, clearly, if a module does not import
    lines = [f"# `{name}`", ""]
    if name == "dezero":
        # The package re-exports the names people use most; they are
        # documented where they are defined.
        lines += [
            "```{eval-rst}",
            ".. automodule:: dezero",
            "```",
            "",
            "Names available as `dezero.<name>`, documented in their modules:",
            "",
            "- {class}`~dezero.core.Variable`, {class}`~dezero.core.Parameter`, {class}`~dezero.core.Function`,"
            " {class}`~dezero.core.Config`, {func}`~dezero.core.no_grad`, {func}`~dezero.core.test_mode`,"
            " {func}`~dezero.core.using_config`, {func}`~dezero.core.grad`, {func}`~dezero.core.as_array`,"
            " {func}`~dezero.core.as_variable` (from {mod}`dezero.core`)",
            "- {class}`~dezero.layers.Layer` (from {mod}`dezero.layers`); {class}`~dezero.models.Model`,"
            " {class}`~dezero.models.Sequential`, {class}`~dezero.models.MLP` (from {mod}`dezero.models`)",
            "- {class}`~dezero.dataloaders.DataLoader`, {class}`~dezero.dataloaders.SeqDataLoader`"
            " (from {mod}`dezero.dataloaders`)",
            "- {func}`~dezero.serialization.save_checkpoint`, {func}`~dezero.serialization.load_checkpoint`"
            " (from {mod}`dezero.serialization`)",
            "- the modules `backend`, `cuda`, `functions`, `utils`, `layers`, `models`, `optimizers`,"
            " `serialization`, `datasets`, `dataloaders`, `transforms`, `tuning`",
            "",
        ]
    else:
        # autodoc writes reStructuredText, which MyST reads inside eval-rst.
        members = own_members(module)
        lines += ["```{eval-rst}", f".. automodule:: {name}"]
        if members:
            lines.append(f"   :members: {', '.join(members)}")
        if name == "dezero.core_simple":
            # The teaching core defines its own Variable and Function: kept out
            # of the index, so `Variable` in other docstrings means dezero.core's.
            lines.append("   :no-index:")
        lines += ["```", ""]
    return "\n".join(lines)


def write_api_pages(app) -> None:
    """Write ``api/generated/NN-<module>.md`` for every public module, NN
    giving the order of :data:`API_ORDER` (only files whose text changed are
    rewritten, so incremental builds stay quick)."""
    folder = os.path.join(DOCS, "api", "generated")
    os.makedirs(folder, exist_ok=True)
    wanted = {}
    for position, name in enumerate(public_modules()):
        wanted[f"{position:02d}-{name}.md"] = api_page(name)
    for stale in set(os.listdir(folder)) - set(wanted):
        os.remove(os.path.join(folder, stale))
    for file_name, text in wanted.items():
        path = os.path.join(folder, file_name)
        if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)


def setup(app) -> None:
    app.connect("builder-inited", write_api_pages)
