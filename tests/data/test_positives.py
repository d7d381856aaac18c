import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.transforms import BaseTransform, Compose

from heco_pyg.data.metapaths import AddMetaPathCounts
from heco_pyg.data.positives import AddPositives, metapath_scores, row_blocks, select_positives
from tests.data.test_metapaths import toy_graph


def graph_with_metapaths():
    return AddMetaPathCounts({"PAP": "author", "PCP": "concept"}, max_df={"concept": 0.5})(
        toy_graph()
    )


def test_positives_start_with_self_and_follow_the_score_order():
    data = graph_with_metapaths()
    pairs = select_positives(data, pos_num=3)
    scores = metapath_scores(data).toarray()
    for anchor in range(data["paper"].num_nodes):
        mine = pairs[1, pairs[0] == anchor].tolist()
        assert mine[0] == anchor
        others = mine[1:]
        assert len(others) <= 2
        # descending score, ties broken by the smaller index
        ranked = sorted(np.flatnonzero(scores[anchor]), key=lambda j: (-scores[anchor, j], j))
        assert others == ranked[: len(others)]


def test_scores_are_row_normalised_per_metapath_and_summed():
    data = graph_with_metapaths()
    scores = metapath_scores(data)
    assert sp.issparse(scores)  # never a dense N x N
    # paper 1 shares author 0 with paper 0 and author 1 with paper 2 (PAP row sums to 1),
    # and concept 1 with paper 0 (PCP row sums to 1): C_10 = 1/2 + 1, C_12 = 1/2.
    assert scores[1, 0] == 1.5 and scores[1, 2] == 0.5


def test_transform_adds_positive_edges_and_handles_isolated_nodes():
    data = AddPositives(pos_num=4)(graph_with_metapaths())
    edge_index = data.positive_index
    assert edge_index.dtype == torch.long and edge_index.size(0) == 2
    anchors = edge_index[0]
    assert torch.equal(anchors, torch.sort(anchors, stable=True).values)
    assert torch.equal(torch.unique(anchors), torch.arange(6))  # every node has itself


def test_row_blocks_cover_the_rows_within_both_bounds():
    indptr = np.array([0, 2, 4, 14, 15, 16, 17, 18])  # row 2 alone holds 10 entries
    assert row_blocks(indptr, max_rows=3, max_entries=4) == [(0, 2), (2, 3), (3, 6), (6, 7)]
    assert row_blocks(indptr, max_rows=100, max_entries=100) == [(0, 7)]
    assert row_blocks(np.zeros(1, np.int64), max_rows=3, max_entries=4) == []


def test_both_transforms_compose_as_pyg_transforms_and_leave_their_input_untouched():
    graph = toy_graph()
    chain = Compose([AddMetaPathCounts({"PAP": "author"}), AddPositives(pos_num=2)])
    data = chain(graph)
    assert all(isinstance(t, BaseTransform) for t in chain.transforms)
    assert "positive_index" in data and "positive_index" not in graph
    assert data.metapaths == ["PAP"] and graph.metapaths == []
