"""2-process data-parallel training on CPU (gloo) equals one process that sees the same
global batches (each step: the mean loss of the batches the ranks took): dense and sparse
embedding gradients, random and positive-aware batches. A 2-process run stopped inside an
epoch (one rank asked) and resumed by 2 processes ends where it ends uninterrupted."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as multiprocessing

from heco_pyg.data import load_synthetic
from heco_pyg.data.graph import model_arguments, model_inputs
from heco_pyg.nn import HeCoMean
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.training.batches import PositiveIndex
from heco_pyg.training.loss import HeCoLoss
from heco_pyg.training.objective import Objective
from heco_pyg.training.trainer import Trainer

BATCH, WORLD = 50, 2
# (sparse_embeddings, batch_positives): dense and sparse embedding gradients (SparseAdam),
# random and positive-aware batches. One spawn trains them all.
CASES = {"dense": (False, 0), "sparse-embeddings": (True, 0), "positive-batches": (False, 2)}


def build(sparse_embeddings=False):
    torch.manual_seed(0)
    data = load_synthetic(preparation={"sample_sizes": {"author": 3, "concept": 3}}, num_papers=300, num_authors=300,
                          num_concepts=150, num_fields=3)  # fmt: skip
    model = HeCoMean(**model_arguments(data), hidden_channels=16, feature_dropout=0.0,
                     attention_dropout=0.0,
                 sparse_embeddings=sparse_embeddings)  # fmt: skip
    inputs = model.prepare(**model_inputs(data))
    return data, model, inputs, data.positive_index


def trainer(**kwargs):
    return Trainer(lr=0.01, max_epochs=1, patience=10, batch_size=BATCH, device="cpu",
                   threads=1, progress=False, seed=0, **kwargs)  # fmt: skip


def rank_main(rank, port, folder):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))  # fmt: skip
    for name, (sparse_embeddings, batch_positives) in CASES.items():
        _, model, inputs, positives = build(sparse_embeddings)
        trainer(distributed=True, backend="gloo", batch_positives=batch_positives).fit(
            model, HeCoLoss(0.5, 0.5), inputs, positives
        )
        if rank == 0:
            torch.save(model.state_dict(), os.path.join(folder, f"{name}.pt"))
    torch.distributed.destroy_process_group()


def resume_main(rank, port, folder):
    """Uninterrupted, stopped (rank 1 asks after its 4th step; rank 0 saves), resumed: 2
    epochs of 9 steps per rank, sparse embedding gradients and positive-aware batches."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))  # fmt: skip
    store = RunDir(os.path.join(folder, "run"))
    asked = []
    ask = lambda: rank == 1 and len(asked.append(1) or asked) == 4  # noqa: E731
    for name, options in (("uninterrupted", {}), ("stopped", {"should_stop": ask}),
                          ("resumed", {"resume": True})):  # fmt: skip
        should_stop = options.pop("should_stop", None)
        _, model, inputs, positives = build(sparse_embeddings=True)
        torch.manual_seed(10 + rank)  # the ranks' dropout draws differ
        fitter = Trainer(lr=0.01, max_epochs=2, patience=10, batch_size=BATCH, device="cpu",
                         threads=1, progress=False, seed=0, distributed=True, backend="gloo",
                         batch_positives=2, checkpoints=store if name != "uninterrupted" else None,
                         checkpoint_every=0, **options)  # fmt: skip
        fitter.fit(model, HeCoLoss(0.5, 0.5), inputs, positives, should_stop=should_stop)
        assert fitter.stopped == (name == "stopped")
        torch.save({"model": model.state_dict(), "history": [r.loss for r in fitter.history],
                    "rng": torch.get_rng_state(), "at": (fitter.state.epoch, fitter.state.step)},
                   os.path.join(folder, f"{name}-{rank}.pt"))  # fmt: skip
    torch.distributed.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def distributed_states(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    multiprocessing.spawn(rank_main, args=(free_port(), str(folder)), nprocs=WORLD, join=True)
    return {name: torch.load(folder / f"{name}.pt") for name in CASES}


@pytest.mark.parametrize("case", list(CASES))
def test_two_process_ddp_equals_one_process_on_the_same_global_batches(distributed_states, case):
    distributed = distributed_states[case]
    sparse_embeddings, batch_positives = CASES[case]

    _, model, inputs, positive_index = build(sparse_embeddings)
    objective = Objective(model, HeCoLoss(0.5, 0.5))
    positives = PositiveIndex(positive_index, inputs.num_nodes)
    reference_trainer = trainer(batch_positives=batch_positives)
    optimizers = reference_trainer.make_optimizers(model)  # AdamW; SparseAdam for sparse tables
    assert len(optimizers) == 1 + sparse_embeddings
    dense = optimizers[0].param_groups[0]["params"]
    batches = reference_trainer.batches(inputs.num_nodes, epoch=1, positives=positives)
    for step in range(len(batches) // WORLD):  # the global order, one rank
        for optimizer in optimizers:
            optimizer.zero_grad()
        # DDP's order of operations: each rank's gradient, then their sum / WORLD (summing
        # the losses first differs by rounding, which Adam amplifies on near-zero gradients).
        for index in batches[step * WORLD : (step + 1) * WORLD]:
            objective(inputs, index, positives.batch(index))[0].loss.backward()
        for parameter in model.parameters():
            if parameter.grad is not None:
                parameter.grad.div_(WORLD)
        torch.nn.utils.clip_grad_norm_(dense, 5.0)
        for optimizer in optimizers:
            optimizer.step()

    reference, initial = model.state_dict(), build(sparse_embeddings)[1].state_dict()
    assert distributed.keys() == reference.keys()
    changed = set()
    for key, value in reference.items():
        difference = (distributed[key] - value).abs().max()
        assert difference <= 1e-6, (key, difference)
        if not torch.equal(value, initial[key]):
            changed.add(key)
    assert changed  # training moved the parameters
    tables = {k for k in reference if "embedding" in k}
    assert tables and tables <= changed  # ... the embedding tables included


def test_nccl_with_sparse_embeddings_fails_before_training():
    _, model, inputs, positives = build(sparse_embeddings=True)
    ddp = trainer(distributed=True, backend="nccl")
    with pytest.raises(ValueError, match="model.sparse_embeddings=false"):
        ddp.fit(model, HeCoLoss(0.5, 0.5), inputs, positives)
    assert not torch.distributed.is_initialized()


def test_a_gpu_rank_sets_its_device_before_joining_the_group_with_it(monkeypatch):
    """NCCL's order (no GPU needed: the calls are recorded): ``set_device(cuda:LOCAL_RANK)``,
    then ``init_process_group(..., device_id=cuda:LOCAL_RANK)``; CPU ranks pass no device."""
    from heco_pyg.training import distributed

    calls = []
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(("set_device", d)))
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group",
                        lambda backend, device_id=None: calls.append((backend, device_id)))  # fmt: skip
    monkeypatch.setattr(distributed.dist, "get_rank", lambda: 1)
    monkeypatch.setattr(distributed.dist, "get_world_size", lambda: 2)
    gpu = torch.device("cuda", 1)
    assert distributed.init_process_group("nccl", torch.device("cuda")) == (1, 2, gpu)
    assert calls == [("set_device", gpu), ("nccl", gpu)]
    calls.clear()
    assert distributed.init_process_group("gloo", torch.device("cpu"))[2].type == "cpu"
    assert calls == [("gloo", None)]


def test_auto_threads_leaves_the_busy_cores_alone():
    from heco_pyg.core.runtime import auto_threads

    assert auto_threads(cpus=2, load=0.0) == 2  # idle: every core
    assert auto_threads(cpus=2, load=2.0) == 1  # two busy jobs on two cores: one thread
    assert auto_threads(cpus=2, load=7.5) == 1  # never below one
    assert auto_threads(cpus=8, load=2.4) == 6
    assert auto_threads(cpus=8, load=0.3) == 8


def test_configure_threads_auto_decides_once_per_process():
    from heco_pyg.core.runtime import available_cpus, configure_threads

    before = torch.get_num_threads()
    try:
        chosen = configure_threads("auto")
        assert 1 <= chosen <= available_cpus()
        assert configure_threads(before) == before
        assert configure_threads("auto") == chosen  # not re-decided under this run's own load
    finally:
        torch.set_num_threads(before)


def test_only_rank_zero_logs_info(monkeypatch):
    import logging

    from heco_pyg.core.runtime import quiet_other_ranks

    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.INFO)
    quiet_other_ranks()  # rank 0 (no RANK set): unchanged
    assert root.level == logging.INFO
    monkeypatch.setenv("RANK", "1")
    quiet_other_ranks()
    assert root.level == logging.WARNING


def test_two_process_run_stopped_and_resumed_equals_uninterrupted(tmp_path):
    multiprocessing.spawn(resume_main, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    saved = RunDir(tmp_path / "run").last_state()
    assert saved["world_size"] == WORLD and len(saved["ranks"]) == WORLD  # every rank's RNGs
    for rank in range(WORLD):  # both stopped after the 4th step of epoch 1
        assert torch.load(tmp_path / f"stopped-{rank}.pt")["at"] == (0, 4)
        uninterrupted, resumed = (torch.load(tmp_path / f"{name}-{rank}.pt")
                                  for name in ("uninterrupted", "resumed"))  # fmt: skip
        assert resumed["history"] == uninterrupted["history"] and len(resumed["history"]) == 2
        assert torch.equal(resumed["rng"], uninterrupted["rng"])
        for key, value in uninterrupted["model"].items():
            assert torch.equal(resumed["model"][key], value), (rank, key)
