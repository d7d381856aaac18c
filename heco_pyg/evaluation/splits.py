"""The probe's seeded few-label splits: ``per_class`` training and validation nodes of each
class, every other labelled node for testing."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def labels_per_class(labels: np.ndarray, per_class: int) -> dict[int, int]:
    """``{class: training (and validation) labels used}``: ``per_class``, or fewer for a
    class too small to keep a test paper (``(n - 1) // 2``); classes with fewer than three
    labelled papers are left out. Logs (debug) the classes it shrank or dropped."""
    classes, counts = np.unique(labels[labels >= 0], return_counts=True)
    used = {int(c): min(per_class, (int(n) - 1) // 2) for c, n in zip(classes, counts, strict=True)}
    short = {c: k for c, k in used.items() if k < per_class}
    if short:
        # debug: called once per view; the run summary warns once, with the class names
        log.debug("probe: %d of %d classes have fewer than %d labelled papers; they use "
                  "%s labels each (0 = left out)", len(short), len(used), 2 * per_class + 1,
                  short)  # fmt: skip
    return {c: k for c, k in used.items() if k >= 1}


def few_label_splits(
    labels: np.ndarray, per_class: int, repeats: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Seeded (train, val, test) index splits: ``per_class`` training and ``per_class``
    validation nodes of each class (fewer for small classes, see
    :func:`labels_per_class`), every other labelled node of those classes for testing.
    Unlabelled nodes (``-1``) are never used. No splits (``[]``) when fewer than two
    classes can be probed."""
    rng = np.random.default_rng(seed)
    used = labels_per_class(labels, per_class)
    if len(used) < 2:
        return []
    labelled = np.flatnonzero(np.isin(labels, list(used)))
    splits = []
    for _ in range(repeats):
        train, val = [], []
        for c in np.unique(labels[labelled]):
            k = used[int(c)]
            members = rng.permutation(labelled[labels[labelled] == c])
            train.append(members[:k])
            val.append(members[k : 2 * k])
        train, val = np.sort(np.concatenate(train)), np.sort(np.concatenate(val))
        splits.append((train, val, np.setdiff1d(labelled, np.concatenate([train, val]))))
    return splits
