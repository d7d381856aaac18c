import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from omegaconf import open_dict

from heco_pyg.train import train
from tests.conftest import ROOT, TINY_SYNTHETIC, compose_config
from tests.helpers.wandb_files import read_history


def check_outputs(run_dir, epochs):
    for view in ("schema", "semantic", "fused"):
        z = np.load(run_dir / "embeddings" / f"{view}.npy")
        assert z.dtype == np.float32 and z.shape == (300, 64)
        assert np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)
    ids = pd.read_csv(run_dir / "embeddings" / "ids.csv")
    assert list(ids.columns) == ["row", "paper_id"] and len(ids) == 300
    history = pd.read_csv(run_dir / "history.csv")
    assert len(history) == epochs
    for column in (
        "loss",
        "loss_metapath",
        "loss_schema",
        "seconds",
        "attention/type/author",
        "attention/type/concept",
        "attention/semantic/PAP",
        "attention/semantic/PCP",
    ):
        assert column in history.columns  # fmt: skip
    assert np.allclose(history["attention/semantic/PAP"] + history["attention/semantic/PCP"], 1)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"fused/micro_f1", "semantic/mean_cosine", "features/micro_f1", "loss"} <= set(metrics)
    for name in ("checkpoint.pt", "loss.png", "attention.png"):
        assert (run_dir / name).stat().st_size > 0


def test_train_without_logger(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    metrics = train(tiny_config, run_dir)
    check_outputs(run_dir, epochs=3)
    assert metrics["epochs"] == 3
    assert not (run_dir / "wandb").exists()


def test_train_logs_losses_and_attention_to_offline_wandb(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose_config([*TINY_SYNTHETIC, "logger=wandb", "model=heco_mean"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    train(cfg, run_dir)
    (wandb_run,) = (run_dir / "wandb").glob("offline-run-*")
    rows = read_history(wandb_run)
    assert len(rows) == 3
    for key in (
        "loss/total",
        "loss/metapath",
        "loss/schema",
        "attention/type/author",
        "attention/type/concept",
        "attention/semantic/PAP",
        "attention/semantic/PCP",
    ):
        assert all(key in row for row in rows), key  # fmt: skip
    assert sum(rows[0][k] for k in ("attention/type/author", "attention/type/concept")) == (
        pytest.approx(1.0, abs=1e-5)
    )


def test_mini_batch_training(tiny_config, tmp_path):
    with open_dict(tiny_config):
        tiny_config.trainer.batch_size = 128
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    metrics = train(tiny_config, run_dir)
    assert np.isfinite(metrics["loss"])


def test_command_line_entry_point(tmp_path):
    env = dict(os.environ, WANDB_MODE="disabled")
    command = [sys.executable, "-m", "heco_pyg.train", *TINY_SYNTHETIC, "logger=none",
               "model=heco_mean", f"hydra.run.dir={tmp_path / 'cli'}"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "micro_f1" in result.stdout  # the evaluation table
    assert (tmp_path / "cli" / "embeddings" / "fused.npy").exists()
    assert (tmp_path / "cli" / ".hydra" / "config.yaml").exists()
