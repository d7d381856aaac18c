"""The raw-feature baseline: scikit-learn's logistic regression on the probe's splits.

The embeddings are read by the paper's probe (:func:`heco_pyg.evaluation.probe.split_probes`:
Adam, a fixed number of steps, the step of best validation F1). On raw bag-of-words
features (ACM: 1,902 sparse columns, 60 training papers) that probe reaches a few points
less than a logistic regression solved to its optimum (micro-F1 64/66/70 against
67/72/77 at 20/40/60 labels per class on the official splits): Adam moves every weight by
the same step whatever its feature's frequency. The baseline an embedding must beat is
what a standard classifier gets from the input, so the features are read by
``LogisticRegression`` (L2, ``C=1``, L-BFGS) after standardisation on each split's
training papers (``StandardScaler``; a column constant there is left as it is, at 0).
"""

from __future__ import annotations

import numpy as np
import torch

from heco_pyg.evaluation.probe import _auc, f1_scores


def logistic_regression_probes(
    features: np.ndarray, labels: np.ndarray, splits: list[tuple[np.ndarray, ...]]
) -> dict[str, np.ndarray]:
    """Test Macro-F1, Micro-F1 and macro one-vs-rest AUC of one logistic regression per
    ``(train, val, test)`` split (trained on ``train``; ``val`` is not needed: nothing is
    selected). Returns ``{"macro_f1": [R], "micro_f1": [R], "auc": [R]}``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = np.asarray(features, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    num_classes = int(labels.max()) + 1
    scores: dict[str, list[float]] = {"macro_f1": [], "micro_f1": [], "auc": []}
    for train, _, test in splits:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(features[train], labels[train])
        probability = np.zeros((len(test), num_classes))
        probability[:, model.classes_] = model.predict_proba(features[test])
        predicted = torch.from_numpy(probability.argmax(axis=1))[None]
        macro, micro = f1_scores(predicted, torch.from_numpy(labels[test]).long(), num_classes)
        scores["macro_f1"].append(float(macro[0]))
        scores["micro_f1"].append(float(micro[0]))
        scores["auc"].append(_auc(labels[test], probability))
    return {metric: np.array(values) for metric, values in scores.items()}
