"""What importing the package costs and changes (fresh interpreters): ``import heco_pyg``
leaves the environment alone; the console scripts answer ``--help`` without torch; the
commands import wandb, matplotlib, scikit-learn and faiss only where they are used."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

OPTIONAL = ("wandb", "matplotlib", "sklearn", "faiss")


def modules_after(code: str) -> dict[str, object]:
    """Runs ``code`` in a fresh interpreter without OMP_WAIT_POLICY; returns the
    ``result`` it leaves in its namespace."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = str(ROOT)
    script = f"{code}\nprint(repr(result))"
    output = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300, check=True).stdout  # fmt: skip
    return eval(output.strip().splitlines()[-1])


def test_import_heco_pyg_has_no_environment_side_effect():
    result = modules_after(
        "import os, sys, heco_pyg\n"
        "result = {'omp': os.environ.get('OMP_WAIT_POLICY'), 'torch': 'torch' in sys.modules}"
    )
    assert result == {"omp": None, "torch": False}


def test_the_commands_set_the_openmp_policy_and_leave_optional_libraries_unimported():
    result = modules_after(
        "import os, sys, heco_pyg.train, heco_pyg.evaluate, heco_pyg.recommend, "
        "heco_pyg.prepare\n"
        f"result = {{'omp': os.environ.get('OMP_WAIT_POLICY'), "
        f"'loaded': [m for m in {OPTIONAL!r} if m in sys.modules]}}"
    )
    assert result == {"omp": "PASSIVE", "loaded": []}


def test_the_console_script_answers_help_without_importing_torch():
    result = modules_after(
        "import sys, contextlib, io\n"
        "sys.argv = ['heco-train', '--help']\n"
        "from heco_pyg.cli.scripts import train\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    train()\n"
        "result = ('trainer.max_epochs' in out.getvalue(), 'torch' in sys.modules)"
    )
    assert result == (True, False)
