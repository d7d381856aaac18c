import numpy as np
import pytest
import torch

from heco_pyg.data.graph import build_graph, metapath_edge_type
from heco_pyg.data.incidence import incidence, topk_per_row
from heco_pyg.data.metapaths import AddMetaPathCounts, metapath_counts, metapath_density


def toy_graph(num_papers=6):
    """Every paper has generic concept 0; papers pair up on specific concepts 1..3."""
    pc = [(p, 0) for p in range(num_papers)] + [(p, 1 + p // 2) for p in range(num_papers)]
    pa = [(0, 0), (1, 0), (1, 1), (2, 1), (3, 2), (4, 3), (5, 3)]
    data = build_graph(
        "paper",
        {"paper": num_papers, "author": 4, "concept": 4},
        {"author": np.array(pa), "concept": np.array(pc)},
        {"paper": np.eye(num_papers), "author": None, "concept": None},
        source="toy",
    )
    data["concept"].level = torch.tensor([0, 2, 2, 2])
    return data


def dense_counts(data, neighbour):
    index = data["paper", "to", neighbour].edge_index
    a = torch.zeros(data["paper"].num_nodes, data[neighbour].num_nodes)
    a[index[0], index[1]] = 1
    counts = a @ a.t()
    counts.fill_diagonal_(0)
    return counts


def as_dense(data, name):
    store = data[metapath_edge_type("paper", name)]
    n = data["paper"].num_nodes
    out = torch.zeros(n, n)
    out[store.edge_index[0], store.edge_index[1]] = store.edge_weight
    return out


def test_counts_equal_dense_product_without_pruning():
    data = AddMetaPathCounts({"PAP": "author", "PCP": "concept"}, block_size=4)(toy_graph())
    assert torch.equal(as_dense(data, "PAP"), dense_counts(data, "author"))
    assert torch.equal(as_dense(data, "PCP"), dense_counts(data, "concept"))
    assert data.metapaths == ["PAP", "PCP"]


def test_complete_pcp_becomes_sparse_by_document_frequency():
    data = toy_graph()
    assert metapath_density(incidence(*data["paper", "to", "concept"].edge_index.numpy(),
                                      (6, 4))) == 1.0  # fmt: skip
    pruned = AddMetaPathCounts({"PCP": "concept"}, max_df={"concept": 0.5})(data)
    stats = pruned.metapath_stats["PCP"]
    assert stats["density_before"] == 1.0
    assert stats["density_after"] == pytest.approx(6 / 30)  # only the 3 pairs remain
    assert stats["dropped_neighbours"] == 1
    edges = set(map(tuple, pruned["paper", "PCP", "paper"].edge_index.t().tolist()))
    assert edges == {(0, 1), (1, 0), (2, 3), (3, 2), (4, 5), (5, 4)}
    assert "PCP" not in data.metapaths  # the input graph is not mutated


def test_pruning_by_level_matches_pruning_by_frequency():
    by_level = AddMetaPathCounts({"PCP": "concept"}, min_level={"concept": 1})(toy_graph())
    by_df = AddMetaPathCounts({"PCP": "concept"}, max_df={"concept": 0.5})(toy_graph())
    assert torch.equal(as_dense(by_level, "PCP"), as_dense(by_df, "PCP"))


def test_topk_keeps_the_largest_counts_per_row_and_stays_symmetric():
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 30, 200), rng.integers(0, 15, 200)
    matrix = incidence(rows, cols, (30, 15))
    r, c, v = metapath_counts(matrix, topk=3, block_size=7)
    full_r, full_c, full_v = metapath_counts(matrix, topk=None)
    for row in range(30):
        kept = np.sort(v[r == row])[::-1]
        best = np.sort(full_v[full_r == row])[::-1][:3]
        assert np.array_equal(kept, best)
    assert not (r == c).any()


def test_topk_per_row_breaks_ties_by_column():
    keep = topk_per_row(np.array([0, 0, 0, 1]), np.array([5, 2, 9, 1]),
                        np.array([1.0, 1.0, 2.0, 1.0]), k=2)  # fmt: skip
    assert keep.tolist() == [False, True, True, True]


def test_max_degree_drops_hub_neighbours_by_count():
    pruned = AddMetaPathCounts({"PCP": "concept"}, max_degree={"concept": 2})(toy_graph())
    assert pruned.metapath_stats["PCP"]["dropped_neighbours"] == 1  # concept 0 is on 6 papers
    edges = set(map(tuple, pruned["paper", "PCP", "paper"].edge_index.t().tolist()))
    assert edges == {(0, 1), (1, 0), (2, 3), (3, 2), (4, 5), (5, 4)}
