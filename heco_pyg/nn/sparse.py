"""Row-sliceable CSR adjacency used by the encoders (plain torch, no torch-sparse)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor


@dataclass
class Adjacency:
    """A ``num_rows x num_cols`` sparse matrix in CSR parts, rows sliceable by index."""

    rowptr: Tensor
    col: Tensor
    value: Tensor
    num_cols: int

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

    def rows(self, index: Tensor | None = None) -> Tensor:
        """The rows ``index`` (all rows when ``None``) as a torch sparse CSR tensor."""
        if index is None:
            return _csr(self.rowptr, self.col, self.value, (self.num_rows, self.num_cols))
        start, degree = self.rowptr[index], self.degree[index]
        rowptr = torch.zeros(index.numel() + 1, dtype=torch.long, device=index.device)
        rowptr[1:] = torch.cumsum(degree, 0)
        total = int(rowptr[-1])  # the one host sync: the slice's size decides its shape
        offset = torch.repeat_interleave(start - rowptr[:-1], degree, output_size=total)
        position = torch.arange(total, device=index.device) + offset
        return _csr(
            rowptr, self.col[position], self.value[position], (index.numel(), self.num_cols)
        )

    def to(self, device: torch.device | str) -> Adjacency:
        return Adjacency(
            self.rowptr.to(device), self.col.to(device), self.value.to(device), self.num_cols
        )


def _csr(rowptr: Tensor, col: Tensor, value: Tensor, size: tuple[int, int]) -> Tensor:
    """A torch sparse CSR tensor; its parts are valid by construction, so invariant checks
    are off, and torch's one-time "CSR support is in beta" notice is silenced here only
    (no process-wide warning filter)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            rowptr, col, value, size, device=rowptr.device, check_invariants=False
        )
