"""Embedding evaluation: collapse diagnostics, probes, clustering."""

from __future__ import annotations

import numpy as np

from heco_pyg.evaluation.diagnostics import collapse_diagnostics
from heco_pyg.evaluation.probe import clustering_scores, probe_f1

__all__ = ["clustering_scores", "collapse_diagnostics", "evaluate_embeddings", "probe_f1"]


def evaluate_embeddings(
    embeddings: dict[str, np.ndarray],
    labels: np.ndarray | None,
    seed: int = 0,
    per_class: int = 20,
    probe_repeats: int = 5,
    clustering_runs: int = 10,
) -> dict[str, dict[str, float]]:
    """``{view: {metric: value}}``: collapse diagnostics always, probe and clustering when
    there are labels (at least two classes)."""
    results = {}
    has_labels = labels is not None and len(np.unique(labels[labels >= 0])) >= 2
    for view, z in embeddings.items():
        results[view] = collapse_diagnostics(z)
        if has_labels:
            results[view] |= probe_f1(z, labels, per_class, probe_repeats, seed)
            results[view] |= clustering_scores(z, labels, clustering_runs, seed)
    return results


def format_table(results: dict[str, dict[str, float]]) -> str:
    """A fixed-width text table, one row per view."""
    columns = sorted({c for metrics in results.values() for c in metrics if not c.endswith("_std")})
    order = ["micro_f1", "macro_f1", "nmi", "ari", "mean_cosine", "top5_cosine", "effective_rank"]
    columns = [c for c in order if c in columns] + [c for c in columns if c not in order]
    lines = ["view".ljust(10) + "".join(c.rjust(16) for c in columns)]
    for view, metrics in results.items():
        cells = "".join(f"{metrics.get(c, float('nan')):16.4f}" for c in columns)
        lines.append(view.ljust(10) + cells)
    return "\n".join(lines)
