"""The evaluation ``train`` runs after training: every view's collapse diagnostics, and its
linear probe and K-means clustering when the data has labels."""

from __future__ import annotations

import numpy as np

from heco_pyg.evaluation.baseline import logistic_regression_probes
from heco_pyg.evaluation.clustering import clustering_scores
from heco_pyg.evaluation.diagnostics import collapse_diagnostics
from heco_pyg.evaluation.probe import ProtocolSettings, probe_f1

#: Views read by another classifier than the paper's probe: the raw input features.
BASELINES = {"features": logistic_regression_probes}


def evaluate_embeddings(
    embeddings: dict[str, np.ndarray],
    labels: np.ndarray | None,
    settings: ProtocolSettings | None = None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """``{view: {metric: value}}``: collapse diagnostics always; the linear probe on seeded
    few-label splits and K-means clustering when there are labels (at least two classes).
    The view ``features`` (the raw input) is read by scikit-learn's logistic regression
    (:mod:`heco_pyg.evaluation.baseline`)."""
    settings = settings or ProtocolSettings()
    results = {}
    has_labels = labels is not None and len(np.unique(labels[labels >= 0])) >= 2
    for view, z in embeddings.items():
        results[view] = collapse_diagnostics(z)
        if has_labels:
            results[view] |= probe_f1(z, labels, settings, seed, BASELINES.get(view))
            results[view] |= clustering_scores(z, labels, settings.clustering_runs, seed)
    return results
