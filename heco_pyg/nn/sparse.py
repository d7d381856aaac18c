"""Row-sliceable CSR adjacency used by the encoders (plain torch, no torch-sparse)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

#: Rows of the normalised adjacency built at once by :meth:`Adjacency.gcn_normalised`,
BLOCK_ROWS = 32_768
#: and edges counted at once for its degrees.
BLOCK_EDGES = 1 << 22

#: Where :meth:`Adjacency.gcn_normalised` puts its CSR columns and values: called with the
#: ``(col, value)`` blocks in row order, it returns the whole ``col`` and ``value`` (e.g.
#: written to files and memory-mapped).
AdjacencyStore = Callable[[Iterator[tuple[Tensor, Tensor]]], tuple[Tensor, Tensor]]


@dataclass
class Adjacency:
    """A ``num_rows x num_cols`` sparse matrix in CSR parts, rows sliceable by index.

    ``host_entries``: ``col`` and ``value`` are memory-mapped files (an out-of-core graph,
    :meth:`gcn_normalised` with a ``store``) and stay on the host when the adjacency moves
    to a device: only ``rowptr`` moves, and each batch's entries (:meth:`entries`,
    :meth:`rows` of some rows) are gathered on the host and copied to the device, so the
    device holds ``O(N + batch)``, not ``O(E)``. All rows (:meth:`rows` ``()``, the
    full-batch product) copy every entry, every call.
    """

    rowptr: Tensor
    col: Tensor
    value: Tensor
    num_cols: int
    host_entries: bool = False

    @classmethod
    def from_edges(
        cls, edge_index: Tensor, num_rows: int, num_cols: int, value: Tensor | None = None
    ) -> Adjacency:
        """The CSR form of ``edge_index`` ``[2, E]``, on the edges' device."""
        row, col = edge_index
        value = torch.ones(row.numel(), device=row.device) if value is None else value.float()
        order = torch.argsort(row * num_cols + col)
        row, col, value = row[order], col[order], value[order]
        rowptr = torch.zeros(num_rows + 1, dtype=torch.long, device=row.device)
        rowptr[1:] = torch.cumsum(torch.bincount(row, minlength=num_rows), 0)
        return cls(rowptr, col, value, num_cols)

    @classmethod
    def gcn_normalised(
        cls, edge_index: Tensor, num_nodes: int, store: AdjacencyStore | None = None,
        block_rows: int | None = None,
    ) -> Adjacency:  # fmt: skip
        """``D^-1/2 (A + I) D^-1/2`` of symmetric edges ``[2, E]`` without self-loops whose
        rows are sorted (columns in any order), built block of rows by block: the same
        numbers and order as PyG's ``gcn_norm(..., add_self_loops=True)`` then
        :meth:`from_edges`, with temporaries of one block only (no ``[2, E + N]`` copies,
        so the edges can stay memory-mapped).

        ``store``: where the ``E + N`` columns and values go (``None``: in memory);
        ``block_rows``: rows per block (``None``: :data:`BLOCK_ROWS`).
        """
        block_rows = block_rows or BLOCK_ROWS
        row, col = edge_index
        edge_ptr = _sorted_row_pointer(row, num_nodes)
        # Symmetric edges: the column degree (gcn_norm's) is the row degree, plus the loop.
        scale = (edge_ptr[1:] - edge_ptr[:-1] + 1).float().pow_(-0.5)

        def blocks() -> Iterator[tuple[Tensor, Tensor]]:
            for start in range(0, num_nodes, block_rows):
                stop = min(start + block_rows, num_nodes)
                first, last = int(edge_ptr[start]), int(edge_ptr[stop])
                loops = torch.arange(start, stop, device=row.device)
                block_row = torch.cat([row[first:last], loops])
                block_col = torch.cat([col[first:last], loops])
                order = torch.argsort((block_row - start) * num_nodes + block_col)
                block_row, block_col = block_row[order], block_col[order]
                yield block_col, scale[block_row] * scale[block_col]

        rowptr = edge_ptr + torch.arange(num_nodes + 1, device=row.device)
        if store is not None:
            return cls(rowptr, *store(blocks()), num_nodes, host_entries=True)
        size = row.numel() + num_nodes
        all_col, value = col.new_empty(size), scale.new_empty(size)
        offset = 0
        for block_col, block_value in blocks():
            all_col[offset : offset + block_col.numel()] = block_col
            value[offset : offset + block_col.numel()] = block_value
            offset += block_col.numel()
        return cls(rowptr, all_col, value, num_nodes)

    @property
    def num_rows(self) -> int:
        return self.rowptr.numel() - 1

    @cached_property
    def degree(self) -> Tensor:
        """Entries per row, computed once (sampling reads it every step)."""
        return self.rowptr[1:] - self.rowptr[:-1]

    def row_normalised(self) -> Adjacency:
        """Each row divided by its sum: multiplying by it takes neighbour means."""
        row_sum = self.value.new_zeros(self.num_rows).index_add_(0, self.row_index(), self.value)
        value = self.value / row_sum.clamp(min=1e-12)[self.row_index()]
        return Adjacency(self.rowptr, self.col, value, self.num_cols)

    def row_index(self) -> Tensor:
        rows = torch.arange(self.num_rows, device=self.rowptr.device)
        return torch.repeat_interleave(rows, self.degree, output_size=self.col.numel())

    def entries(self, position: Tensor) -> tuple[Tensor, Tensor]:
        """``col[position]`` and ``value[position]`` on ``position``'s device (entries kept
        on the host are gathered there, then copied: one batch's worth)."""
        if self.col.device == position.device:
            return self.col[position], self.value[position]
        host = position.cpu()
        return self.col[host].to(position.device), self.value[host].to(position.device)

    def rows(self, index: Tensor | None = None) -> Tensor:
        """The rows ``index`` (all rows when ``None``) as a torch sparse CSR tensor."""
        if index is None:
            col, value = self.col.to(self.rowptr.device), self.value.to(self.rowptr.device)
            return _csr(self.rowptr, col, value, (self.num_rows, self.num_cols))
        start, degree = self.rowptr[index], self.degree[index]
        rowptr = torch.zeros(index.numel() + 1, dtype=torch.long, device=index.device)
        rowptr[1:] = torch.cumsum(degree, 0)
        total = int(rowptr[-1])  # the one host sync: the slice's size decides its shape
        offset = torch.repeat_interleave(start - rowptr[:-1], degree, output_size=total)
        position = torch.arange(total, device=index.device) + offset
        return _csr(rowptr, *self.entries(position), (index.numel(), self.num_cols))

    def to(self, device: torch.device | str) -> Adjacency:
        if self.host_entries:  # the row pointers only (class docstring)
            return Adjacency(self.rowptr.to(device), self.col, self.value, self.num_cols, True)
        return Adjacency(
            self.rowptr.to(device), self.col.to(device), self.value.to(device), self.num_cols
        )


def _sorted_row_pointer(row: Tensor, num_rows: int) -> Tensor:
    """Where each row's entries start in ``row`` (sorted), counted :data:`BLOCK_EDGES`
    entries at a time; a ``ValueError`` if ``row`` is not sorted."""
    counts = torch.zeros(num_rows, dtype=torch.long, device=row.device)
    previous = 0
    for part in row.split(BLOCK_EDGES):
        first = int(part[0]) if part.numel() else previous
        if first < previous or bool((part[1:] < part[:-1]).any()):
            raise ValueError("the edges must be sorted by row")
        part_counts = torch.bincount(part - first)
        counts[first : first + part_counts.numel()] += part_counts
        previous = int(part[-1]) if part.numel() else previous
    pointer = torch.zeros(num_rows + 1, dtype=torch.long, device=row.device)
    torch.cumsum(counts, 0, out=pointer[1:])
    return pointer


def _csr(rowptr: Tensor, col: Tensor, value: Tensor, size: tuple[int, int]) -> Tensor:
    """A torch sparse CSR tensor; its parts are valid by construction, so invariant checks
    are off, and torch's one-time "CSR support is in beta" notice is silenced here only
    (no process-wide warning filter)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            rowptr, col, value, size, device=rowptr.device, check_invariants=False
        )
