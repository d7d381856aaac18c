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
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import to_undirected

from heco_pyg.core.errors import DataError
from heco_pyg.core.phases import Phases
from heco_pyg.core.progress import phase_bar
from heco_pyg.data.edge_files import SymmetricEdgeWriter, open_edges
from heco_pyg.data.graph import metapath_edge_type, schema_edge_type
from heco_pyg.data.incidence import incidence, row_of_entries, topk_counts_per_row

log = logging.getLogger(__name__)

#: At most about this many row blocks per meta-path product (see metapath_count_blocks).
BLOCKS_PER_PRODUCT = 128
#: ``max_degree="auto"``: the hub cap bounds the mean path instances per row to this,
AUTO_HUB_WORK = 200
#: and leaves products of at most this many path instances alone (well under a second:
#: the default 3,000-paper synthetic PCP is 0.75M, a 200,000-work OpenAlex field 10^10).
AUTO_HUB_MIN_WORK = 10_000_000
# Above this many target nodes the unpruned density is estimated from a row sample.
EXACT_DENSITY_LIMIT = 20_000
DENSITY_SAMPLE_ROWS = 1_000
# Above 10^6 rows the sample shrinks (an unpruned row can reach every node), to no fewer.
DENSITY_SAMPLE_WORK = 1_000_000_000
DENSITY_MIN_SAMPLE_ROWS = 100


def _prune_columns(
    matrix: sp.csr_matrix,
    max_df: float | None,
    min_level: int | None,
    level,
    max_degree: int | str | None = None,
) -> tuple[sp.csr_matrix, int, int | None]:
    """Drops neighbour nodes that are too frequent or too generic; returns the matrix, how
    many were dropped and the hub cap applied (``max_degree="auto"``: chosen by
    :func:`auto_hub_degree` on what the other rules keep)."""
    keep = np.ones(matrix.shape[1], dtype=bool)
    degree = np.asarray(matrix.sum(axis=0)).ravel()
    if max_df is not None:
        keep &= degree / matrix.shape[0] <= max_df
    if min_level is not None and level is not None:
        keep &= np.asarray(level) >= min_level
    if max_degree == "auto":
        max_degree = auto_hub_degree(degree[keep], matrix.shape[0])
    if max_degree is not None:
        keep &= degree <= max_degree
    return (matrix @ sp.diags(keep.astype(np.float32))).tocsr(), int((~keep).sum()), max_degree


def _pair_count(matrix: sp.csr_matrix, transpose: sp.csr_matrix, rows: np.ndarray) -> int:
    """Off-diagonal non-zeros of ``(A A^T)[rows]``."""
    product = (matrix[rows] @ transpose).tocsr()
    row = rows[row_of_entries(product.indptr)]
    return int((product.indices != row).sum())


def _reached(matrix: sp.csr_matrix, transpose: sp.csr_matrix, row: int, mark: np.ndarray) -> int:
    """Off-diagonal non-zeros of row ``row`` of ``A A^T``, by marking the rows it reaches
    (work: the degrees of its neighbours; memory: one flag per row, reused)."""
    neighbours = matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]]
    if len(neighbours) == 0:
        return 0
    reached = np.concatenate(
        [transpose.indices[transpose.indptr[c] : transpose.indptr[c + 1]] for c in neighbours]
    )
    mark[reached] = True
    count = int(np.count_nonzero(mark)) - 1  # the row reaches itself
    mark[reached] = False
    return count


def metapath_density(matrix: sp.csr_matrix, block_size: int = 2048, seed: int = 0) -> float:
    """Fraction of ordered node pairs ``i != j`` joined by the meta-path ``A A^T``.

    Exact up to :data:`EXACT_DENSITY_LIMIT` rows, else estimated on a seeded row sample
    (:data:`DENSITY_SAMPLE_ROWS` rows, fewer above :data:`DENSITY_SAMPLE_WORK` / n rows
    so the estimate costs no more than a few passes over the graph).
    """
    n = matrix.shape[0]
    if n < 2:
        return 0.0
    matrix = matrix.tocsr()
    transpose = matrix.T.tocsr()
    if n <= EXACT_DENSITY_LIMIT:
        blocks = [np.arange(s, min(s + block_size, n)) for s in range(0, n, block_size)]
        pairs = sum(_pair_count(matrix, transpose, rows) for rows in blocks)
        return pairs / (n * (n - 1))
    size = min(DENSITY_SAMPLE_ROWS, max(DENSITY_MIN_SAMPLE_ROWS, DENSITY_SAMPLE_WORK // n))
    rows = np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
    mark = np.zeros(n, dtype=bool)
    pairs = sum(_reached(matrix, transpose, int(row), mark) for row in rows)
    return pairs / (len(rows) * (n - 1))


def metapath_count_blocks(
    matrix: sp.csr_matrix, topk: int | None = None, block_size: int = 2048
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Off-diagonal entries of ``A A^T`` (rows, cols, counts) block of rows by block, each
    row cut to its ``topk`` (:func:`~heco_pyg.data.incidence.topk_counts_per_row`); rows
    in order."""
    transpose = matrix.T.tocsr()
    # scipy's product allocates one accumulator entry per column for every block: on large
    # graphs, fewer larger blocks (the rows' work is bounded by the hub cap).
    block_size = max(block_size, matrix.shape[0] // BLOCKS_PER_PRODUCT)
    for start in range(0, matrix.shape[0], block_size):
        block = (matrix[start : start + block_size] @ transpose).tocsr()
        row = row_of_entries(block.indptr) + start
        col = block.indices.astype(np.int64)
        value = block.data
        off_diagonal = col != row
        row, col, value = row[off_diagonal], col[off_diagonal], value[off_diagonal]
        yield topk_counts_per_row(row, col, value, topk, matrix.shape[0])


def metapath_counts(
    matrix: sp.csr_matrix, topk: int | None = None, block_size: int = 2048
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Off-diagonal entries of ``A A^T`` (rows, cols, counts), each row cut to its ``topk``."""
    blocks = list(metapath_count_blocks(matrix, topk, block_size))
    if not blocks:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return tuple(np.concatenate(part) for part in zip(*blocks, strict=True))


def auto_hub_degree(
    degree: np.ndarray, num_rows: int, work_per_row: int | None = None, min_work: int | None = None
) -> int | None:
    """The largest hub cap that keeps the meta-path product within ``work_per_row`` path
    instances per row on average (``None``: no cap needed).

    Row ``i`` of ``A A^T`` costs the degrees of its neighbours, so the whole product costs
    ``sum_x degree(x)^2``; neighbours are dropped from the largest down until that is at
    most ``work_per_row * num_rows`` (or :data:`AUTO_HUB_MIN_WORK`, if larger). A graph
    whose product already fits gets no cap, so small graphs (the default synthetic one
    among them) are unaffected. ``work_per_row`` defaults to :data:`AUTO_HUB_WORK`.
    """
    work_per_row = AUTO_HUB_WORK if work_per_row is None else work_per_row
    min_work = AUTO_HUB_MIN_WORK if min_work is None else min_work
    budget = max(work_per_row * num_rows, min_work)
    degree = np.sort(np.asarray(degree, dtype=np.float64))
    work = np.cumsum(degree**2)
    if len(degree) == 0 or work[-1] <= budget:
        return None
    fits = int(np.searchsorted(work, budget, side="right"))
    # Every neighbour of degree <= the cap is kept: step down past ties with the next one.
    cap = int(degree[fits]) - 1 if fits < len(degree) else int(degree[-1])
    return max(cap, 1)


class AddMetaPathCounts(BaseTransform):
    """Adds ``(target, name, target)`` edges with ``edge_weight`` = path counts.

    Args:
        metapaths: ``{name: neighbour type}``, e.g. ``{"PAP": "author", "PCP": "concept"}``.
        max_df: per neighbour type, drop its nodes found on more than this fraction of
            target nodes (e.g. ``{"concept": 0.05}``) before building the meta-path.
        min_level: per neighbour type, drop its nodes whose ``level`` is below this.
        max_degree: per neighbour type, drop its nodes found on more than this many target
            nodes. On large graphs a fraction is not enough: a concept on 1 % of a million
            papers still links 10^8 pairs; this bounds the work per row. ``"auto"``: the
            cap :func:`auto_hub_degree` chooses from the degrees (none on small graphs).
        topk: keep each row's ``topk`` largest counts (then symmetrise by union).
        block_size: rows of the product computed at once.
        workdir: out of core: the symmetrised edges go to ``.npy`` files in this folder
            (:mod:`heco_pyg.data.edge_files`) and the graph holds them memory-mapped;
            ``None``: in memory.

    The transform returns a new graph (sharing the input's tensors) and leaves its input
    untouched. It records what it did in ``data.metapath_stats`` (densities before/after
    pruning, edges, dropped nodes, hub cap) and its phases' seconds in
    ``data.phase_seconds``.
    """

    def __init__(
        self,
        metapaths: Mapping[str, str],
        max_df: Mapping[str, float] | None = None,
        min_level: Mapping[str, int] | None = None,
        topk: int | None = None,
        max_degree: Mapping[str, int | str | None] | None = None,
        block_size: int = 2048,
        workdir: str | Path | None = None,
    ) -> None:
        self.metapaths = dict(metapaths)
        self.max_df = dict(max_df or {})
        self.min_level = dict(min_level or {})
        self.max_degree = dict(max_degree or {})
        self.topk = topk
        self.block_size = block_size
        self.workdir = workdir

    def _symmetric_edges(
        self, name: str, pruned: sp.csr_matrix, timer: Phases
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The meta-path's product, cut per row and symmetrised (max of the two counts)."""
        n = pruned.shape[0]
        blocks = metapath_count_blocks(pruned, self.topk, self.block_size)
        bar = phase_bar(n, f"{name} products")
        if self.workdir is None:
            with timer.phase(f"{name} products", n):
                parts = []
                for block in blocks:
                    parts.append(block)
                    bar.update(_rows_of(block))
                bar.close()
                rows, cols, counts = (
                    tuple(np.concatenate(p) for p in zip(*parts, strict=True))
                    if parts else (np.zeros(0, np.int64),) * 2 + (np.zeros(0, np.float32),)
                )  # fmt: skip
                del parts
            with timer.phase(f"{name} symmetrisation", n):
                index = torch.from_numpy(np.stack([rows, cols]))
                weight = torch.from_numpy(counts.astype(np.float32))
                return to_undirected(index, weight, num_nodes=n, reduce="max")
        expected = n * self.topk if self.topk else 10 * pruned.nnz
        writer = SymmetricEdgeWriter(self.workdir, name, n, expected)
        with timer.phase(f"{name} products", n):
            for block in blocks:
                writer.add(*block)
                bar.update(_rows_of(block))
            bar.close()
        with timer.phase(f"{name} symmetrisation", n):
            writer.finish()
        return open_edges(self.workdir, name)

    def forward(self, data: HeteroData) -> HeteroData:
        target = data.target
        n = data[target].num_nodes
        stats = dict(getattr(data, "metapath_stats", {}) or {})
        timer = Phases()
        for name, neighbour in self.metapaths.items():
            start = time.perf_counter()
            if neighbour not in data.neighbour_types:
                raise DataError(f"meta-path {name}: {target} has no {neighbour!r} neighbours")
            # The products run in scipy on the CPU (in row blocks), whatever device the
            # graph is on; the meta-path edges go back to the graph's device.
            schema_edges = data[schema_edge_type(target, neighbour)].edge_index
            device, edge_index = schema_edges.device, schema_edges.cpu().numpy()
            matrix = incidence(edge_index[0], edge_index[1], (n, data[neighbour].num_nodes))
            with timer.phase(f"{name} density before pruning"):
                density_before = metapath_density(matrix, self.block_size)
            level = getattr(data[neighbour], "level", None)
            level = level.cpu() if isinstance(level, torch.Tensor) else level
            pruned, dropped, cap = _prune_columns(
                matrix, self.max_df.get(neighbour), self.min_level.get(neighbour), level,
                self.max_degree.get(neighbour),
            )  # fmt: skip
            del matrix
            if self.max_degree.get(neighbour) == "auto":
                cap_text = "none needed" if cap is None else cap
                log.info("meta-path %s: automatic hub cap %s (%s nodes on more %ss left out)",
                         name, cap_text, neighbour, target)  # fmt: skip
            index, weight = self._symmetric_edges(name, pruned, timer)
            del pruned
            store = data[metapath_edge_type(target, name)]
            store.edge_index, store.edge_weight = index.to(device), weight.to(device)
            stats[name] = {
                "via": neighbour,
                "dropped_neighbours": dropped,
                "max_hub_degree": cap,
                "max_hub_degree_rule": _cap_rule(self.max_degree.get(neighbour)),
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
        data.phase_seconds = {**(getattr(data, "phase_seconds", {}) or {}), **timer.seconds}
        if self.workdir is not None:
            data.metapath_workdir = str(self.workdir)
        return data

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.metapaths}, max_df={self.max_df}, topk={self.topk})"
        )


def _rows_of(block: tuple[np.ndarray, np.ndarray, np.ndarray]) -> int:
    """Rows a block spans (for the bar): from its first to its last row with entries."""
    rows = block[0]
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


def _cap_rule(max_degree: int | str | None) -> str:
    """How the hub cap was set: ``auto`` (chosen from the graph), ``set`` or ``none``."""
    return "auto" if max_degree == "auto" else "none" if max_degree is None else "set"
