import pytest
import torch
from hydra.utils import instantiate

from heco_pyg.core.errors import DataError
from heco_pyg.data.graph import model_arguments, model_inputs, schema_edge_type
from heco_pyg.retrieval.catalog import normalise_id
from heco_pyg.retrieval.coldstart import (
    ColdStartEncoder,
    NewPaper,
    neighbour_lookup,
    paper_from_record,
)
from tests.conftest import TINY_SYNTHETIC, compose_config


@pytest.fixture(scope="module")
def graph():
    cfg = compose_config([*TINY_SYNTHETIC, "logger=none"])
    return cfg, instantiate(cfg.data, _convert_="all")


def _neighbours(data, paper: int) -> dict[str, torch.Tensor]:
    out = {}
    for node_type in data.neighbour_types:
        edge_index = data[schema_edge_type("paper", node_type)].edge_index
        out[node_type] = edge_index[1, edge_index[0] == paper]
    return out


def _model(cfg, data, model_name: str, **overrides):
    torch.manual_seed(0)
    model = instantiate(compose_config([*TINY_SYNTHETIC, f"model={model_name}"]).model,
                        **(model_arguments(data) | overrides))  # fmt: skip
    return model.eval()


def _held_out_check(cfg, data, model, paper: int, seed: int = 0):
    """(in-graph embedding of ``paper``, its cold-start embedding from a graph without it)."""
    with torch.no_grad():
        torch.manual_seed(seed)
        output = model(model.prepare(**model_inputs(data)))
    keep = torch.tensor([i for i in range(data["paper"].num_nodes) if i != paper])
    without_ids = data.clone()
    del without_ids["paper"].node_ids  # a list: subgraph() cannot index it
    held_out = without_ids.subgraph({"paper": keep})
    assert held_out["paper"].num_nodes == data["paper"].num_nodes - 1
    encoder = ColdStartEncoder(
        model, model.prepare(**model_inputs(held_out)), type_weights=output.type_attention
    )
    new = NewPaper(data["paper"].x[paper], _neighbours(data, paper))
    return output.schema[paper], encoder([new])[0]


def test_mean_model_cold_start_equals_in_graph_embedding(graph):
    cfg, data = graph
    model = _model(cfg, data, "heco_mean")
    for paper in (0, 17, 123):
        in_graph, cold = _held_out_check(cfg, data, model, paper)
        assert torch.allclose(in_graph, cold, atol=1e-5), paper


def test_attention_model_cold_start_equals_in_graph_when_sample_is_whole_neighbourhood(graph):
    # A paper with exactly sample_size neighbours of each type gets all of them (shuffled);
    # attention is order-free, so its schema embedding is deterministic in eval mode.
    cfg, data = graph
    paper = 5
    sizes = {t: int(n.numel()) for t, n in _neighbours(data, paper).items()}
    model = _model(cfg, data, "heco", sample_sizes=sizes)
    in_graph, cold = _held_out_check(cfg, data, model, paper)
    assert torch.allclose(in_graph, cold, atol=1e-5)


def test_type_weights_default_to_an_eval_pass_over_the_training_graph(graph):
    cfg, data = graph
    model = _model(cfg, data, "heco_mean")
    inputs = model.prepare(**model_inputs(data))
    encoder = ColdStartEncoder(model, inputs)
    with torch.no_grad():
        output = model(inputs)
    expected = torch.stack([output.type_attention[t] for t in model.neighbour_types])
    assert torch.allclose(encoder.type_weights, expected)
    assert encoder.view == "schema"
    assert encoder([]).shape == (0, model.hidden_channels)


def test_paper_from_openalex_like_record(graph):
    _, data = graph
    lookup = neighbour_lookup(data)
    record = {
        "id": "https://openalex.org/w42",
        "authorships": [{"author": {"id": "3"}}, {"author": {"id": "7"}}, {"author": None}],
        "concepts": [{"id": "11", "level": 2}, {"id": "https://openalex.org/C999999"}],
        "topics": [{"id": "12"}],
        "features": [0.5] * data["paper"].x.size(1),
    }
    paper = paper_from_record(record, lookup)
    assert paper.paper_id == "W42"
    assert paper.neighbours["author"].tolist() == [3, 7]
    assert paper.neighbours["concept"].tolist() == [11, 12]
    assert paper.unknown == {"author": 0, "concept": 1}
    with pytest.raises(DataError, match="features"):
        paper_from_record({"id": "W1", "authors": ["3"]}, lookup)
    assert paper_from_record({"authors": ["3"]}, lookup, require_features=False).x is None


def test_mean_model_needs_no_paper_features_attention_model_does(graph):
    cfg, data = graph
    neighbours = _neighbours(data, 2)
    with_x = NewPaper(data["paper"].x[2], neighbours)
    without_x = NewPaper(None, neighbours)
    model = _model(cfg, data, "heco_mean")
    encoder = ColdStartEncoder(model, model.prepare(**model_inputs(data)))
    a, b = encoder([with_x, without_x])
    assert torch.equal(a, b)
    model = _model(cfg, data, "heco")
    encoder = ColdStartEncoder(model, model.prepare(**model_inputs(data)))
    with pytest.raises(DataError, match="features"):
        encoder([without_x])


def test_unknown_ids_do_not_change_the_embedding(graph):
    cfg, data = graph
    model = _model(cfg, data, "heco_mean")
    encoder = ColdStartEncoder(model, model.prepare(**model_inputs(data)))
    lookup = neighbour_lookup(data)
    x = data["paper"].x[3].tolist()
    neighbours = _neighbours(data, 3)
    record = {"features": x, "authors": [str(i) for i in neighbours["author"].tolist()],
              "concepts": [str(i) for i in neighbours["concept"].tolist()]}  # fmt: skip
    noisy = record | {"authors": [*record["authors"], "A_not_in_graph"]}
    a, b = encoder([paper_from_record(record, lookup), paper_from_record(noisy, lookup)])
    assert torch.allclose(a, b)


def test_normalise_id():
    assert normalise_id("https://openalex.org/W2741809807") == "W2741809807"
    assert normalise_id("w12") == "W12"
    assert normalise_id(5) == "5"


def test_known_authors_and_no_known_concepts_embed_without_error(graph):
    cfg, data = graph
    model = _model(cfg, data, "heco")
    encoder = ColdStartEncoder(model, model.prepare(**model_inputs(data)))
    empty = torch.empty(0, dtype=torch.long)
    paper = NewPaper(data["paper"].x[4], _neighbours(data, 4) | {"concept": empty})
    (vector,) = encoder([paper])
    assert torch.isfinite(vector).all() and vector.abs().sum() > 0


def test_all_neighbours_unknown_falls_back_to_features_or_fails_clearly(graph, caplog):
    cfg, data = graph
    empty = {t: torch.empty(0, dtype=torch.long) for t in data.neighbour_types}
    model = _model(cfg, data, "heco")
    encoder = ColdStartEncoder(model, model.prepare(**model_inputs(data)))
    (vector,) = encoder([NewPaper(data["paper"].x[5], empty, paper_id="W5")])
    assert torch.isfinite(vector).all() and vector.abs().sum() > 0
    assert "W5: no author or concept known to the graph" in caplog.text
    model = _model(cfg, data, "heco_mean")
    encoder = ColdStartEncoder(model, model.prepare(**model_inputs(data)))
    with pytest.raises(DataError, match="W5: none of its authors or concepts are in the graph"):
        encoder([NewPaper(None, empty, paper_id="W5")])
