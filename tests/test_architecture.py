"""The layers as ``docs/architecture.md`` draws them, read off the source: every import of the
package (module level, inside functions and under ``TYPE_CHECKING`` alike) is an edge, and the
graph has no circle; the domain imports no framework and no outer layer."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "statsservice"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module of the package that an imported name lives in (None: outside the package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".")
            if MODULES[module].name != "__init__.py":
                package = package[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, base] if base else package)
        # ``from pkg import sub`` imports the submodule, ``from pkg import name`` the package
        names = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names
        ]
    for name in names:
        yield _owner(name) or name


def imports() -> dict[str, set[str]]:
    """Module -> what it imports (package modules by name, anything else by its full name)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        found = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.update(t for t in _targets(module, node) if t != module)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(t for t in graph[root] if t in graph)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(t for t in graph[child] if t in graph))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circle_in_the_package():
    assert circles(imports()) == []


def test_the_walker_sees_a_circle():
    """The check itself: two modules importing each other form one circle."""
    assert circles({"a": {"b"}, "b": {"a", "c"}, "c": set()}) == [["a", "b"]]


def _edges(prefix: str) -> Iterator[tuple[str, str]]:
    for module, targets in imports().items():
        if module == prefix or module.startswith(prefix + "."):
            for target in sorted(targets):
                yield module, target


def _under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_domain_knows_no_framework_and_no_outer_layer():
    outer = ("flask", "flask_sqlalchemy", "sqlalchemy", "werkzeug", "statsservice.api", "statsservice.web")
    outer += ("statsservice.cli", "statsservice.storage", "statsservice.extensions", "statsservice.app")
    wrong = [(m, t) for m, t in _edges("statsservice.domain") if _under(t, *outer)]
    assert wrong == []


def test_processors_sit_below_the_stats_types_and_the_registry_above_both():
    below = [
        (m, t)
        for m, t in _edges("statsservice.domain.processors")
        if _under(t, "statsservice.domain.stats_types", "statsservice.domain.registry")
    ]
    types = [
        (m, t) for m, t in _edges("statsservice.domain.stats_types") if t == "statsservice.domain.registry"
    ]
    assert below == [] and types == []


def test_storage_serves_the_layers_above_and_imports_none_of_them():
    above = ("statsservice.api", "statsservice.web", "statsservice.cli", "statsservice.app")
    assert [(m, t) for m, t in _edges("statsservice.storage") if _under(t, *above)] == []


def test_the_faces_do_not_import_each_other():
    """``api``, ``web`` and ``cli`` stand side by side on storage; only a command may reuse what
    the web layer computes for a public face."""
    faces = ("statsservice.api", "statsservice.web", "statsservice.cli")
    crossing = [
        (m, t)
        for face in faces
        for m, t in _edges(face)
        if _under(t, *faces)
        and not _under(t, face)
        and not (face == "statsservice.cli" and _under(t, faces[1]))
    ]
    assert crossing == []
