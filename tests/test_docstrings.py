"""Every public name of the package has a docstring, in NumPy's format: a
function that takes parameters says what they are (a ``Parameters`` section),
and one that returns a value says what it returns (``Returns`` or ``Yields``).

Public means: the names in a module's ``__all__`` (or, for a module without
one, the names it defines that do not start with ``_``), and the methods that a
public class defines itself. The API reference (docs/) is generated from these
docstrings.
"""

import ast
import importlib
import inspect
import pkgutil
import textwrap

import pytest

import dezero

# What needs no Parameters/Returns sections, and why; keep this short.
EXEMPT = {
    # The book's operators and array methods, attached to Variable by
    # dezero.functions.setup_variable: documented where they are defined.
    "dezero.core.Variable.reshape",
    "dezero.core.Variable.transpose",
    "dezero.core.Variable.sum",
    "dezero.core.Variable.mean",
    "dezero.core.Variable.max",
    "dezero.core.Variable.min",
    "dezero.core.Variable.astype",
    "dezero.core.Variable.dot",
    "dezero.core.Variable.matmul",
}


# Modules whose names need a docstring but not the Parameters/Returns sections:
# dezero.core_simple is the book's core of steps 23-32, kept short enough to
# read in one sitting; its full-strength twin, dezero.core, is the reference.
ONE_LINE_DOCSTRINGS_ENOUGH = ("dezero.core_simple.",)


def public_modules() -> list:
    names = ["dezero"] + [info.name for info in pkgutil.walk_packages(dezero.__path__, prefix="dezero.")]
    return [name for name in names if not any(part.startswith("_") for part in name.split("."))]


def public_names(module) -> list:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
        and (inspect.isfunction(value) or inspect.isclass(value))
    ]


def public_objects() -> dict:
    """``{module name: [(qualified name, object)]}``: the module itself and every
    public function, class and method it defines."""
    found, seen = {}, set()
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        entries = found[module_name] = [(module_name, module)]
        for name in public_names(module):
            value = getattr(module, name)
            if not (inspect.isfunction(value) or inspect.isclass(value)) or id(value) in seen:
                continue  # constants, and names documented under another module
            seen.add(id(value))
            qualified = f"{module_name}.{name}"
            entries.append((qualified, value))
            if inspect.isclass(value):
                for attr, member in vars(value).items():
                    if attr.startswith("_") or isinstance(member, property):
                        continue  # dunders and private helpers; properties document themselves
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if inspect.isfunction(member):
                        entries.append((f"{qualified}.{attr}", member))
    return found


def documented_parameters(obj) -> list:
    """The parameters a caller passes (``self``/``cls`` excluded). A class's are
    those of its own ``__init__`` (an inherited one is documented where it is
    defined, unless that class is private)."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    if inspect.isclass(obj):
        if not inspect.isfunction(target) or not target.__module__.startswith("dezero"):
            return []  # object's or an exception's constructor
        owner = target.__qualname__.split(".")[0]
        if "__init__" not in vars(obj) and not owner.startswith("_"):
            return []
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    names = [name for name in signature.parameters if name not in ("self", "cls")]
    return names


def returns_a_value(function) -> bool:
    """Whether the function's own body has ``return <value>`` or ``yield``."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return False
    tree = ast.parse(source)
    body = tree.body[0]
    nodes = []
    pending = list(body.body)
    while pending:  # the function's own statements, not those of nested functions or classes
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        nodes.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return any(
        isinstance(n, (ast.Yield, ast.YieldFrom))
        or (
            isinstance(n, ast.Return)
            and n.value is not None
            and not (isinstance(n.value, ast.Constant) and n.value.value is None)
        )
        for n in nodes
    )


def has_section(doc: str, *titles) -> bool:
    lines = [line.strip() for line in doc.splitlines()]
    return any(
        line == title and i + 1 < len(lines) and set(lines[i + 1]) == {"-"}
        for i, line in enumerate(lines)
        for title in titles
    )


OBJECTS = public_objects()


def test_the_walk_finds_the_public_api():
    names = {name for entries in OBJECTS.values() for name, _ in entries}
    for expected in (
        "dezero.core.Variable",
        "dezero.core.Variable.backward",
        "dezero.functions.math.exp",
        "dezero.layers.Linear",
        "dezero.optimizers.Adam.update",
        "dezero.serialization.load_checkpoint",
        "dezero.visualize.show_graph",
        "dezero.datasets.MNIST",
    ):
        assert expected in names
    assert len(names) > 250


def problems_of(name, obj) -> list:
    if name in EXEMPT:
        return []
    doc = obj.__doc__ if inspect.ismodule(obj) else inspect.getdoc(obj)
    if not doc or not doc.strip():
        return ["no docstring"]
    if inspect.ismodule(obj) or name.startswith(ONE_LINE_DOCSTRINGS_ENOUGH):
        return []
    found = []
    # A section given twice (two Returns, two Raises) says two things, one of them stale.
    lines = [line.strip() for line in doc.splitlines()]
    titles = [line for line, under in zip(lines, lines[1:]) if line and set(under) == {"-"}]
    found += [f"the {title} section appears twice" for title in sorted({t for t in titles if titles.count(t) > 1})]
    parameters = documented_parameters(obj)
    if parameters:
        if inspect.isclass(obj):  # NumPy style: in the class docstring, or in __init__'s
            doc = doc + "\n" + (inspect.getdoc(obj.__init__) or "")
        if not has_section(doc, "Parameters", "Other Parameters"):
            found.append(f"no Parameters section for ({', '.join(parameters)})")
    if inspect.isfunction(obj) and returns_a_value(obj) and not has_section(doc, "Returns", "Yields"):
        found.append("no Returns section")
    return found


@pytest.mark.parametrize("module", sorted(OBJECTS))
def test_public_names_have_numpy_docstrings(module):
    failures = [f"{name}: {problem}" for name, obj in OBJECTS[module] for problem in problems_of(name, obj)]
    assert not failures, f"{len(failures)} docstring problem(s) in {module}:\n" + "\n".join(failures)
