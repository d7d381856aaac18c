"""The HeCo paper's evaluation protocol.

For each label rate (20/40/60 labelled nodes per class) the official code trains 50
logistic-regression probes on the dataset's fixed split and reports test Macro-F1,
Micro-F1 and AUC as mean and std over the repetitions (the probe:
:func:`heco_pyg.evaluation.probe.linear_probe`, all 50 as one batched model).
Clustering: K-means with K = number of classes on the labelled nodes, NMI and ARI, mean
over ``clustering_runs`` runs. The embeddings are the meta-path view in eval mode, not
normalised, as the official ``get_embeds`` (``protocol.normalize=true``: unit-length rows,
which the fixed-length probe reads the same at every embedding scale; the stable recipe's
choice, docs/reproduction.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from heco_pyg.evaluation.clustering import clustering_scores
from heco_pyg.evaluation.probe import ProtocolSettings, linear_probe

METRICS = ("macro_f1", "micro_f1", "auc")
METRIC_NAMES = {"macro_f1": "Macro-F1", "micro_f1": "Micro-F1", "auc": "AUC"}


def has_splits(data) -> bool:
    """Whether the graph's target carries labels and the paper's split masks."""
    store = data[data.target]
    return "y" in store and any(k.startswith("train_mask_") for k in store.keys())


def split_indices(data, rates: Sequence[int] | None = None) -> dict[int, tuple[Tensor, ...]]:
    """``{rate: (train, val, test)}`` from the target's ``{train,val,test}_mask_<rate>``."""
    store = data[data.target]
    if rates is None:
        rates = sorted(
            int(k.rsplit("_", 1)[1]) for k in store.keys() if k.startswith("train_mask_")
        )
    splits = {}
    for rate in rates:
        masks = [store[f"{kind}_mask_{rate}"] for kind in ("train", "val", "test")]
        splits[rate] = tuple(mask.nonzero().view(-1) for mask in masks)
    return splits


def evaluate_protocol(
    embeddings: Tensor | np.ndarray,
    labels: Tensor | np.ndarray,
    splits: Mapping[int, tuple[Tensor, Tensor, Tensor]],
    settings: ProtocolSettings | None = None,
    seed: int = 0,
) -> dict:
    """Probe at every label rate and K-means clustering; a JSON-ready result.

    Returns ``{"classification": {rate: {metric: {"mean", "std"}}}, "clustering":
    {"nmi", "ari"}, "settings": {...}}`` (values in [0, 1]).
    """
    settings = settings or ProtocolSettings()
    embeddings = torch.as_tensor(np.asarray(embeddings) if not isinstance(embeddings, Tensor)
                                 else embeddings).float()  # fmt: skip
    if settings.normalize:
        embeddings = F.normalize(embeddings, dim=1)
    labels = torch.as_tensor(np.asarray(labels)).long()
    classification = {}
    for rate, (train, val, test) in splits.items():
        scores = linear_probe(embeddings, labels, train, val, test, settings, seed + int(rate))
        classification[str(rate)] = {
            metric: {"mean": float(np.mean(v)), "std": float(np.std(v))}
            for metric, v in scores.items()
        }
    labels_np = labels.numpy()
    clustering = clustering_scores(embeddings.numpy(), labels_np, settings.clustering_runs, seed)
    return {"classification": classification, "clustering": clustering,
            "settings": settings.__dict__.copy()}  # fmt: skip


def flat_metrics(result: dict) -> dict[str, float]:
    """``{"protocol/macro_f1_20": ..., "protocol/nmi": ...}`` for the run's metrics."""
    flat = {}
    for rate, metrics in result["classification"].items():
        for metric, value in metrics.items():
            flat[f"protocol/{metric}_{rate}"] = value["mean"]
            flat[f"protocol/{metric}_{rate}_std"] = value["std"]
    flat |= {f"protocol/{k}": v for k, v in result["clustering"].items()}
    return flat
