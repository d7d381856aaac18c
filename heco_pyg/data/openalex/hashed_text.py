"""Word counts hashed once per part, for the columnar reader's text features.

The validating reader hands the featuriser each work's words (a Python list: the
title's words and each abstract key's words once per position). The columnar reader
hands it the same counts already hashed (:class:`~.features.HashedWords`), a part at a
time (:func:`part_documents`): each distinct abstract key of the part is split into
words and hashed once, and the works' counts are one sparse product (works x keys,
the number of positions) @ (keys x hashed columns). Counts are small integers in
float32, so the rows are exactly those :class:`HashingVectorizer` gives the word lists
(tested): the TF-IDF and SVD that follow cannot tell the two readers apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from heco_pyg.data.openalex.features import HashedWords, hashed_rows, hashing, words


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
    return hashed_rows(sp.csr_matrix(title_counts, dtype=np.float32))
