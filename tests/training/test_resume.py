"""Resuming the training loop: a run stopped (by request, or by a crash inside a checkpoint
write) and resumed from its saved state ends exactly where the same run uninterrupted
ends: the same weights, the same best state, the same history (but for the seconds)."""

import dataclasses

import pytest
import torch

from heco_pyg.core import atomic
from heco_pyg.data import load_synthetic
from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
from heco_pyg.nn import HeCo
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.training.loss import HeCoLoss
from heco_pyg.training.state import TrainingState
from heco_pyg.training.trainer import Trainer

EPOCHS = 4
# Full batch; mini-batches with positive-aware batches and a sparse author table (SparseAdam).
MODES = {
    "full batch": dict(batch_size=None),
    "mini-batch": dict(batch_size=64, batch_positives=2, sparse=True),
    # The stable recipe's stabiliser: its smoothing window and weight average resume too.
    "stable": dict(batch_size=None, ema_decay=0.5, smoothing=2, min_delta=0.001),
}


@pytest.fixture(scope="module")
def graph():
    return load_synthetic(preparation={"sample_sizes": {"author": 3, "concept": 3}},
                          num_papers=200, num_authors=400, num_concepts=150,
                          num_fields=3)  # fmt: skip


class Epochs:
    """An ``on_epoch`` with state: the epochs it saw."""

    def __init__(self):
        self.seen = []

    def __call__(self, record, output):
        self.seen.append(record.epoch)

    def state_dict(self):
        return {"seen": list(self.seen)}

    def load_state_dict(self, state):
        self.seen = list(state["seen"])


class StopAfter:
    """``should_stop`` that says yes at its ``calls``-th question (after that many steps)."""

    def __init__(self, calls):
        self.calls, self.asked = calls, 0

    def __call__(self):
        self.asked += 1
        return self.asked >= self.calls


def fit(graph, mode, store=None, resume=False, should_stop=None, checkpoint_every=1):
    settings = dict(MODES[mode])
    sparse = settings.pop("sparse", False)
    torch.manual_seed(0)
    model = HeCo(**model_arguments(graph), hidden_channels=16, sparse_embeddings=sparse)
    inputs = model.prepare(**model_inputs(graph))
    trainer = Trainer(lr=0.01, max_epochs=EPOCHS, patience=100, device="cpu", threads=1,
                      progress=False, seed=0, checkpoints=store, resume=resume,
                      checkpoint_every=checkpoint_every, **settings)  # fmt: skip
    torch.manual_seed(1)  # the global RNG (dropout, neighbour samples) as fit finds it
    epochs = Epochs()
    trainer.fit(model, HeCoLoss(), inputs, positive_index(graph),
                on_epoch=epochs, should_stop=should_stop)  # fmt: skip
    return trainer, model, epochs


@pytest.fixture(scope="module")
def uninterrupted(graph):
    return {mode: fit(graph, mode) for mode in MODES}


def assert_same_run(resumed, reference):
    (trainer, model, epochs), (trainer_ref, model_ref, epochs_ref) = resumed, reference
    for name, value in model_ref.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    assert (trainer.best_epoch, trainer.best_loss) == (
        trainer_ref.best_epoch,
        trainer_ref.best_loss,
    )
    without_seconds = lambda r: {k: v for k, v in dataclasses.asdict(r).items() if k != "seconds"}
    assert [without_seconds(r) for r in trainer.history] == [
        without_seconds(r) for r in trainer_ref.history
    ]
    assert epochs.seen == epochs_ref.seen == list(range(1, EPOCHS + 1))


@pytest.mark.parametrize("mode", list(MODES))
def test_stopped_and_resumed_equals_uninterrupted(graph, uninterrupted, tmp_path, mode):
    store = RunDir(tmp_path)
    # Full batch: after epoch 2; mini-batch (about 10 steps an epoch): inside epoch 2.
    calls = 14 if mode == "mini-batch" else 2
    stopped, _, _ = fit(graph, mode, store, should_stop=StopAfter(calls), checkpoint_every=0)
    assert stopped.stopped and len(stopped.history) < EPOCHS
    saved = store.last_state()["loop"]
    assert (saved["epoch"], saved["step"] > 0) == (
        (1, True) if mode == "mini-batch" else (2, False)
    )
    if mode == "stable":  # the window and the average are part of the saved state
        assert len(saved["stopping"]["recent"]) == 2 and saved["average"] is not None
    assert_same_run(fit(graph, mode, store, resume=True), uninterrupted[mode])


@pytest.mark.parametrize("mode", list(MODES))
def test_a_crash_inside_a_checkpoint_write_keeps_the_last_state_and_resumes(
    graph, uninterrupted, tmp_path, monkeypatch, mode
):
    store = RunDir(tmp_path)
    save, writes = atomic.torch.save, []

    def crashing(state, handle):  # the third training state is cut off halfway
        if "optimizers" in state:
            writes.append(state["loop"]["epoch"])
            if len(writes) == 3:
                handle.write(b"PK\x03\x04 half a file")
                raise KeyboardInterrupt
        save(state, handle)

    monkeypatch.setattr(atomic.torch, "save", crashing)
    with pytest.raises(KeyboardInterrupt):
        fit(graph, mode, store)
    monkeypatch.setattr(atomic.torch, "save", save)
    assert store.last_state()["loop"]["epoch"] == 2  # the previous state, loadable
    assert_same_run(fit(graph, mode, store, resume=True), uninterrupted[mode])


def test_resume_without_a_saved_state_starts_at_the_first_epoch(graph, uninterrupted, tmp_path):
    assert_same_run(fit(graph, "full batch", RunDir(tmp_path), resume=True),
                    uninterrupted["full batch"])  # fmt: skip


def test_a_finished_run_resumes_to_the_same_end(graph, uninterrupted, tmp_path):
    store = RunDir(tmp_path)
    fit(graph, "full batch", store, checkpoint_every=0)  # saves its final state
    assert store.last_state()["loop"]["epoch"] == EPOCHS
    assert_same_run(fit(graph, "full batch", store, resume=True), uninterrupted["full batch"])


def test_another_number_of_processes_is_refused(graph, tmp_path):
    store = RunDir(tmp_path)
    fit(graph, "full batch", store)
    state = store.last_state() | {"world_size": 2}
    store.save_last(state)
    with pytest.raises(ValueError, match="trained by 2 processes and is resumed by 1"):
        fit(graph, "full batch", store, resume=True)


def test_training_state_round_trips_and_takes_new_fields():
    state = TrainingState(epoch=3, step=2, totals=torch.ones(3), best_epoch=2, best_loss=1.5,
                          best_model={"w": torch.zeros(2)}, stale=1)  # fmt: skip
    again = TrainingState.from_state_dict(state.state_dict(), torch.device("cpu"))
    assert again.epoch == 3 and again.step == 2 and torch.equal(again.totals, torch.ones(3))
    assert again.best_loss == 1.5 and torch.equal(again.best_model["w"], torch.zeros(2))
    older = {k: v for k, v in state.state_dict().items() if k != "stale"}  # saved before "stale"
    assert TrainingState.from_state_dict(older, torch.device("cpu")).stale == 0


def test_max_epochs_must_be_positive():
    with pytest.raises(ValueError, match="trainer.max_epochs must be >= 1"):
        Trainer(max_epochs=0)
