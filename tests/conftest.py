"""Shared fixtures: the real Hydra config, shrunk for tests, and the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "conf"
SHARED = Path(os.environ.get("HECO_SHARED", ROOT.parent / "shared"))

# Small enough to train in seconds, large enough for every code path.
TINY_SYNTHETIC = [
    "data.num_papers=300",
    "data.num_authors=400",
    "data.num_concepts=200",
    "data.num_fields=3",
    "trainer.max_epochs=3",
    "trainer.threads=1",
    "trainer.progress=false",
]


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    """The real ``conf/train.yaml`` with overrides, as Hydra composes it."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides or [], return_hydra_config=True)


@pytest.fixture
def tiny_config(tmp_path) -> DictConfig:
    cfg = compose_config([*TINY_SYNTHETIC, "logger=none"])
    with open_dict(cfg):
        cfg.paths.data_dir = str(tmp_path / "data")
        cfg.paths.output_dir = str(tmp_path / "run")
    return cfg


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} is absent (set HECO_SHARED to its path)")
    return SHARED
