"""Exact shortcuts for the meta-path GCN product: symmetric backward, factorised S S^T."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from heco_pyg.nn.propagation import (
    FactorisedAdjacency,
    SymmetricAdjacency,
    propagate,
    symmetric_matmul,
)
from heco_pyg.nn.sparse import Adjacency

GROUP = torch.tensor([0, 0, 1, 2, 1, 1, 0, 2])  # one group per node
N, G = 8, 3


def _clique_edges(group: torch.Tensor) -> torch.Tensor:
    same = group[:, None] == group[None, :]
    same.fill_diagonal_(False)
    return same.nonzero().t()


def _normalised(edge_index: torch.Tensor) -> Adjacency:
    index, weight = gcn_norm(edge_index, None, N, add_self_loops=True)
    return Adjacency.from_edges(index, N, N, weight)


def test_symmetric_matmul_matches_sparse_mm_and_its_gradient():
    adjacency = _normalised(_clique_edges(GROUP)).rows()
    x = torch.randn(N, 4, requires_grad=True)
    expected = torch.sparse.mm(adjacency, x)
    (grad_expected,) = torch.autograd.grad(expected.square().sum(), x)
    result = symmetric_matmul(adjacency, x)
    (grad,) = torch.autograd.grad(result.square().sum(), x)
    assert torch.allclose(result, expected) and torch.allclose(grad, grad_expected)


def test_factorised_equals_the_normalised_clique_matrix():
    edges = _clique_edges(GROUP)
    schema = torch.stack([torch.arange(N), GROUP])
    factorised = FactorisedAdjacency.from_edges(schema, edges, N, G, "PSP")
    symmetric = SymmetricAdjacency(_normalised(edges))
    x = torch.randn(N, 5)
    assert torch.allclose(
        propagate(factorised.rows(), x), propagate(symmetric.rows(), x), atol=1e-6
    )
    index = torch.tensor([5, 0, 3])
    assert torch.allclose(propagate(factorised.rows(index), x),
                          propagate(symmetric.rows(index), x), atol=1e-6)  # fmt: skip


def test_factorisation_refuses_other_edges():
    schema = torch.stack([torch.arange(N), GROUP])
    edges = _clique_edges(GROUP)[:, :-2]  # a pair missing
    with pytest.raises(ValueError, match="cannot be factorised"):
        FactorisedAdjacency.from_edges(schema, edges, N, G, "PSP")
    two_groups = torch.cat([schema, torch.tensor([[0], [1]])], dim=1)  # node 0 in two groups
    with pytest.raises(ValueError, match="exactly one group"):
        FactorisedAdjacency.from_edges(two_groups, _clique_edges(GROUP), N, G, "PSP")


def test_dense_symmetric_adjacency_equals_sparse_and_its_gradient():
    adjacency = _normalised(_clique_edges(GROUP))
    sparse, dense = SymmetricAdjacency(adjacency), SymmetricAdjacency(adjacency, dense=True)
    assert dense.rows().layout == torch.strided and sparse.rows(None) is not None
    x = torch.randn(N, 4, requires_grad=True)
    results = [propagate(a.rows(), x) for a in (sparse, dense)]
    grads = [torch.autograd.grad(r.square().sum(), x)[0] for r in results]
    assert torch.allclose(*results, atol=1e-6) and torch.allclose(*grads, atol=1e-6)
    index = torch.tensor([4, 1])  # row slices stay sparse in both
    assert torch.allclose(propagate(dense.rows(index), x), results[0][index], atol=1e-6)


def test_heco_stores_only_dense_enough_metapaths_dense():
    from heco_pyg.nn import HeCo

    dense_edges = _clique_edges(torch.zeros(N, dtype=torch.long))  # complete: 56 of 64
    sparse_edges = torch.tensor([[0, 1], [1, 0]])
    model = HeCo("p", {"p": 3}, {"a": 4}, ["a"], ["PAP", "PXP"], {"a": 2},
                 hidden_channels=4, dense_metapath_density=0.5)  # fmt: skip
    inputs = model.prepare(
        {"p": torch.randn(N, 3)},
        {"a": torch.stack([torch.arange(N), torch.arange(N) % 4])},
        {"PAP": sparse_edges, "PXP": dense_edges},
        {"p": N, "a": 4},
    )
    assert not inputs.metapaths["PAP"].dense and inputs.metapaths["PXP"].dense
    assert model(inputs).semantic.shape == (N, 4)
