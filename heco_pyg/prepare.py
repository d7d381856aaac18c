"""Build (and cache) a graph without training, and report its statistics.

    python -m heco_pyg.prepare data=openalex data.source=works data.path=../shared/data/openalex
    python -m heco_pyg.prepare data=synthetic

Prints the statistics and writes them to ``graph_stats.json`` in the run dir (or
``stats_file``): node and edge counts, PAP/PCP before and after pruning with their
densities, positives per paper, papers without authors / concepts / abstract,
labelled papers per class, and (OpenAlex) what the reader saw and skipped.
"""

from __future__ import annotations

import heco_pyg.cli.openmp  # noqa: F401  (first: before torch loads OpenMP)

# isort: split
import json
import logging
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from heco_pyg.cli.command import command
from heco_pyg.core.atomic import write_atomic
from heco_pyg.data import build_data
from heco_pyg.data.stats import graph_statistics

log = logging.getLogger(__name__)


def prepare(cfg: DictConfig, stats_file: Path) -> dict[str, Any]:
    """Builds the graph (through the cache where the source has one) and writes its stats."""
    data = build_data(cfg.data)
    stats = graph_statistics(data)
    write_atomic(stats_file, json.dumps(stats, indent=2, default=str))
    return stats


@command("prepare")
def main(cfg: DictConfig) -> None:
    stats_file = Path(
        cfg.stats_file or Path(HydraConfig.get().runtime.output_dir) / "graph_stats.json"
    )
    stats = prepare(cfg, stats_file)
    print(json.dumps(stats, indent=2, default=str))
    print(f"wrote {stats_file}")


if __name__ == "__main__":
    main()
