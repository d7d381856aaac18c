"""HeCo's positive selection, stored as sparse (anchor, positive) index pairs.

HeCo ranks the candidates of anchor ``i`` by ``C_ij = sum_m A^m_ij / sum_j A^m_ij``: the
meta-path path counts, each meta-path row-normalised, summed. The positives of ``i``
are ``i`` itself plus its ``pos_num - 1`` highest-ranked other nodes (ties: smaller
index first). Nothing N x N is ever built.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from heco_pyg.core.errors import DataError
from heco_pyg.core.phases import Phases
from heco_pyg.data.edge_files import EdgeFile
from heco_pyg.data.graph import metapath_edges
from heco_pyg.data.incidence import row_of_entries, topk_per_csr_row, topk_per_row

log = logging.getLogger(__name__)

#: Rows of the out-of-core positives computed at once: at most this many rows, and at most
#: this many meta-path entries (~110 bytes each while scored: 65,536 rows of a 200,000-work
#: OpenAlex graph held 5.7M entries, +640 MB, the peak of its prepare).
POSITIVE_BLOCK_ROWS = 65_536
POSITIVE_BLOCK_ENTRIES = 1_000_000


def metapath_scores(data: HeteroData) -> sp.csr_matrix:
    """``C = sum_m rownorm(A^m)`` over the graph's meta-paths, without the diagonal."""
    n = data[data.target].num_nodes
    total = sp.csr_matrix((n, n), dtype=np.float64)
    for edge_index, edge_weight in metapath_edges(data).values():
        index = edge_index.cpu().numpy()  # scipy, on the CPU, wherever the graph lives
        weight = (
            edge_weight.double().cpu().numpy()
            if edge_weight is not None
            else np.ones(index.shape[1])
        )
        matrix = sp.csr_matrix((weight, (index[0], index[1])), shape=(n, n))
        matrix.setdiag(0)
        matrix.eliminate_zeros()
        row_sum = np.asarray(matrix.sum(axis=1)).ravel()
        total = total + sp.diags(1.0 / np.maximum(row_sum, 1e-12)) @ matrix
    return total.tocsr()


def _pairs(rows: np.ndarray, cols: np.ndarray, scores: np.ndarray, own: np.ndarray) -> np.ndarray:
    """``[2, P]`` pairs: each anchor of ``own`` itself first, then its kept candidates
    ``(rows, cols)`` by descending score (ties: the smaller index first)."""
    order = np.lexsort((cols, -scores, rows))
    anchors = np.concatenate([own, rows[order]])
    positives = np.concatenate([own, cols[order]])
    order = np.argsort(anchors, kind="stable")  # stable: self first, then the score order
    return np.stack([anchors[order], positives[order]])


def select_positives(data: HeteroData, pos_num: int) -> torch.Tensor:
    """``[2, P]`` (anchor, positive) pairs sorted by anchor: self first, then by score."""
    if pos_num < 1:
        raise DataError(f"pos_num must be at least 1, got {pos_num}")
    n = data[data.target].num_nodes
    scores = metapath_scores(data)
    rows = row_of_entries(scores.indptr)
    cols = scores.indices.astype(np.int64)
    keep = topk_per_row(rows, cols, scores.data, pos_num - 1)
    return torch.from_numpy(_pairs(rows[keep], cols[keep], scores.data[keep], np.arange(n)))


def _positives_of_block(scores: sp.csr_matrix, start: int, pos_num: int) -> np.ndarray:
    """Rows ``start:`` of :func:`select_positives` from their rows of ``C``."""
    scores.sort_indices()  # ties go to the smaller column, the first in its row
    rows = row_of_entries(scores.indptr) + start
    cols = scores.indices.astype(np.int64)
    keep = topk_per_csr_row(scores.indptr, scores.data, pos_num - 1)
    own = np.arange(start, start + scores.shape[0])
    return _pairs(rows[keep], cols[keep], scores.data[keep], own)


def row_blocks(indptr: np.ndarray, max_rows: int, max_entries: int) -> list[tuple[int, int]]:
    """``(start, stop)`` row ranges covering ``len(indptr) - 1`` rows in order, each of at
    most ``max_rows`` rows and ``max_entries`` entries (``indptr``: CSR row pointers), or
    a single row where that row alone holds more."""
    num_rows, blocks, start = len(indptr) - 1, [], 0
    while start < num_rows:
        fits = int(np.searchsorted(indptr, indptr[start] + max_entries, side="right")) - 1
        stop = min(max(fits, start + 1), start + max_rows, num_rows)
        blocks.append((start, stop))
        start = stop
    return blocks


def select_positives_by_blocks(
    edge_files: list[EdgeFile], num_nodes: int, pos_num: int, block_size: int | None = None
) -> torch.Tensor:
    """:func:`select_positives` from meta-path edges on disk, one block of rows at a time
    (each meta-path's rows are read from its files, normalised, summed and cut): the same
    pairs, in memory bounded by a block (:func:`row_blocks`: at most ``block_size`` rows,
    default :data:`POSITIVE_BLOCK_ROWS`, and :data:`POSITIVE_BLOCK_ENTRIES` entries)."""
    if pos_num < 1:
        raise DataError(f"pos_num must be at least 1, got {pos_num}")
    block_size = block_size or POSITIVE_BLOCK_ROWS
    parts = []
    indptr = sum((f.indptr for f in edge_files), np.zeros(num_nodes + 1, np.int64))
    for start, stop in row_blocks(indptr, block_size, POSITIVE_BLOCK_ENTRIES):
        total = sp.csr_matrix((stop - start, num_nodes), dtype=np.float64)
        for edge_file in edge_files:
            matrix = edge_file.block(start, stop)
            diagonal = matrix.indices == row_of_entries(matrix.indptr) + start
            if diagonal.any():
                matrix.data[diagonal] = 0
                matrix.eliminate_zeros()
            row_sum = np.asarray(matrix.sum(axis=1)).ravel()
            # diags(1 / row_sum) @ matrix, without scipy's product (its accumulator is
            # one entry per column: O(num_nodes) per block)
            matrix.data *= np.repeat(1.0 / np.maximum(row_sum, 1e-12), np.diff(matrix.indptr))
            total = total + matrix
        parts.append(_positives_of_block(total.tocsr(), start, pos_num))
    return torch.from_numpy(np.concatenate(parts, axis=1))


class AddPositives(BaseTransform):
    """Sets ``data.positive_index``: HeCo positives, self included (a graph-level attribute,
    not an edge store: positives are training labels, not a relation to pass messages over)."""

    def __init__(self, pos_num: int) -> None:
        self.pos_num = pos_num

    def forward(self, data: HeteroData) -> HeteroData:
        if not data.metapaths:
            raise DataError("positives need meta-paths: add them first")
        timer = Phases()
        n = data[data.target].num_nodes
        device = data[data.target].x.device if "x" in data[data.target] else "cpu"
        with timer.phase("positives", n):
            workdir = getattr(data, "metapath_workdir", None)
            if workdir is not None:
                files = [EdgeFile(workdir, name) for name in data.metapaths]
                positives = select_positives_by_blocks(files, n, self.pos_num)
            else:
                positives = select_positives(data, self.pos_num)
            data.positive_index = positives.to(device)
        log.info("positives: %d per %s (itself included)", self.pos_num, data.target)
        data.phase_seconds = {**(getattr(data, "phase_seconds", {}) or {}), **timer.seconds}
        return data

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(pos_num={self.pos_num})"
