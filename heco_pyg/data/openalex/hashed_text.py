"""Word counts hashed once per part, for the columnar reader's text features.

The validating reader hands the featuriser each work's words (a Python list: the
title's words and each abstract key's words once per position). The columnar reader
hands it the same counts already hashed (:class:`HashedWords`), computed a part at a
time (:func:`part_documents`): each distinct abstract key of the part is split into
words and hashed once, and the works' counts are one sparse product (works x keys,
the number of positions) @ (keys x hashed columns). Counts are small integers in
float32, so the rows are exactly those :class:`HashingVectorizer` gives the word lists
(tested): the TF-IDF and SVD that follow cannot tell the two readers apart.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from heco_pyg.data.openalex.features import HASHED_COLUMNS, words


@dataclass(frozen=True, slots=True)
class HashedWords:
    """One work's words as hashed columns (sorted) and their counts; empty: no words."""

    columns: np.ndarray  # int32
    counts: np.ndarray  # float32

    def __len__(self) -> int:
        return len(self.columns)


@functools.cache
def hashing():
    """The featuriser's hashing of word lists (scikit-learn's ``HashingVectorizer``)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer=lambda words: words, n_features=HASHED_COLUMNS, alternate_sign=False,
        norm=None, dtype=np.float32,
    )  # fmt: skip


def hashed_counts(documents: Sequence) -> sp.csr_matrix:
    """Rows of hashed word counts for ``documents``: word lists, :class:`HashedWords`, or
    both mixed (a folder read partly by each reader)."""
    if not any(isinstance(d, HashedWords) for d in documents):
        return hashing().transform(documents)
    listed = [i for i, d in enumerate(documents) if not isinstance(d, HashedWords)]
    rows = list(documents)
    if listed:
        for i, row in zip(listed, _rows(hashing().transform([rows[i] for i in listed])),
                          strict=True):  # fmt: skip
            rows[i] = row
    lengths = np.fromiter((len(r) for r in rows), np.int64, len(rows))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    columns = np.concatenate([r.columns for r in rows]) if rows else np.zeros(0, np.int32)
    counts = np.concatenate([r.counts for r in rows]) if rows else np.zeros(0, np.float32)
    return sp.csr_matrix((counts, columns, indptr), shape=(len(rows), HASHED_COLUMNS))


def _rows(matrix: sp.csr_matrix) -> list[HashedWords]:
    matrix.sum_duplicates()  # sorted columns, one entry each
    ends = matrix.indptr.tolist()
    return [HashedWords(matrix.indices[a:b], matrix.data[a:b])
            for a, b in zip(ends[:-1], ends[1:], strict=True)]  # fmt: skip


def part_documents(titles: Sequence[str], keys, counts) -> list[HashedWords]:
    """Each work's hashed words: the title's, and each abstract key's ``count`` times;
    ``keys`` and ``counts`` are Arrow list columns (a null list: no abstract)."""
    import pyarrow.compute as pc

    title_counts = hashing().transform([words(title) for title in titles])
    keys, counts = keys.combine_chunks(), counts.combine_chunks()
    lengths = pc.list_value_length(keys).fill_null(0).to_numpy()
    if lengths.sum():
        encoded = pc.dictionary_encode(keys.flatten())
        uniques = encoded.dictionary.to_pylist()
        key_counts = hashing().transform([words(key) for key in uniques])
        works = sp.csr_matrix(
            (counts.flatten().to_numpy().astype(np.float32),
             (np.repeat(np.arange(len(titles)), lengths), encoded.indices.to_numpy())),
            shape=(len(titles), len(uniques)),
        )  # fmt: skip
        title_counts = title_counts + works @ key_counts
    return _rows(sp.csr_matrix(title_counts, dtype=np.float32))
