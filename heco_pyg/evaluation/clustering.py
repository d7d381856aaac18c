"""Clustering of embeddings against the labels: K-means NMI and ARI."""

from __future__ import annotations

import numpy as np


def clustering_scores(
    z: np.ndarray, labels: np.ndarray, runs: int = 10, seed: int = 0
) -> dict[str, float]:
    """K-means (K = number of classes) NMI and ARI on the labelled nodes, mean over runs."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    labelled = labels >= 0
    z, labels = z[labelled], labels[labelled]
    k = len(np.unique(labels))
    nmi, ari = [], []
    for run in range(runs):
        predicted = KMeans(n_clusters=k, n_init=1, random_state=seed + run).fit_predict(z)
        nmi.append(normalized_mutual_info_score(labels, predicted))
        ari.append(adjusted_rand_score(labels, predicted))
    return {"nmi": float(np.mean(nmi)), "ari": float(np.mean(ari))}
