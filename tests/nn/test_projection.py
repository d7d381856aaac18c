import torch

from heco_pyg.nn import TypeProjection
from heco_pyg.nn.sparse import Adjacency


def test_sparse_tables_give_the_same_outputs_and_sparse_gradients():
    torch.manual_seed(0)
    dense = TypeProjection({}, {"author": 10}, 4)
    torch.manual_seed(0)
    sparse = TypeProjection({}, {"author": 10}, 4, sparse=True)
    ids = torch.tensor([3, 3, 7])
    assert torch.allclose(dense("author", ids), sparse("author", ids))
    means = Adjacency.from_edges(torch.tensor([[0, 0, 1], [2, 5, 5]]), 2, 10).row_normalised()
    rows = means.rows(torch.tensor([1, 0]))
    out = sparse.linear("author", rows)
    assert torch.allclose(out, dense.linear("author", rows), atol=1e-6)
    out.sum().backward()
    gradient = sparse.embeddings["author"].weight.grad
    assert gradient.is_sparse
    assert set(gradient.coalesce().indices()[0].tolist()) == {2, 5}
