"""The shape of the package: modules depend downward only, and importing
dezero needs NumPy alone."""

import ast
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "dezero")

OPTIONAL_PACKAGES = [
    "tqdm",
    "graphviz",
    "PIL",
    "matplotlib",
    "sklearn",
    "scipy",
    "torch",
    "cupy",
    "cupyx",
    "IPython",
    "onnx",
    "onnxruntime",
    "mpi4py",
    "threadpoolctl",
]


def _module_files() -> dict:
    """``{dotted module name: path}`` for every module of the package."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, REPO)[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _top_level_imports(path: str, modules: dict) -> set:
    """dezero modules imported when ``path`` is executed (imports inside
    functions and ``if TYPE_CHECKING`` blocks run later or never, so they do not count)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = set()
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            statements.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            statements.extend(node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body])
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                # `from dezero.functions import shapes` imports a module, not a name.
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return {name for name in found if name in modules}


def _import_graph() -> dict:
    modules = _module_files()
    return {name: _top_level_imports(path, modules) for name, path in modules.items()}


def test_no_module_level_import_cycle_inside_the_package():
    graph = _import_graph()
    state: dict = {}

    def visit(name: str, trail: list) -> None:
        state[name] = "open"
        for dep in sorted(graph[name]):
            if state.get(dep) == "open":
                cycle = trail[trail.index(dep) :] + [dep] if dep in trail else [name, dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, trail + [dep])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_core_depends_on_the_backend_only():
    assert _import_graph()["dezero.core"] == {"dezero.backend"}


def test_low_layers_never_import_higher_ones():
    graph = _import_graph()
    higher = {
        "dezero.layers",
        "dezero.models",
        "dezero.optimizers",
        "dezero.serialization",
        "dezero.datasets",
        "dezero.dataloaders",
        "dezero.utils",
    }
    for name, deps in graph.items():
        if name.startswith("dezero.functions") or name in ("dezero.core", "dezero.backend"):
            assert not deps & higher, f"{name} imports {sorted(deps & higher)}"


@pytest.mark.parametrize("module", ["dezero.core", "dezero"])
def test_import_needs_numpy_alone(module):
    # Every optional package is made unimportable (None in sys.modules), as in
    # a fresh virtual environment holding NumPy only.
    hide = "; ".join(f"sys.modules[{name!r}] = None" for name in OPTIONAL_PACKAGES)
    code = (
        f"import sys; {hide}; import {module}; import numpy as np; import dezero; "
        "import dezero.functions as F; x = dezero.Variable(np.array(2.0)); y = F.sin(x) * x; "
        "y.backward(); print(type(x.grad).__name__)"
    )
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Variable"


def test_missing_optional_package_names_what_to_install():
    code = (
        "import sys; sys.modules['sklearn'] = None; sys.modules['sklearn.datasets'] = None; "
        "import dezero.datasets as D; D.Digits()"
    )
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode != 0
    assert "ImportError: Digits needs scikit-learn: pip install scikit-learn" in out.stderr
