"""The package's layout rules (README, "Code map"): commands at the top, one owner of the
run folder, no import cycles, and floors: a module imports its own package and the floors
below it only, so no arrow runs back up.

The floors, lowest first (``FLOORS``): ``core`` (errors, secrets, the stopwatch, the
runtime, atomic writes) < ``data``, ``nn`` (the graph and the model, side by side: neither
imports the other) < ``config`` < ``evaluation`` (metrics) < ``training`` < ``runs``,
``retrieval`` (side by side) < ``cli`` (the front door, ``restore``) < the commands. Config
sits above data and nn although it needs neither today: its schema describes their keys,
and nothing below it should read a config. The nevers (core loads nothing above it,
evaluation loads neither training nor runs) are checked transitively: on the graph of what
importing a module executes (its module-level imports and the ``__init__`` of every package
it lives in), and once in a fresh interpreter through ``sys.modules``.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
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


#: Lowest first; a package's modules may import the packages of their own floor's position
#: and below, never a sibling on the same floor.
FLOORS = (("core",), ("data", "nn"), ("config",), ("evaluation",), ("training",),
          ("runs", "retrieval"), ("cli",))  # fmt: skip
#: package -> what importing its modules must never load (besides the floors above it).
NEVERS = {"core": ("heco_pyg.",), "evaluation": ("heco_pyg.training", "heco_pyg.runs")}


def floor(module: str) -> tuple[int, str]:
    """``(floor, package)`` of ``heco_pyg.<package>...``; the root and the commands are the
    top floor."""
    parts = module.split(".")
    for level, packages in enumerate(FLOORS):
        if len(parts) > 1 and parts[1] in packages:
            return level, parts[1]
    return len(FLOORS), "commands"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level(tree: ast.Module):
    """The nodes executed on import: all but the bodies of functions."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports(path: Path, on_import: bool = False) -> set[str]:
    """Every ``heco_pyg`` module ``path`` imports, at module level or inside functions
    (``on_import``: at module level only, what importing it executes)."""
    found = set()
    tree = ast.parse(path.read_text())
    for node in _module_level(tree) if on_import else ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from heco_pyg.data import graph`` imports the submodule too
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("heco_pyg")}


def import_graph(on_import: bool = False) -> dict[str, set[str]]:
    """module -> the package's modules it imports (``on_import``: what importing it
    executes, the ``__init__`` of each package it lives in included)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: imports(path, on_import) & set(modules) - {name}
             for name, path in modules.items()}  # fmt: skip
    if on_import:
        for name, imported in graph.items():
            parts = name.split(".")
            imported |= {".".join(parts[:i]) for i in range(1, len(parts))} - {name}
    return graph


def loaded_by(module: str, graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """Every module importing ``module`` loads, each with the chain that loads it."""
    chains = {module: [module]}
    stack = [module]
    while stack:
        current = stack.pop()
        for imported in sorted(graph[current]):
            if imported not in chains:
                chains[imported] = [*chains[current], imported]
                stack.append(imported)
    return chains


def test_top_level_holds_only_the_commands():
    assert {p.stem for p in PACKAGE.glob("*.py")} == COMMANDS


def test_only_runs_knows_the_run_folder_file_names():
    pattern = re.compile("|".join(re.escape(name) for name in RUN_FILES))
    offenders = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
                 if "runs" not in p.relative_to(PACKAGE).parts[:1] and pattern.search(p.read_text())]  # fmt: skip
    assert offenders == []


def test_no_arrow_runs_up_a_floor():
    """Function-level (lazy) imports count: a lazy import upward is still an arrow up."""
    offenders = []
    for module, imported in import_graph().items():
        level, package = floor(module)
        for target in sorted(imported):
            target_level, target_package = floor(target)
            if target_level > level or (target_level == level and target_package != package):
                offenders.append(f"{module} -> {target}")
    assert offenders == []


def test_the_nevers_hold_transitively():
    """What importing a core module loads stays in core; what importing an evaluation
    module loads holds nothing of training or runs (through any chain)."""
    graph = import_graph(on_import=True)
    offenders = []
    for module in sorted(graph):
        _, package = floor(module)
        if package not in NEVERS:
            continue
        for loaded, chain in sorted(loaded_by(module, graph).items()):
            never = loaded.startswith(NEVERS[package]) and floor(loaded)[1] != package
            if never and loaded != "heco_pyg":
                offenders.append(" -> ".join(chain))
    assert offenders == []


def test_the_nevers_hold_in_a_fresh_interpreter():
    """The same, from ``sys.modules`` after importing every core, then every evaluation
    module in a new process (what the graph above says, checked against Python)."""
    script = textwrap.dedent("""
        import importlib, json, pkgutil, sys
        loaded = {}
        for package in ("core", "evaluation"):
            root = importlib.import_module(f"heco_pyg.{package}")
            for info in pkgutil.iter_modules(root.__path__):
                importlib.import_module(f"heco_pyg.{package}.{info.name}")
            loaded[package] = sorted(m for m in sys.modules if m.startswith("heco_pyg."))
        print(json.dumps(loaded))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, check=True)  # fmt: skip
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert [m for m in loaded["core"] if not m.startswith("heco_pyg.core")] == []
    assert "heco_pyg.evaluation.recommendation" in loaded["evaluation"]
    assert [m for m in loaded["evaluation"] if m.startswith(NEVERS["evaluation"])] == []


def test_a_planted_violation_fails(monkeypatch):
    """An evaluation module that reaches training through data's package ``__init__`` (an
    arrow up from data, and a never two steps away) fails both checks."""
    planted = {
        "heco_pyg.evaluation": set(),
        "heco_pyg.evaluation.planted": {"heco_pyg.evaluation", "heco_pyg.data.graph"},
        "heco_pyg.data": {"heco_pyg.training.trainer"},
        "heco_pyg.data.graph": {"heco_pyg.data"},
        "heco_pyg.training": set(),
        "heco_pyg.training.trainer": {"heco_pyg.training"},
    }
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda on_import=False: planted)
    with pytest.raises(AssertionError, match="heco_pyg.data -> heco_pyg.training.trainer"):
        test_no_arrow_runs_up_a_floor()
    chain = ("heco_pyg.evaluation.planted -> heco_pyg.data.graph -> heco_pyg.data -> "
             "heco_pyg.training.trainer")  # fmt: skip
    with pytest.raises(AssertionError, match=re.escape(chain)):
        test_the_nevers_hold_transitively()


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
    graph = {"heco_pyg.a": {"heco_pyg.b"}, "heco_pyg.b": {"heco_pyg.a"}}
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: graph)
    with pytest.raises(AssertionError, match="heco_pyg.a -> heco_pyg.b -> heco_pyg.a"):
        test_the_import_graph_has_no_cycles()
