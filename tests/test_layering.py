"""The layout holds: no import cycle in the package, and the protocol core imports only itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import surveillance

PACKAGE = Path(surveillance.__file__).parent
# The protocol's one library: the `holidays` package's Norway calendar decides working days.
PROTOCOL_LIBRARIES = {"holidays"}
KNOWN_CYCLES: list[set[str]] = []
REWRITTEN: set[str] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(module: str) -> list[tuple[ast.stmt, str]]:
    """Each import statement of a module (at any depth) with the absolute names it imports."""
    path = MODULES[module]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}".rstrip(".")
            found += [(node, _submodule_or(base, alias.name)) for alias in node.names]
    return found


def _submodule_or(base: str, name: str) -> str:
    return f"{base}.{name}" if f"{base}.{name}" in MODULES else base


def own_module(name: str) -> str | None:
    """The package's module an imported name lives in, None for another package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    """Who imports whom inside the package, imports inside functions included."""
    return {
        module: {
            target
            for _, name in imported(module)
            if (target := own_module(name)) is not None and target != module
        }
        for module in MODULES
    }


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while (w := stack.pop()) != v:
                component.add(w)
            if component:
                found.append(component | {v})

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_module_of_the_package_takes_part_in_an_import_cycle():
    unknown = [cycle for cycle in cycles(graph()) if cycle not in KNOWN_CYCLES]
    assert unknown == []


@pytest.mark.parametrize(
    "edges, expected",
    [
        ({"a": {"b"}, "b": {"a"}, "c": set()}, [{"a", "b"}]),  # two modules import each other
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [{"a", "b", "c"}]),  # around three modules
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),  # a chain is no cycle
    ],
)
def test_the_cycle_finder_finds_cycles(edges, expected):
    assert cycles(edges) == expected


def test_the_protocol_core_imports_only_itself_the_standard_library_and_holidays():
    outside = [
        f"{module}: {name}"
        for module in MODULES
        if module.startswith("surveillance.protocol")
        for _, name in imported(module)
        if not name.startswith("surveillance.protocol")
        and name.partition(".")[0] not in sys.stdlib_module_names | PROTOCOL_LIBRARIES
    ]
    assert outside == []


def test_imports_inside_functions_say_why():
    """An import inside a function hides a cycle or a cost: a comment must say which."""
    unexplained = []
    for module, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node, _ in imported(module):
            line = lines[node.lineno - 1]
            indented = line.startswith((" ", "\t"))
            if indented and "#" not in line + lines[node.lineno - 2] and module not in REWRITTEN:
                unexplained.append(f"{module}:{node.lineno}: {line.strip()}")
    assert unexplained == []
