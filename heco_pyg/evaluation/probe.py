"""Label-based evaluation: a few-label logistic-regression probe and K-means clustering.

scikit-learn is imported where it is used: it adds ~70 MiB to a process, which training
does not need before its final evaluation.
"""

from __future__ import annotations

import warnings

import numpy as np


def few_label_splits(
    labels: np.ndarray, per_class: int, repeats: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded (train, test) index splits: ``per_class`` training nodes of each class,
    every other labelled node for testing. Unlabelled nodes (``-1``) are never used."""
    rng = np.random.default_rng(seed)
    labelled = np.flatnonzero(labels >= 0)
    splits = []
    for _ in range(repeats):
        train = np.concatenate([
            rng.permutation(labelled[labels[labelled] == c])[:per_class]
            for c in np.unique(labels[labelled])
        ])  # fmt: skip
        splits.append((np.sort(train), np.setdiff1d(labelled, train)))
    return splits


def probe_f1(
    z: np.ndarray, labels: np.ndarray, per_class: int = 20, repeats: int = 5, seed: int = 0
) -> dict[str, float]:
    """Micro/Macro-F1 of a logistic-regression probe, mean over seeded few-label splits."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    micro, macro = [], []
    for train, test in few_label_splits(labels, per_class, repeats, seed):
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            probe.fit(z[train], labels[train])
        predicted = probe.predict(z[test])
        micro.append(f1_score(labels[test], predicted, average="micro"))
        macro.append(f1_score(labels[test], predicted, average="macro"))
    return {
        "micro_f1": float(np.mean(micro)), "micro_f1_std": float(np.std(micro)),
        "macro_f1": float(np.mean(macro)), "macro_f1_std": float(np.std(macro)),
    }  # fmt: skip


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
