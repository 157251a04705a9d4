"""The code map's promises, checked: packages import each other without cycles, modules stay small, and each
evaluation kind's name is written only where the kind is defined."""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400
DATA_TABLES = {"asgbench/pretrain/lexicon.py"}        # vocabularies, not logic
# "segmentation" is also a table's name, so that kind is caught where it is compared as a kind
KIND_LITERAL = re.compile(r"""["'](linear_probe|zero_shot)["']|kind\W{1,6}["']segmentation["']""")
KIND_HOMES = {"asgbench/tasks/protocols.py", "asgbench/tasks/linear_probe.py", "asgbench/tasks/zero_shot.py",
              "asgbench/tasks/segmentation.py"}


def _node(module: str) -> str:
    """A module's node in the package graph: its package, or itself when it sits directly in ``asgbench``."""
    parts = module.split(".")
    package = parts if (ROOT.joinpath(*parts) / "__init__.py").is_file() else parts[:-1]
    return module if package == ["asgbench"] else ".".join(package)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_packages():
    graph = grimp.build_graph("asgbench", "baselines", include_external_packages=False)
    edges: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            source, target = _node(module), _node(imported)
            if source != target and not target.startswith(source + "."):   # a package may import its own parts
                edges[source].add(target)
    assert len(edges) > 10                                   # the graph was really built
    assert _cycles(edges) == []


def test_a_cycle_is_found_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _sources() -> list[Path]:
    return sorted(p for folder in ("asgbench", "baselines") for p in (ROOT / folder).rglob("*.py"))


def test_no_module_is_over_400_lines_except_data_tables():
    long = {str(p.relative_to(ROOT)): n for p in _sources() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert set(long) <= DATA_TABLES, long


def test_evaluation_kind_names_appear_only_where_kinds_are_defined():
    found = {str(p.relative_to(ROOT)) for p in _sources() if KIND_LITERAL.search(p.read_text())}
    assert found and found <= KIND_HOMES, found - KIND_HOMES
