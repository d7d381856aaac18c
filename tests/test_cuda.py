"""On a GPU: prepare, full-batch and mini-batch steps, embed and recommend, compared with
the CPU to a tolerance. Marked ``cuda``: skipped where CUDA is absent (tests/conftest.py).

The comparisons use ``HeCoMean`` without dropout (no random draws, so both devices
compute the same function); ``HeCo`` samples on the device's own generator, so its GPU
run is checked for finite, decreasing losses instead.
"""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf, open_dict

from heco_pyg.data import load_synthetic
from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
from heco_pyg.data.pipeline import prepare_paper_graph
from heco_pyg.data.synthetic import generate_synthetic
from heco_pyg.nn import HeCo, HeCoMean
from heco_pyg.recommend import recommend
from heco_pyg.retrieval.search import exact_topk
from heco_pyg.train import train
from heco_pyg.training.embedding import embed
from heco_pyg.training.loss import HeCoLoss
from heco_pyg.training.trainer import Trainer
from tests.conftest import TINY_SYNTHETIC, compose_config

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def graph():
    return load_synthetic(preparation={"sample_sizes": {"author": 3, "concept": 3}},
                          num_papers=300, num_authors=400, num_concepts=200,
                          num_fields=3)  # fmt: skip


def _fit_mean(graph, device: str, batch_size: int | None):
    torch.manual_seed(0)
    model = HeCoMean(**model_arguments(graph), hidden_channels=16, feature_dropout=0.0,
                     attention_dropout=0.0)  # fmt: skip
    inputs = model.prepare(**model_inputs(graph, device))
    trainer = Trainer(max_epochs=3, device=device, progress=False, lr=0.01,
                      batch_size=batch_size, batch_positives=2 if batch_size else 0)  # fmt: skip
    trainer.fit(model, HeCoLoss(), inputs, positive_index(graph))
    schema, semantic, _ = embed(model, inputs, batch_size)
    return [r.loss for r in trainer.history], schema, semantic


def test_graph_preparation_of_a_gpu_graph_matches_the_cpu():
    raw = generate_synthetic(num_papers=200, num_authors=300, num_concepts=150, num_fields=3)
    sizes = {"author": 3, "concept": 3}
    cpu, gpu = prepare_paper_graph(raw, sizes), prepare_paper_graph(raw.to("cuda"), sizes)
    assert gpu.positive_index.is_cuda and torch.equal(gpu.positive_index.cpu(), cpu.positive_index)
    for name in cpu.metapaths:
        edge_type = ("paper", name, "paper")
        assert torch.equal(gpu[edge_type].edge_index.cpu(), cpu[edge_type].edge_index)


def test_prepare_on_the_gpu_matches_the_cpu(graph):
    model = HeCoMean(**model_arguments(graph), hidden_channels=8)
    cpu = model.prepare(**model_inputs(graph))
    gpu = model.prepare(**model_inputs(graph, "cuda"))
    for name, value in cpu.aggregated.items():
        assert gpu.aggregated[name].is_cuda
        torch.testing.assert_close(gpu.aggregated[name].cpu(), value, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("batch_size", [None, 100])
def test_steps_and_embeddings_on_the_gpu_match_the_cpu(graph, batch_size):
    cpu_losses, cpu_schema, cpu_semantic = _fit_mean(graph, "cpu", batch_size)
    gpu_losses, gpu_schema, gpu_semantic = _fit_mean(graph, "cuda", batch_size)
    assert gpu_losses == pytest.approx(cpu_losses, rel=1e-3)
    torch.testing.assert_close(gpu_schema, cpu_schema, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(gpu_semantic, cpu_semantic, atol=1e-3, rtol=1e-3)
    cpu_top = exact_topk(cpu_semantic, cpu_semantic[:20], 5)[0]
    gpu_top = exact_topk(gpu_semantic.cuda(), gpu_semantic[:20].cuda(), 5)[0]
    torch.testing.assert_close(gpu_top.cpu(), cpu_top, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("batch_size", [None, 100])
def test_attention_model_trains_on_the_gpu(graph, batch_size):
    torch.manual_seed(0)
    model = HeCo(**model_arguments(graph), hidden_channels=16,
                 metapath_sample_size=8 if batch_size else None)  # fmt: skip
    inputs = model.prepare(**model_inputs(graph, "cuda"))
    trainer = Trainer(max_epochs=5, device="cuda", progress=False, lr=0.01,
                      batch_size=batch_size, batch_positives=2 if batch_size else 0)  # fmt: skip
    trainer.fit(model, HeCoLoss(), inputs, positive_index(graph))
    losses = [r.loss for r in trainer.history]
    assert all(torch.isfinite(torch.tensor(losses))) and min(losses[1:]) < losses[0]
    schema, semantic, _ = embed(model, inputs, batch_size)
    assert torch.isfinite(schema).all() and torch.isfinite(semantic).all()


def test_train_and_recommend_commands_on_the_gpu(tmp_path):
    cfg = compose_config([*TINY_SYNTHETIC, "logger=none", "trainer.device=cuda"])
    with open_dict(cfg):
        cfg.paths.data_dir = str(tmp_path / "data")
        cfg.paths.output_dir = str(tmp_path / "run")
    (tmp_path / "run" / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, tmp_path / "run" / ".hydra" / "config.yaml")
    metrics = train(cfg, tmp_path / "run")
    assert metrics["epochs"] == 3
    results = recommend(compose_config([f"run_dir={tmp_path / 'run'}", "query=0", "k=5"],
                                       name="recommend"))  # fmt: skip
    assert len(results) == 1


def test_an_out_of_core_graph_trains_mini_batches_on_the_gpu_with_its_entries_on_the_host(
    tmp_path,
):
    from tests.data.test_out_of_core import small_graph

    data = prepare_paper_graph(small_graph(), {"author": 2, "concept": 2}, workdir=tmp_path)
    torch.manual_seed(0)
    model = HeCo(**model_arguments(data), hidden_channels=8, metapath_sample_size=4)
    inputs = model.prepare(**model_inputs(data))
    trainer = Trainer(max_epochs=2, batch_size=128, device="cuda", progress=False)
    trainer.fit(model, HeCoLoss(), inputs, positive_index(data))
    assert all(torch.isfinite(torch.tensor([r.loss for r in trainer.history])))
    moved = inputs.to("cuda").metapaths["PAP"].adjacency
    assert moved.rowptr.is_cuda and not moved.col.is_cuda
