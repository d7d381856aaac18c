import pytest
import torch

from heco_pyg.data import load_synthetic
from heco_pyg.data.graph import model_arguments, model_inputs
from heco_pyg.nn import HeCo, HeCoMean
from heco_pyg.training.loss import HeCoLoss

MODELS = {"attention": HeCo, "mean": HeCoMean}


@pytest.fixture(scope="module")
def graph():
    return load_synthetic(preparation={"sample_sizes": {"author": 3, "concept": 4}}, num_papers=150, num_authors=200,
                          num_concepts=150, num_fields=3)  # fmt: skip


@pytest.mark.parametrize("aggregation", list(MODELS))
def test_shapes_and_attention_weights(graph, aggregation):
    torch.manual_seed(0)
    model = MODELS[aggregation](**model_arguments(graph), hidden_channels=16)
    inputs = model.prepare(**model_inputs(graph))
    output = model(inputs)
    assert output.schema.shape == output.semantic.shape == (150, 16)
    assert list(output.type_attention) == ["author", "concept"]
    assert list(output.semantic_attention) == ["PAP", "PCP"]
    for weights in (output.type_attention, output.semantic_attention):
        assert torch.isclose(sum(weights.values()), torch.tensor(1.0))
    index = torch.tensor([5, 0, 149])
    batch = model(inputs, index)
    assert batch.schema.shape == (3, 16)
    if aggregation == "attention":
        assert output.node_attention["author"].shape == (150, 3)
        assert torch.allclose(output.node_attention["concept"].sum(1), torch.ones(150))


# View-level attention averages over the nodes of the batch (as HeCo does over the graph),
# so a batch equals the full graph when it holds every node, in any order.
def test_mean_model_batches_equal_the_full_graph_in_eval_mode(graph):
    model = HeCoMean(**model_arguments(graph), hidden_channels=8).eval()
    inputs = model.prepare(**model_inputs(graph))
    full = model(inputs)
    index = torch.randperm(150)
    batch = model(inputs, index)
    assert torch.allclose(batch.schema, full.schema[index], atol=1e-5)
    assert torch.allclose(batch.semantic, full.semantic[index], atol=1e-5)


def test_gcn_rows_of_a_batch_equal_the_full_graph_in_eval_mode(graph):
    model = HeCo(**model_arguments(graph), hidden_channels=8).eval()
    inputs = model.prepare(**model_inputs(graph))
    index = torch.randperm(150)
    assert torch.allclose(model(inputs, index).semantic, model(inputs).semantic[index], atol=1e-5)


def test_featureless_types_are_embedding_tables_not_one_hot(graph):
    model = HeCo(**model_arguments(graph), hidden_channels=8)
    assert "author" in model.projection.embeddings
    largest = max(p.numel() for p in model.parameters())
    assert largest <= 200 * 8 or largest <= 150 * 32 * 8  # no N x N parameter


def test_one_training_step_lowers_the_loss(graph):
    torch.manual_seed(0)
    model = HeCoMean(**model_arguments(graph), hidden_channels=16, feature_dropout=0.0,
                     attention_dropout=0.0)  # fmt: skip
    inputs = model.prepare(**model_inputs(graph))
    positives = graph.positive_index
    loss_fn, optimizer = HeCoLoss(0.5, 0.5), torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        output = model(inputs)
        loss = loss_fn(model.head(output.semantic), model.head(output.schema), positives).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1


def test_invalid_configuration():
    with pytest.raises(ValueError, match="one neighbour type"):
        HeCo("p", {"p": 2}, {"a": 3}, [], ["PAP"], {"a": 1})
    with pytest.raises(ValueError, match="sample_sizes"):
        HeCo("p", {"p": 2}, {"a": 3}, ["a"], ["PAP"], {})


@pytest.mark.parametrize("aggregation", list(MODELS))
def test_batched_inference_equals_the_full_graph(graph, aggregation):
    model = MODELS[aggregation](**model_arguments(graph), hidden_channels=8).eval()
    inputs = model.prepare(**model_inputs(graph))
    torch.manual_seed(3)
    full = model.embed(inputs)
    torch.manual_seed(3)
    batched = model.embed(inputs, batch_size=40)
    assert torch.allclose(batched.semantic, full.semantic, atol=1e-5)
    if aggregation == "mean":  # the attention model samples schema neighbours per call
        assert torch.allclose(batched.schema, full.schema, atol=1e-5)


def test_sampled_metapath_rows_estimate_the_exact_product(graph):
    model = HeCo(**model_arguments(graph), hidden_channels=8, metapath_sample_size=4)
    inputs = model.prepare(**model_inputs(graph))
    adjacency = inputs.metapaths["PAP"].adjacency
    x = inputs.x["paper"]
    index = torch.arange(0, 150, 7)
    model.projection.dropout.p = 0.0
    with torch.no_grad():
        exact = torch.sparse.mm(adjacency.rows(index), model.projection("paper", x))
    torch.manual_seed(0)
    estimate = torch.stack([model.sampled_aggregate(inputs, adjacency, index) for _ in range(2000)])
    assert torch.allclose(estimate.mean(0), exact, atol=0.04 * exact.abs().max().item())
    # training with a sample never projects all papers: shapes stay [B, C]
    output = model.train()(inputs, index)
    assert output.semantic.shape == (len(index), 8)
