"""Build (and cache) a graph without training, and report its statistics.

    python -m heco_pyg.prepare data=openalex data.source=works data.path=../shared/data/openalex
    python -m heco_pyg.prepare data=synthetic

Prints the statistics and writes them to ``graph_stats.json`` in the run dir (or
``stats_file``): node and edge counts, PAP/PCP before and after pruning with their
densities, positives per paper, papers without authors / concepts / abstract,
labelled papers per class, and (OpenAlex) what the reader saw and skipped.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from torch_geometric.data import HeteroData

from heco_pyg.data.graph import positive_edge_type, schema_edge_type
from heco_pyg.train import build_data

log = logging.getLogger(__name__)


def _degree(index: torch.Tensor, size: int) -> np.ndarray:
    return np.bincount(index.numpy(), minlength=size)


def graph_statistics(data: HeteroData) -> dict[str, Any]:
    """Every count ``graph_stats.json`` reports, computed from a prepared graph."""
    target = data.target
    n = data[target].num_nodes
    stats: dict[str, Any] = {"name": getattr(data, "name", None), "nodes": {}, "edges": {}}
    for node_type in data.node_types:
        stats["nodes"][node_type] = int(data[node_type].num_nodes)
    for neighbour in data.neighbour_types:
        edge_index = data[schema_edge_type(target, neighbour)].edge_index
        stats["edges"][f"{target}-{neighbour}"] = int(edge_index.size(1))
        without = int((_degree(edge_index[0], n) == 0).sum())
        stats[f"{target}s_without_{neighbour}s"] = without
    cites = (target, "cites", target)
    stats["edges"]["cites"] = int(data[cites].edge_index.size(1)) if cites in data.edge_types else 0
    stats["metapaths"] = {}
    for name, info in (getattr(data, "metapath_stats", {}) or {}).items():
        pairs = n * (n - 1)
        stats["metapaths"][name] = {
            "via": info["via"],
            "edges_before_pruning": int(round(info["density_before"] * pairs)),
            "density_before_pruning": info["density_before"],
            "edges_after_pruning": info["edges"],
            "density_after_pruning": info["density_after"],
            "neighbours_pruned": info["dropped_neighbours"],
        }
    if positive_edge_type(target) in data.edge_types:
        per_anchor = _degree(data[positive_edge_type(target)].edge_index[0], n)
        stats["positives_per_paper"] = {
            "mean": float(per_anchor.mean()), "min": int(per_anchor.min()),
            "max": int(per_anchor.max()), "total": int(per_anchor.sum()),
        }  # fmt: skip
    ingest = dict(getattr(data, "ingest_stats", {}) or {})
    if ingest:
        stats[f"{target}s_without_abstract"] = ingest.get("papers_without_abstract")
        stats["ingest"] = ingest
    if "y" in data[target]:
        y = data[target].y.numpy()
        names = list(getattr(data, "label_names", []) or [])
        classes, counts = np.unique(y[y >= 0], return_counts=True)
        stats["labelled_per_class"] = {
            (names[c] if c < len(names) else str(c)): int(k)
            for c, k in zip(classes, counts, strict=True)
        }
        stats["unlabelled"] = int((y < 0).sum())
    if getattr(data, "cache_info", None):
        stats["cache"] = dict(data.cache_info)
    return stats


def prepare(cfg: DictConfig, stats_file: Path) -> dict[str, Any]:
    """Builds the graph (through the cache where the source has one) and writes its stats."""
    data = build_data(cfg)
    stats = graph_statistics(data)
    stats_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = stats_file.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(stats, indent=2, default=str))
    temporary.replace(stats_file)
    return stats


@hydra.main(version_base="1.3", config_path="../conf", config_name="prepare")
def main(cfg: DictConfig) -> None:
    stats_file = Path(
        cfg.stats_file or Path(HydraConfig.get().runtime.output_dir) / "graph_stats.json"
    )
    stats = prepare(cfg, stats_file)
    print(json.dumps(stats, indent=2, default=str))
    print(f"wrote {stats_file}")


if __name__ == "__main__":
    main()
