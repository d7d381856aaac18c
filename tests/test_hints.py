"""Every command a run's summary prints under ``next:`` runs, as printed, on that run."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from tests.conftest import TINY_SYNTHETIC


def test_every_next_hint_of_a_run_summary_runs(tmp_path):
    env = dict(os.environ, WANDB_MODE="disabled", OMP_NUM_THREADS="1")
    trained = subprocess.run([sys.executable, "-m", "heco_pyg.train", *TINY_SYNTHETIC,
                              "logger=none"], cwd=tmp_path, env=env, capture_output=True,
                             text=True)  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    lines = trained.stdout.splitlines()
    hints = [line.split("  #")[0].strip() for line in lines[lines.index("next:") + 1:]
             if line.startswith("  python -m heco_pyg.")]  # fmt: skip
    assert len(hints) >= 3 and any("recommend" in h for h in hints)
    for hint in hints:
        command = shlex.split(hint)
        assert command[0] == "python"
        result = subprocess.run([sys.executable, *command[1:]], cwd=tmp_path, env=env,
                                capture_output=True, text=True)  # fmt: skip
        assert result.returncode == 0, (hint, result.stderr[-2000:])
