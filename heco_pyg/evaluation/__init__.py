"""Embedding evaluation: collapse diagnostics, the linear probe, clustering, the paper's
protocol and held-out citation recommendation. Metrics only: no file is read or written
here (a run's folder belongs to :mod:`heco_pyg.runs`)."""

from heco_pyg.evaluation.clustering import clustering_scores
from heco_pyg.evaluation.diagnostics import collapse_diagnostics
from heco_pyg.evaluation.embeddings import evaluate_embeddings
from heco_pyg.evaluation.probe import ProtocolSettings, probe_f1

__all__ = [
    "ProtocolSettings",
    "clustering_scores",
    "collapse_diagnostics",
    "evaluate_embeddings",
    "probe_f1",
]
