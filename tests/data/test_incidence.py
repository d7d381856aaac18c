"""The fast per-row top-k variants keep exactly what the reference lexsort keeps."""

import numpy as np
import scipy.sparse as sp

from heco_pyg.data.incidence import (
    row_of_entries,
    topk_counts_per_row,
    topk_per_csr_row,
    topk_per_row,
)


def random_matrix(seed, values):
    rng = np.random.default_rng(seed)
    dense = rng.choice(values, size=(30, 40)) * (rng.random((30, 40)) < 0.3)
    dense[3] = 0  # an empty row
    return sp.csr_matrix(dense)


def test_topk_of_whole_counts_by_one_sort_equals_the_lexsort():
    for seed in range(5):
        matrix = random_matrix(seed, np.array([1.0, 2.0, 3.0]))  # many ties
        rows, cols = row_of_entries(matrix.indptr), matrix.indices.astype(np.int64)
        for k in (1, 3, 50, None):
            keep = topk_per_row(rows, cols, matrix.data, k)
            r, c, v = topk_counts_per_row(rows, cols, matrix.data, k, num_cols=40)
            assert v.dtype == matrix.data.dtype
            expected = np.stack([rows[keep], cols[keep], matrix.data[keep]], axis=1).tolist()
            actual = np.stack([r, c, v], axis=1).tolist()
            assert sorted(actual) == sorted(expected)


def test_topk_by_rounds_of_row_maxima_equals_the_lexsort():
    for seed in range(5):
        matrix = random_matrix(seed, np.array([0.25, 0.5, 1.0 / 3.0]))
        rows, cols = row_of_entries(matrix.indptr), matrix.indices.astype(np.int64)
        for k in (1, 4, 60):
            expected = topk_per_row(rows, cols, matrix.data, k)
            assert np.array_equal(topk_per_csr_row(matrix.indptr, matrix.data, k), expected)
