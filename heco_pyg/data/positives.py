"""HeCo's positive selection, stored as sparse (anchor, positive) index pairs.

HeCo ranks the candidates of anchor ``i`` by ``C_ij = sum_m A^m_ij / sum_j A^m_ij``: the
meta-path path counts, each meta-path row-normalised, summed. The positives of ``i``
are ``i`` itself plus its ``pos_num - 1`` highest-ranked other nodes (ties: smaller
index first). Nothing N x N is ever built.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData

from heco_pyg.data.graph import DataError, metapath_edges
from heco_pyg.data.incidence import row_of_entries, topk_per_row

log = logging.getLogger(__name__)


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


def select_positives(data: HeteroData, pos_num: int) -> torch.Tensor:
    """``[2, P]`` (anchor, positive) pairs sorted by anchor: self first, then by score."""
    if pos_num < 1:
        raise DataError(f"pos_num must be at least 1, got {pos_num}")
    n = data[data.target].num_nodes
    scores = metapath_scores(data)
    rows = row_of_entries(scores.indptr)
    cols = scores.indices.astype(np.int64)
    keep = topk_per_row(rows, cols, scores.data, pos_num - 1)
    anchors = np.concatenate([np.arange(n), rows[keep]])
    positives = np.concatenate([np.arange(n), cols[keep]])
    # Stable sort by anchor keeps self first, then the score order of each row.
    order = np.argsort(anchors, kind="stable")
    return torch.from_numpy(np.stack([anchors[order], positives[order]]))


class AddPositives:
    """Sets ``data.positive_index``: HeCo positives, self included (a graph-level attribute,
    not an edge store: positives are training labels, not a relation to pass messages over)."""

    def __init__(self, pos_num: int) -> None:
        self.pos_num = pos_num

    def __call__(self, data: HeteroData) -> HeteroData:
        if not data.metapaths:
            raise DataError("positives need meta-paths: add them first")
        data = data.clone()
        start = time.perf_counter()
        device = data[data.target].x.device if "x" in data[data.target] else "cpu"
        data.positive_index = select_positives(data, self.pos_num).to(device)
        log.info("positives: %d per %s (itself included) in %.1f s", self.pos_num, data.target,
                 time.perf_counter() - start)  # fmt: skip
        return data

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(pos_num={self.pos_num})"
