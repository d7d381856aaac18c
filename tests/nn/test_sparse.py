"""The CSR adjacency: the streamed GCN normalisation equals PyG's gcn_norm + from_edges."""

import pytest
import torch
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_undirected

from heco_pyg.nn.sparse import Adjacency

N = 12


def symmetric_edges() -> torch.Tensor:
    """Sorted, symmetric, no self-loops; nodes 0, 5 and 11 (first and last) have no edges."""
    generator = torch.Generator().manual_seed(0)
    edge_index = torch.randint(1, N - 1, (2, 40), generator=generator)
    edge_index = edge_index[:, (edge_index[0] != edge_index[1]) & (edge_index != 5).all(0)]
    return to_undirected(edge_index, num_nodes=N)


def expected(edge_index: torch.Tensor) -> Adjacency:
    index, weight = gcn_norm(edge_index, None, N, add_self_loops=True)
    return Adjacency.from_edges(index, N, N, weight)


@pytest.mark.parametrize("block_rows", [1, 3, 5, 100])
def test_gcn_normalised_equals_gcn_norm_then_from_edges(block_rows):
    edge_index = symmetric_edges()
    want = expected(edge_index)
    assert (want.degree[[0, 5, 11]] == 1).all()  # rows with their self-loop only
    got = Adjacency.gcn_normalised(edge_index, N, block_rows=block_rows)
    assert torch.equal(got.rowptr, want.rowptr)
    assert torch.equal(got.col, want.col)
    assert torch.equal(got.value, want.value)  # bit for bit
    assert got.num_cols == N


def test_gcn_normalised_sorts_columns_within_rows_and_streams_blocks_to_a_store():
    edge_index = symmetric_edges()
    # Columns shuffled within each row: only the rows must be sorted.
    order = torch.argsort(edge_index[0] * N + torch.randperm(N)[edge_index[1]])
    shuffled = edge_index[:, order]
    assert not torch.equal(shuffled, edge_index)
    blocks = []

    def store(parts):
        blocks.extend(parts)
        return torch.cat([c for c, _ in blocks]), torch.cat([v for _, v in blocks])

    got = Adjacency.gcn_normalised(shuffled, N, store, block_rows=5)
    assert [c.numel() for c, _ in blocks] == torch.diff(got.rowptr[[0, 5, 10, 12]]).tolist()
    want = expected(edge_index)
    assert torch.equal(got.col, want.col) and torch.equal(got.value, want.value)


def test_gcn_normalised_rejects_edges_not_sorted_by_row(monkeypatch):
    edge_index = symmetric_edges()
    with pytest.raises(ValueError, match="sorted by row"):
        Adjacency.gcn_normalised(edge_index.flip(1), N)
    # Sorted within each counted part, but not across two parts.
    monkeypatch.setattr("heco_pyg.nn.sparse.BLOCK_EDGES", 4)
    parts = edge_index.split(4, dim=1)
    with pytest.raises(ValueError, match="sorted by row"):
        Adjacency.gcn_normalised(torch.cat([parts[1], parts[0], *parts[2:]], 1), N)
