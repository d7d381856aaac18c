"""Incidence matrices and per-row top-k, shared by the meta-path and positive transforms
(numpy/scipy; the torch CSR adjacency the encoders read is :mod:`heco_pyg.nn.sparse`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def incidence(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Binary CSR matrix with a one at every (row, col); duplicates count once."""
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def row_of_entries(indptr: np.ndarray) -> np.ndarray:
    """The row index of every stored entry of a CSR matrix."""
    return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))


def topk_per_row(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, k: int | None
) -> np.ndarray:
    """Boolean mask keeping, per row, the ``k`` largest values (ties: smaller column first).

    Deterministic and vectorised: one lexsort, then the rank of each entry in its row.
    ``k=None`` keeps everything.
    """
    if k is None or len(rows) == 0:
        return np.ones(len(rows), dtype=bool)
    order = np.lexsort((cols, -values, rows))
    sorted_rows = rows[order]
    starts = np.searchsorted(sorted_rows, sorted_rows, side="left")
    rank = np.arange(len(order)) - starts
    keep = np.zeros(len(rows), dtype=bool)
    keep[order[rank < k]] = True
    return keep
