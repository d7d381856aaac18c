"""The package's layout rules (README, "Code map"): commands at the top, one owner of the
run folder, metrics free of training and runs, no import cycles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "heco_pyg"
COMMANDS = {"__init__", "train", "prepare", "evaluate", "recommend", "report"}
RUN_FILES = (
    "run.json",
    "checkpoint.pt",
    "last.pt",
    "fused.npy",
    "ids.csv",
    "history.csv",
    "metrics.json",
    "eval.json",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every ``heco_pyg`` module ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from heco_pyg.data import graph`` imports the submodule too
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("heco_pyg")}


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports(path) & set(modules) - {name} for name, path in modules.items()}


def test_top_level_holds_only_the_commands():
    assert {p.stem for p in PACKAGE.glob("*.py")} == COMMANDS


def test_only_runs_knows_the_run_folder_file_names():
    pattern = re.compile("|".join(re.escape(name) for name in RUN_FILES))
    offenders = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
                 if "runs" not in p.relative_to(PACKAGE).parts[:1] and pattern.search(p.read_text())]  # fmt: skip
    assert offenders == []


def test_evaluation_imports_neither_training_nor_runs():
    graph = import_graph()
    for module, imported in graph.items():
        if module.startswith("heco_pyg.evaluation"):
            assert not {i for i in imported
                        if i.startswith(("heco_pyg.training", "heco_pyg.runs"))}, module  # fmt: skip


def test_the_import_graph_has_no_cycles():
    graph = import_graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph[module]):
            assert state.get(imported) != 1, " -> ".join([*path, module, imported])
            if imported not in state:
                visit(imported, [*path, module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_the_cycle_check_can_fail(monkeypatch):
    """A planted cycle is found (the check above is not vacuous)."""
    import sys

    graph = {"heco_pyg.a": {"heco_pyg.b"}, "heco_pyg.b": {"heco_pyg.a"}}
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: graph)
    with pytest.raises(AssertionError, match="heco_pyg.a -> heco_pyg.b -> heco_pyg.a"):
        test_the_import_graph_has_no_cycles()
