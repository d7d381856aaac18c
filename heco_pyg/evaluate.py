"""Evaluate a finished run: ``python -m heco_pyg.evaluate run_dir=DIR task=protocol``.

Tasks:
* ``protocol``: the HeCo paper's node-classification and clustering protocol
  (:mod:`heco_pyg.evaluation.protocol`).
* ``recommend``: held-out citation recommendation (:mod:`heco_pyg.evaluation.recommendation`).
"""

from __future__ import annotations

import importlib

import hydra
from omegaconf import DictConfig

TASKS = {
    "protocol": "heco_pyg.evaluation.protocol",
    "recommend": "heco_pyg.evaluation.recommendation",
}


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    if cfg.task not in TASKS:
        raise SystemExit(f"unknown task={cfg.task!r}; expected one of {sorted(TASKS)}")
    importlib.import_module(TASKS[cfg.task]).evaluate_run(cfg)


if __name__ == "__main__":
    main()
