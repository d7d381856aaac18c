"""Meta-path edges with path counts, built by sparse products in row blocks.

For a meta-path ``P-X-P`` through neighbour type ``X`` with incidence matrix
``A`` (papers x X), the path count between papers ``i`` and ``j`` is
``(A A^T)_ij``: the number of ``X`` nodes they share. A generic ``X`` (a level-0
concept on most papers) makes ``A A^T`` complete, so ``X`` nodes can be pruned
first by document frequency and by level, and each row then keeps its ``topk``
largest counts. The product is computed block by block over rows, so memory
is bounded by ``block_size`` rows of the product plus what is kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData
from torch_geometric.utils import to_undirected

from heco_pyg.data.graph import DataError, metapath_edge_type, schema_edge_type
from heco_pyg.data.incidence import incidence, row_of_entries, topk_per_row

log = logging.getLogger(__name__)

# Above this many target nodes the unpruned density is estimated from a row sample.
EXACT_DENSITY_LIMIT = 20_000
DENSITY_SAMPLE_ROWS = 1_000
# An unpruned row can reach every node: few rows at a time bound the product's memory.
DENSITY_SAMPLE_BLOCK = 64


def _prune_columns(
    matrix: sp.csr_matrix,
    max_df: float | None,
    min_level: int | None,
    level,
    max_degree: int | None = None,
) -> tuple[sp.csr_matrix, int]:
    """Drops neighbour nodes that are too frequent or too generic; returns the matrix and
    how many were dropped."""
    keep = np.ones(matrix.shape[1], dtype=bool)
    degree = np.asarray(matrix.sum(axis=0)).ravel()
    if max_df is not None:
        keep &= degree / matrix.shape[0] <= max_df
    if max_degree is not None:
        keep &= degree <= max_degree
    if min_level is not None and level is not None:
        keep &= np.asarray(level) >= min_level
    return (matrix @ sp.diags(keep.astype(np.float32))).tocsr(), int((~keep).sum())


def _pair_count(matrix: sp.csr_matrix, transpose: sp.csr_matrix, rows: np.ndarray) -> int:
    """Off-diagonal non-zeros of ``(A A^T)[rows]``."""
    product = (matrix[rows] @ transpose).tocsr()
    row = rows[row_of_entries(product.indptr)]
    return int((product.indices != row).sum())


def metapath_density(matrix: sp.csr_matrix, block_size: int = 2048, seed: int = 0) -> float:
    """Fraction of ordered node pairs ``i != j`` joined by the meta-path ``A A^T``.

    Exact up to :data:`EXACT_DENSITY_LIMIT` rows, else estimated on a seeded row sample.
    """
    n = matrix.shape[0]
    if n < 2:
        return 0.0
    transpose = matrix.T.tocsr()
    if n <= EXACT_DENSITY_LIMIT:
        blocks = [np.arange(s, min(s + block_size, n)) for s in range(0, n, block_size)]
        pairs = sum(_pair_count(matrix, transpose, rows) for rows in blocks)
        return pairs / (n * (n - 1))
    rows = np.sort(np.random.default_rng(seed).choice(n, DENSITY_SAMPLE_ROWS, replace=False))
    pairs = sum(
        _pair_count(matrix, transpose, rows[s : s + DENSITY_SAMPLE_BLOCK])
        for s in range(0, len(rows), DENSITY_SAMPLE_BLOCK)
    )
    return pairs / (len(rows) * (n - 1))


def metapath_counts(
    matrix: sp.csr_matrix, topk: int | None = None, block_size: int = 2048
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Off-diagonal entries of ``A A^T`` (rows, cols, counts), each row cut to its ``topk``."""
    transpose = matrix.T.tocsr()
    rows, cols, counts = [], [], []
    for start in range(0, matrix.shape[0], block_size):
        block = (matrix[start : start + block_size] @ transpose).tocsr()
        row = row_of_entries(block.indptr) + start
        col = block.indices.astype(np.int64)
        value = block.data
        off_diagonal = col != row
        row, col, value = row[off_diagonal], col[off_diagonal], value[off_diagonal]
        keep = topk_per_row(row, col, value, topk)
        rows.append(row[keep])
        cols.append(col[keep])
        counts.append(value[keep])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(counts)


class AddMetaPathCounts:
    """Adds ``(target, name, target)`` edges with ``edge_weight`` = path counts.

    Args:
        metapaths: ``{name: neighbour type}``, e.g. ``{"PAP": "author", "PCP": "concept"}``.
        max_df: per neighbour type, drop its nodes found on more than this fraction of
            target nodes (e.g. ``{"concept": 0.05}``) before building the meta-path.
        min_level: per neighbour type, drop its nodes whose ``level`` is below this.
        max_degree: per neighbour type, drop its nodes found on more than this many target
            nodes. On large graphs a fraction is not enough: a concept on 1 % of a million
            papers still links 10^8 pairs; this bounds the work per row.
        topk: keep each row's ``topk`` largest counts (then symmetrise by union).
        block_size: rows of the product computed at once.

    The transform returns a new graph and leaves its input untouched. It records what it
    did in ``data.metapath_stats`` (densities before/after pruning, edges, dropped nodes).
    """

    def __init__(
        self,
        metapaths: Mapping[str, str],
        max_df: Mapping[str, float] | None = None,
        min_level: Mapping[str, int] | None = None,
        topk: int | None = None,
        max_degree: Mapping[str, int] | None = None,
        block_size: int = 2048,
    ) -> None:
        self.metapaths = dict(metapaths)
        self.max_df = dict(max_df or {})
        self.min_level = dict(min_level or {})
        self.max_degree = dict(max_degree or {})
        self.topk = topk
        self.block_size = block_size

    def __call__(self, data: HeteroData) -> HeteroData:
        data = data.clone()
        target = data.target
        n = data[target].num_nodes
        stats = dict(getattr(data, "metapath_stats", {}) or {})
        for name, neighbour in self.metapaths.items():
            start = time.perf_counter()
            if neighbour not in data.neighbour_types:
                raise DataError(f"meta-path {name}: {target} has no {neighbour!r} neighbours")
            # The products run in scipy on the CPU (in row blocks), whatever device the
            # graph is on; the meta-path edges go back to the graph's device.
            schema_edges = data[schema_edge_type(target, neighbour)].edge_index
            device, edge_index = schema_edges.device, schema_edges.cpu().numpy()
            matrix = incidence(edge_index[0], edge_index[1], (n, data[neighbour].num_nodes))
            density_before = metapath_density(matrix, self.block_size)
            level = getattr(data[neighbour], "level", None)
            level = level.cpu() if isinstance(level, torch.Tensor) else level
            pruned, dropped = _prune_columns(
                matrix, self.max_df.get(neighbour), self.min_level.get(neighbour), level,
                self.max_degree.get(neighbour),
            )  # fmt: skip
            rows, cols, counts = metapath_counts(pruned, self.topk, self.block_size)
            index = torch.from_numpy(np.stack([rows, cols]))
            weight = torch.from_numpy(counts.astype(np.float32))
            index, weight = to_undirected(index, weight, num_nodes=n, reduce="max")
            store = data[metapath_edge_type(target, name)]
            store.edge_index, store.edge_weight = index.to(device), weight.to(device)
            stats[name] = {
                "via": neighbour,
                "dropped_neighbours": dropped,
                "density_before": density_before,
                "density_after": index.size(1) / max(n * (n - 1), 1),
                "edges": int(index.size(1)),
                "mean_degree": index.size(1) / n,
            }
            log.info(
                "meta-path %s via %s: density %.3g -> %.3g (%d edges, %.1f per %s; %d %s nodes "
                "pruned) in %.1f s",
                name, neighbour, density_before, stats[name]["density_after"], index.size(1),
                index.size(1) / n, target, dropped, neighbour, time.perf_counter() - start,
            )  # fmt: skip
        data.metapaths = list(dict.fromkeys([*data.metapaths, *self.metapaths]))
        data.metapath_stats = stats
        return data

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.metapaths}, max_df={self.max_df}, topk={self.topk})"
        )
