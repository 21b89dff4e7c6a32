"""The import structure of ``mockdrive``: no cycles, every module importable first, layers kept.

The graph is read from the source with ``ast``: module-level imports, imports inside functions
(a lazy import still runs, only later) and the package ``__init__`` modules an import runs on
the way (``import a.b.c`` runs ``a`` and ``a.b`` first). A module's own ancestor packages are
already running when it runs, so importing a submodule from one (``from . import c``) adds no
edge to the package; taking a name the package's ``__init__`` defines does.

Imports under ``if TYPE_CHECKING:`` are left out of the cycle check: they never run, so they
cannot form a cycle at run time. They still count for the layer rules, which say what a layer
may know about at all.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = "mockdrive"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# The lower layers know nothing of HTTP, the process or the test surface.
LOWER_LAYERS = ("mockdrive.model", "mockdrive.scenario")
FORBIDDEN_BELOW = (
    "mockdrive.api",
    "mockdrive.server",
    "mockdrive.proxy",
    "mockdrive.cli",
    "mockdrive.testing",  # the plugin, fixture, handles, ready clients and access oracle
    "mockdrive.pytest_plugin",  # the plugin's entry point
    "aiohttp",
    "pytest",
)


@dataclass
class ImportGraph:
    """Edges from each ``mockdrive`` module to the modules its import statements run."""

    modules: dict[str, Path]
    runtime: dict[str, set[str]] = field(default_factory=dict)
    type_only: dict[str, set[str]] = field(default_factory=dict)
    external: dict[str, set[str]] = field(default_factory=dict)  # third-party, all kinds


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def prefixes(name: str) -> list[str]:
    """``a.b.c`` → ``a``, ``a.b``, ``a.b.c``: what importing ``a.b.c`` runs, in order."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(tree: ast.AST, type_only: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    """Every import statement anywhere in ``tree``, with whether it sits under TYPE_CHECKING."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, type_only
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.body:
                yield from imports_of(ast.Module(body=[child], type_ignores=[]), True)
            for child in node.orelse:
                yield from imports_of(ast.Module(body=[child], type_ignores=[]), type_only)
        else:
            yield from imports_of(node, type_only)


def targets(node: ast.stmt, importer: str, package: bool, modules: dict[str, Path]) -> set[str]:
    """The modules of our package that ``node``, run inside ``importer``, runs."""
    own = set(prefixes(importer)) if package else set(prefixes(importer)[:-1])
    found: set[str] = set()

    def run(name: str) -> None:
        found.update(p for p in prefixes(name) if p in modules and p not in own)

    if isinstance(node, ast.Import):
        for alias in node.names:
            run(alias.name)
        return found
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = importer.split(".") if package else importer.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    run(source)
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        if submodule in modules:
            run(submodule)
        elif source in modules:
            found.add(source)  # a name the module (or its package __init__) defines
    return found


def external_roots(node: ast.stmt) -> set[str]:
    """Top-level names of third-party modules ``node`` imports (absolute imports only)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    assert isinstance(node, ast.ImportFrom)
    return {node.module} if node.module and not node.level else set()


def build_graph() -> ImportGraph:
    modules = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
    graph = ImportGraph(modules)
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph.runtime[name] = set()
        graph.type_only[name] = set()
        graph.external[name] = set()
        for node, type_only in imports_of(tree):
            edges = graph.type_only if type_only else graph.runtime
            edges[name] |= targets(node, name, is_package(path), modules) - {name}
            graph.external[name] |= {m for m in external_roots(node) if not m.startswith(PACKAGE)}
    return graph


def knots(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan): each is a knot of
    modules that import one another, directly or around a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def find_cycles(edges: dict[str, set[str]]) -> list[str]:
    """One cycle per knot, in words."""
    return [cycle_in(component, edges) for component in knots(edges)]


def cycle_in(component: set[str], edges: dict[str, set[str]]) -> str:
    """A shortest cycle through the first module of ``component``, and who else is caught."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges[node] & component):
                if nxt == start:
                    cycle = " → ".join(paths[node] + [start])
                    return f"{cycle}\n    (all {len(component)} in the knot: {sorted(component)})"
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle in {component}")


def reachable(start: str, edges: dict[str, set[str]]) -> dict[str, list[str]]:
    """Every module reachable from ``start``, with one import chain leading to it."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges.get(node, ())):
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    following.append(nxt)
        frontier = following
    return paths


@pytest.fixture(scope="module")
def imports() -> ImportGraph:
    return build_graph()


def test_the_graph_sees_every_kind_of_import(imports: ImportGraph) -> None:
    assert len(imports.modules) > 50
    # a lazy import inside a function counts: the plugin reaches the server only that way
    assert "mockdrive.server" in reachable("mockdrive.pytest_plugin", imports.runtime)
    # a relative import resolves to the module it names
    assert "mockdrive.model.sharing" in imports.runtime["mockdrive.model.links"]
    # importing a submodule runs the package's __init__ first
    assert "mockdrive.model" in imports.runtime["mockdrive.api.graph.routes"]


def test_no_import_cycles(imports: ImportGraph) -> None:
    cycles = find_cycles(imports.runtime)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


# Counting the imports made for annotations only, these lower-layer modules still import one
# another around a cycle. That cannot fail at run time, but it ties them together; the knot
# shrinks as operations take the parts of the State they use and shared types move down a layer.
# This list may only shrink. (Above the model, the handles that name ``MockDrive`` in annotations
# close such cycles through the server; they are left alone.)
LOWER_TYPE_ONLY_KNOT = {
    "mockdrive.model.delta", "mockdrive.model.links", "mockdrive.model.onehub",
    "mockdrive.model.sharing", "mockdrive.model.state", "mockdrive.model.uploads",
}  # fmt: skip


def test_the_lower_layers_type_only_knot_does_not_grow(imports: ImportGraph) -> None:
    lower = {name for name in imports.modules if name.startswith(LOWER_LAYERS)}
    edges = {name: (imports.runtime[name] | imports.type_only[name]) & lower for name in lower}
    grown = [cycle_in(knot, edges) for knot in knots(edges) if not knot <= LOWER_TYPE_ONLY_KNOT]
    assert not grown, "new import cycles through annotations:\n" + "\n".join(grown)


def test_model_and_scenario_know_nothing_above_them(imports: ImportGraph) -> None:
    edges = {
        name: imports.runtime[name] | imports.type_only[name] | imports.external[name]
        for name in imports.modules
    }
    shortest: dict[str, list[str]] = {}  # one shortest chain per forbidden module reached
    for name in imports.modules:
        if not name.startswith(LOWER_LAYERS):
            continue
        for target, chain in reachable(name, edges).items():
            forbidden = any(target == f or target.startswith(f + ".") for f in FORBIDDEN_BELOW)
            if forbidden and (target not in shortest or len(chain) < len(shortest[target])):
                shortest[target] = chain
    problems = sorted(" → ".join(chain) for chain in shortest.values())
    assert not problems, "a lower layer imports an upper one:\n" + "\n".join(problems)


# The testing surface uses the API; what the API serves (the dashboard included) never needs it.
TESTING_SURFACE = ("mockdrive.testing", "mockdrive.pytest_plugin")


def test_the_api_knows_nothing_of_the_testing_surface(imports: ImportGraph) -> None:
    problems = []
    for name in sorted(imports.modules):
        if name.startswith("mockdrive.api"):
            found = imports.runtime[name] | imports.type_only[name]
            problems += [f"{name} → {t}" for t in sorted(found) if t.startswith(TESTING_SURFACE)]
    assert not problems, "the API imports the testing surface:\n" + "\n".join(problems)


# Each module imported into a fresh ``sys.modules`` (third-party modules stay: they are not ours).
# A module's code object is read once and kept: every later import of it runs the same code in a
# new module, as a fresh interpreter would, without unmarshalling its bytecode file again.
IMPORT_EACH_FIRST = """
import importlib, json, sys, traceback
from importlib.machinery import SourceFileLoader

codes = {}
read_code = SourceFileLoader.get_code


def get_code(self, fullname):
    if self.path not in codes:
        codes[self.path] = read_code(self, fullname)
    return codes[self.path]


SourceFileLoader.get_code = get_code
failures = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "mockdrive" or m.startswith("mockdrive.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException:
        failures[name] = traceback.format_exc(limit=-3)
print(json.dumps(failures))
"""


def test_every_module_imports_first(imports: ImportGraph) -> None:
    names = sorted(imports.modules)
    # the bytecode files the test run keeps in the checkout's __pycache__ folders (conftest.py
    # lets them be written) spare compiling every module from source once more
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH_FIRST, json.dumps(names)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT.parent,
    )
    assert result.returncode == 0, result.stderr
    failures = json.loads(result.stdout.splitlines()[-1])
    assert not failures, "\n".join(f"{name}:\n{trace}" for name, trace in failures.items())


# aiohttp: public API only (in the package and benchmarks/), except in the one module that lists
# the private names it touches.
AIOHTTP_INTERNALS = "mockdrive.api.aiohttp_internals"
PUBLIC_AIOHTTP = {"aiohttp", "aiohttp.web", "aiohttp.hdrs", "aiohttp.abc", "aiohttp.test_utils"}


def aiohttp_private_names() -> set[str]:
    """Every private attribute or method name the installed aiohttp gives its own objects
    (``self._x`` in its source): ``_handle``, ``_message``, ``_loop``, ``_expect_handler``..."""
    import aiohttp

    names: set[str] = set()
    for path in Path(aiohttp.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id == "self" and node.attr.startswith("_"):
                    names.add(node.attr)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
    return {name for name in names if name.startswith("_") and not name.endswith("__")}


def test_aiohttp_internals_are_touched_in_one_module_only(imports: ImportGraph) -> None:
    private = aiohttp_private_names()
    assert {"_handle", "_message", "_payload_writer", "_expect_handler"} <= private
    problems = []
    benchmarks = {f"benchmarks/{p.name}": p for p in (ROOT.parent / "benchmarks").glob("*.py")}
    for name, path in {**imports.modules, **benchmarks}.items():
        if name == AIOHTTP_INTERNALS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                modules = [node.module]
            else:
                modules = []
            for module in modules:
                if module.split(".")[0] == "aiohttp" and module not in PUBLIC_AIOHTTP:
                    problems.append(f"{name}:{node.lineno} imports {module}")
            if isinstance(node, ast.Attribute) and node.attr in private:
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                    problems.append(f"{name}:{node.lineno} uses aiohttp's private .{node.attr}")
    assert not problems, f"aiohttp internals outside {AIOHTTP_INTERNALS}:\n" + "\n".join(problems)
