"""Every tensor is created where its inputs live.

The inputs stay on the CPU while torch's default device is ``meta``: a tensor made
without ``device=`` (``torch.zeros(n)``, ``torch.arange(n)``) lands on ``meta``, and a
recording mode flags it even when nothing else would fail. The model and optimiser are
built before, as a user would on a GPU with ``model.to(device)``.
"""

from __future__ import annotations

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from heco_pyg.core.errors import ConfigError
from heco_pyg.core.runtime import preparation_device, resolve_device
from heco_pyg.data import load_synthetic
from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
from heco_pyg.nn import HeCo, HeCoMean
from heco_pyg.nn.sparse import Adjacency
from heco_pyg.retrieval.search import exact_topk
from heco_pyg.training.batches import PositiveIndex, positive_batches
from heco_pyg.training.embedding import embed
from heco_pyg.training.loss import HeCoLoss
from heco_pyg.training.trainer import Trainer


class StrayTensors(TorchFunctionMode):
    """Records the torch functions whose outputs landed on the fake default device."""

    def __init__(self) -> None:
        super().__init__()
        self.stray: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if any(isinstance(t, torch.Tensor) and t.is_meta for t in tree_flatten(out)[0]):
            self.stray.append(getattr(func, "__name__", repr(func)))
        return out


@pytest.fixture(scope="module")
def graph():
    return load_synthetic(preparation={"sample_sizes": {"author": 3, "concept": 3}},
                          num_papers=120, num_authors=150, num_concepts=100,
                          num_fields=3)  # fmt: skip


def _on_fake_default_device(work):
    recorder = StrayTensors()
    with torch.device("meta"), recorder:
        result = work()
    assert not recorder.stray, f"tensors created off their inputs' device: {recorder.stray}"
    return result


def test_adjacency_is_built_on_its_edges_device():
    edge_index = torch.tensor([[0, 0, 2], [1, 2, 0]])

    def work():
        adjacency = Adjacency.from_edges(edge_index, 3, 3).row_normalised()
        return adjacency.rows(torch.tensor([2, 0], device="cpu")).to_dense()

    assert _on_fake_default_device(work).tolist() == [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]


@pytest.mark.parametrize("model_class", [HeCo, HeCoMean])
@pytest.mark.parametrize("batch_size", [None, 40])
def test_prepare_fit_and_embed_create_nothing_off_device(graph, model_class, batch_size):
    torch.manual_seed(0)
    model = model_class(**model_arguments(graph), hidden_channels=8, metapath_sample_size=4
                        if model_class is HeCo and batch_size else None)  # fmt: skip
    trainer = Trainer(max_epochs=2, device="cpu", progress=False, batch_size=batch_size,
                      batch_positives=1 if batch_size else 0)  # fmt: skip
    inputs = _on_fake_default_device(lambda: model.prepare(**model_inputs(graph)))
    _on_fake_default_device(lambda: trainer.fit(model, HeCoLoss(), inputs, positive_index(graph)))
    schema, semantic, _ = _on_fake_default_device(lambda: embed(model, inputs, batch_size))
    assert schema.device.type == semantic.device.type == "cpu" and torch.isfinite(schema).all()
    scores, rows = _on_fake_default_device(lambda: exact_topk(semantic, semantic[:3], 5))
    assert rows.shape == (3, 5)


def test_positive_batches_follow_the_generator_device(graph):
    positives = PositiveIndex(positive_index(graph), graph["paper"].num_nodes)

    def work():
        generator = torch.Generator().manual_seed(0)
        return positive_batches(positives, 30, 2, generator)

    batches = _on_fake_default_device(work)
    assert sum(b.numel() for b in batches) >= graph["paper"].num_nodes


def test_auto_device_is_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_preparation_runs_on_the_gpu_only_when_it_has_room(monkeypatch):
    tensors = [torch.zeros(1000)]  # 4,000 bytes
    assert preparation_device(torch.device("cpu"), tensors) == torch.device("cpu")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (10**9, 10**10))
    assert preparation_device(torch.device("cuda"), tensors) == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (1000, 10**10))
    assert preparation_device(torch.device("cuda"), tensors) == torch.device("cpu")


def test_cuda_without_a_gpu_is_a_config_error_naming_the_key(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"^trainer\.device=cuda: .*trainer\.device=cpu$"):
        resolve_device("cuda")
