"""The training loop: early stopping, the best state, checkpoints, the NaN guard, the
batches of one epoch and which embedding rows a mini-batch step updates."""

import math

import pytest
import torch

from heco_pyg.data import load_synthetic
from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
from heco_pyg.nn import HeCo, HeCoMean
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.training.batches import step_inputs
from heco_pyg.training.loss import HeCoLoss
from heco_pyg.training.trainer import NonFiniteLossError, Trainer
from tests.training.test_batches import clustered_positives


@pytest.fixture(scope="module")
def graph():
    return load_synthetic(preparation={"sample_sizes": {"author": 3, "concept": 3}},
                          num_papers=200, num_authors=400, num_concepts=150,
                          num_fields=3)  # fmt: skip


def _mean_model(data, dropout=0.3):
    torch.manual_seed(0)
    model = HeCoMean(**model_arguments(data), hidden_channels=8, feature_dropout=dropout,
                     attention_dropout=dropout)  # fmt: skip
    return model, model.prepare(**model_inputs(data)), positive_index(data)


def test_fit_keeps_the_best_state_and_writes_it_as_the_checkpoint(graph, tmp_path):
    model, inputs, positives = _mean_model(graph)
    run = RunDir(tmp_path)
    trainer = Trainer(max_epochs=6, patience=100, device="cpu", progress=False, lr=0.01,
                      checkpoints=run)  # fmt: skip
    trainer.fit(model, HeCoLoss(), inputs, positives)
    losses = [record.loss for record in trainer.history]
    assert len(losses) == 6 and trainer.best_loss == min(losses)
    assert trainer.best_epoch == losses.index(min(losses)) + 1
    saved = torch.load(run.checkpoint, weights_only=True)
    assert saved["epoch"] == trainer.best_epoch
    for name, value in model.state_dict().items():  # the model ends with the best weights
        assert torch.equal(saved["model"][name], value), name


class RecordingStore:
    """A :class:`CheckpointStore` that keeps the order of its writes in memory."""

    def __init__(self):
        self.writes, self.best = [], None

    def save_best(self, state):
        self.writes.append("best")
        self.best = state

    def save_last(self, state):
        self.writes.append("last")

    def last_state(self):
        return None


def test_the_best_state_is_written_with_the_training_state_not_at_every_improvement(graph):
    model, inputs, positives = _mean_model(graph)
    store = RecordingStore()
    trainer = Trainer(max_epochs=6, patience=100, device="cpu", progress=False, lr=0.01,
                      checkpoints=store, checkpoint_every=3)  # fmt: skip
    trainer.fit(model, HeCoLoss(), inputs, positives)
    assert store.writes.count("last") == 2  # epochs 3 and 6
    assert store.writes.count("best") <= 2  # however many epochs improved
    assert all(store.writes[i + 1] == "last" for i, w in enumerate(store.writes) if w == "best")
    assert store.best["epoch"] == trainer.best_epoch


def test_patience_stops_after_that_many_epochs_without_improvement(graph):
    model, inputs, positives = _mean_model(graph, dropout=0.0)
    trainer = Trainer(max_epochs=50, patience=2, device="cpu", progress=False, lr=0.0)
    trainer.fit(model, HeCoLoss(), inputs, positives)  # lr 0, no dropout: the same loss
    assert trainer.best_epoch == 1 and len(trainer.history) == 3


def test_a_non_finite_loss_stops_with_the_best_state_kept(graph):
    model, inputs, positives = _mean_model(graph)

    class ExplodingLoss(HeCoLoss):
        calls = 0

        def forward(self, *args):
            parts = super().forward(*args)
            ExplodingLoss.calls += 1
            if ExplodingLoss.calls == 3:
                return type(parts)(*(p * math.nan for p in parts))
            return parts

    trainer = Trainer(max_epochs=10, device="cpu", progress=False, lr=0.01)
    with pytest.raises(NonFiniteLossError, match="epoch 3"):
        trainer.fit(model, ExplodingLoss(), inputs, positives)
    assert trainer.best_epoch in (1, 2)


def test_ranks_share_one_global_order_of_positive_batches():
    positives = clustered_positives()

    def share(rank, world_size):
        trainer = Trainer(batch_size=40, batch_positives=4, device="cpu", seed=3)
        trainer.rank, trainer.world_size = rank, world_size
        return trainer.batches(600, epoch=2, positives=positives)

    single, rank0, rank1 = share(0, 1), share(0, 2), share(1, 2)
    assert len(rank0) == len(rank1) == len(single) // 2
    for step, (a, b) in enumerate(zip(rank0, rank1, strict=True)):
        assert torch.equal(a, single[2 * step]) and torch.equal(b, single[2 * step + 1])


def test_batches_and_their_positives_are_cut_on_the_host_then_moved_once():
    """The training device is ``meta`` here, a device that is not the host (no GPU needed):
    ``batches()`` must stay on the host, where ``step_inputs`` cuts the positives, and
    only the step's inputs go to the device. What it cannot catch: CUDA kernels, a tensor
    the model creates on the wrong device, the timing of non-blocking copies (the
    ``cuda``-marked tests in tests/test_cuda.py do, on a GPU)."""
    positives = clustered_positives()
    trainer = Trainer(batch_size=40, batch_positives=4, device="cpu", seed=3)
    trainer.device = torch.device("meta")
    batches = trainer.batches(600, epoch=1, positives=positives)
    assert batches and all(b.device.type == "cpu" for b in batches)
    index, pairs = step_inputs(batches[0], positives, positives, trainer.device)
    assert index.device.type == pairs.device.type == "meta"
    assert pairs.shape == positives.batch(batches[0]).shape


def test_step_inputs_go_to_a_cuda_device_pinned_and_without_waiting(monkeypatch):
    """The CUDA copy, with ``Tensor.pin_memory`` and ``Tensor.to`` patched (no GPU needed):
    host tensors are pinned, then copied non-blocking, once each."""
    calls = []

    def pin_memory(tensor):
        calls.append(("pin", tensor.device.type))
        return tensor

    def to(tensor, device, non_blocking=False):
        calls.append(("to", str(device), non_blocking))
        return tensor

    positives = clustered_positives()
    trainer = Trainer(batch_size=40, batch_positives=4, device="cpu", seed=3)
    host_index = trainer.batches(600, epoch=1, positives=positives)[0]
    trainer.device = torch.device("cuda", 0)
    monkeypatch.setattr(torch.Tensor, "pin_memory", pin_memory)
    monkeypatch.setattr(torch.Tensor, "to", to)
    step_inputs(host_index, positives, positives, trainer.device)
    assert calls == [("pin", "cpu"), ("to", "cuda:0", True)] * 2


def test_batch_positives_need_the_positive_index():
    with pytest.raises(ValueError, match="positive index"):
        Trainer(batch_size=40, batch_positives=2, device="cpu").batches(600, epoch=1)
    with pytest.raises(ValueError, match=">= 0"):
        Trainer(batch_size=40, batch_positives=-1)


def test_training_updates_only_the_rows_a_mini_batch_read(graph):
    data = graph
    torch.manual_seed(0)
    model = HeCo(**model_arguments(data), hidden_channels=8, sparse_embeddings=True,
                 metapath_sample_size=4)  # fmt: skip
    before = model.projection.embeddings["author"].weight.detach().clone()
    inputs = model.prepare(**model_inputs(data))
    trainer = Trainer(max_epochs=1, batch_size=100, device="cpu", progress=False, lr=0.01)
    trainer.fit(model, HeCoLoss(), inputs, positive_index(data))
    changed = (model.projection.embeddings["author"].weight != before).any(dim=1)
    assert 0 < int(changed.sum()) < 400  # sampled authors moved, the others did not
