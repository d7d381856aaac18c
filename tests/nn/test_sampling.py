import torch

from heco_pyg.nn.sampling import sample_neighbours, unique_ids
from heco_pyg.nn.sparse import Adjacency


def adjacency():
    # node 0: 5 neighbours, node 1: 2 neighbours, node 2: none, node 3: 3 neighbours
    edges = [(0, c) for c in range(5)] + [(1, 7), (1, 8)] + [(3, 1), (3, 2), (3, 3)]
    return Adjacency.from_edges(torch.tensor(edges).t(), num_rows=4, num_cols=10)


def test_sampling_without_replacement_when_enough_neighbours():
    torch.manual_seed(0)
    ids, has = sample_neighbours(adjacency(), torch.tensor([0, 3]), num_samples=3)
    assert ids.shape == (2, 3) and has.all()
    assert len(set(ids[0].tolist())) == 3 and set(ids[0].tolist()) <= set(range(5))
    assert sorted(ids[1].tolist()) == [1, 2, 3]


def test_sampling_with_replacement_and_isolated_nodes():
    torch.manual_seed(0)
    ids, has = sample_neighbours(adjacency(), torch.tensor([1, 2]), num_samples=4)
    assert set(ids[0].tolist()) <= {7, 8}
    assert has.tolist() == [True, False] and ids[1].tolist() == [0, 0, 0, 0]


def test_sampling_is_seeded_and_covers_all_neighbours():
    torch.manual_seed(1)
    first, _ = sample_neighbours(adjacency(), torch.tensor([0] * 200), num_samples=2)
    torch.manual_seed(1)
    again, _ = sample_neighbours(adjacency(), torch.tensor([0] * 200), num_samples=2)
    assert torch.equal(first, again)
    assert set(first.flatten().tolist()) == set(range(5))


def test_adjacency_rows_match_the_dense_matrix():
    a = adjacency().row_normalised()
    dense = a.rows().to_dense()
    assert torch.allclose(dense.sum(dim=1), torch.tensor([1.0, 1.0, 0.0, 1.0]))
    index = torch.tensor([3, 0, 3])
    assert torch.allclose(a.rows(index).to_dense(), dense[index])


def test_unique_ids_equal_torch_unique():
    ids = torch.tensor([[7, 2, 2], [0, 9, 7]])
    distinct, position = unique_ids(ids, num_nodes=12)
    expected, inverse = torch.unique(ids, return_inverse=True)
    assert distinct.tolist() == expected.tolist() == [0, 2, 7, 9]
    assert position.tolist() == inverse.tolist() == [[2, 1, 1], [0, 3, 2]]
