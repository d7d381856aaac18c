"""The project's Optuna sweeper: a real Hydra multirun of a tiny app (a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

optuna = pytest.importorskip("optuna", reason="the optuna extra is not installed")

APP = """
import hydra

@hydra.main(version_base=None, config_path=".", config_name="app")
def main(cfg):
    if cfg.kind == "bad":
        return float("nan")
    return (cfg.x - 0.5) ** 2 + (0.0 if cfg.kind == "good" else 1.0) + cfg.offset

main()
"""
CONFIG = """
defaults:
  - override hydra/sweeper: optuna
  - _self_
x: 0.0
kind: good
offset: 0.0
hydra:
  searchpath: [pkg://heco_pyg.conf]
  sweep: {dir: multirun}
  sweeper:
    n_trials: 12
    n_jobs: 3
    sampler: {_target_: optuna.samplers.RandomSampler, seed: 0}
    params:
      x: interval(-1.0, 1.0)
"""


def test_a_multirun_asks_optuna_and_tells_it_each_jobs_return_value(tmp_path):
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "app.yaml").write_text(CONFIG)
    result = subprocess.run([sys.executable, "app.py", "-m", "kind=choice(good,other,bad)",
                             "offset=1.0"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted((tmp_path / "multirun").glob("[0-9]*"))
    assert len(jobs) == 12  # n_trials, launched 3 at a time
    overrides = [yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) for job in jobs]
    assert all("offset=1.0" in o and any(a.startswith("x=") for a in o) for o in overrides)
    best = yaml.safe_load((tmp_path / "multirun" / "optimization_results.yaml").read_text())
    assert best["best_params"]["kind"] == "good"  # "bad" trials (NaN) are failed, not best
    x = best["best_params"]["x"]
    assert -1.0 <= x <= 1.0 and best["best_value"] == pytest.approx((x - 0.5) ** 2 + 1.0)


@pytest.mark.slow  # two tiny training runs in a subprocess
def test_hparams_search_optuna_trains_and_reports_the_best_trial(tmp_path):
    from tests.conftest import ROOT, TINY_SYNTHETIC

    result = subprocess.run(
        [sys.executable, "-m", "heco_pyg.train", "hparams_search=optuna", *TINY_SYNTHETIC,
         "logger=none", "hydra.sweeper.n_trials=2", "hydra.sweep.dir=sweep",
         "trainer.progress=false", f"paths.data_dir={tmp_path / 'data'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    best = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) == {"loss.tau", "loss.lam"}
    assert 0.0 < best["best_value"] <= 1.0  # fused/micro_f1
