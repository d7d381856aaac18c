"""Shared fixtures: the real Hydra config, shrunk for tests, and the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "heco_pyg" / "conf"
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
    "protocol.repeats=1",
    "protocol.clustering_runs=1",
]


def compose_config(overrides: list[str] | None = None, name: str = "train") -> DictConfig:
    """The real ``heco_pyg/conf/<name>.yaml`` with overrides, as ``@hydra.main`` would see it."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name=name, overrides=overrides or [], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # resolves ${hydra:...} in paths
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def pytest_collection_modifyitems(config, items):
    """``cuda``-marked tests need a GPU: skipped, with the reason, where CUDA is absent."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


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
