import torch

from heco_pyg.data import load_synthetic
from heco_pyg.data.graph import model_arguments, model_inputs, positive_edge_type
from heco_pyg.nn import HeCo, TypeProjection
from heco_pyg.nn.sparse import Adjacency
from heco_pyg.training.loss import HeCoLoss
from heco_pyg.training.trainer import Trainer


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


def test_training_updates_only_the_rows_a_mini_batch_read():
    data = load_synthetic(preparation={"sample_sizes": {"author": 3, "concept": 3}}, num_papers=200, num_authors=400,
                          num_concepts=150, num_fields=3)  # fmt: skip
    torch.manual_seed(0)
    model = HeCo(**model_arguments(data), hidden_channels=8, sparse_embeddings=True,
                 metapath_sample_size=4)  # fmt: skip
    before = model.projection.embeddings["author"].weight.detach().clone()
    inputs = model.prepare(**model_inputs(data))
    trainer = Trainer(max_epochs=1, batch_size=100, device="cpu", progress=False, lr=0.01)
    trainer.fit(model, HeCoLoss(), inputs, data[positive_edge_type("paper")].edge_index)
    changed = (model.projection.embeddings["author"].weight != before).any(dim=1)
    assert 0 < int(changed.sum()) < 400  # sampled authors moved, the others did not
