"""2-process data-parallel training on CPU (gloo) equals one process that sees the same
global batches (each step: the mean loss of the batches the ranks took)."""

import os
import socket

import torch
import torch.multiprocessing as multiprocessing

from heco_pyg.data import load_synthetic
from heco_pyg.data.graph import model_arguments, model_inputs
from heco_pyg.loss import HeCoLoss, PositiveIndex
from heco_pyg.nn import HeCo
from heco_pyg.trainer import Objective, Trainer

BATCH, WORLD = 50, 2


def build():
    torch.manual_seed(0)
    data = load_synthetic(sample_sizes={"author": 3, "concept": 3}, num_papers=300, num_authors=300,
                          num_concepts=150, num_fields=3)  # fmt: skip
    model = HeCo(**model_arguments(data), hidden_channels=16, feature_dropout=0.0,
                 attention_dropout=0.0, aggregation="mean")  # fmt: skip
    inputs = model.prepare(**model_inputs(data))
    return data, model, inputs, data["paper", "positive", "paper"].edge_index


def trainer(**kwargs):
    return Trainer(lr=0.01, max_epochs=1, patience=10, batch_size=BATCH, device="cpu",
                   threads=1, progress=False, seed=0, **kwargs)  # fmt: skip


def rank_main(rank, port, path):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))  # fmt: skip
    _, model, inputs, positives = build()
    trainer(distributed=True, backend="gloo").fit(model, HeCoLoss(0.5, 0.5), inputs, positives)
    if rank == 0:
        torch.save(model.state_dict(), path)
    torch.distributed.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_equals_one_process_on_the_same_global_batches(tmp_path):
    path = tmp_path / "ddp.pt"
    multiprocessing.spawn(rank_main, args=(free_port(), str(path)), nprocs=WORLD, join=True)
    distributed = torch.load(path)

    _, model, inputs, positive_index = build()
    objective = Objective(model, HeCoLoss(0.5, 0.5))
    positives = PositiveIndex(positive_index, inputs.num_nodes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.0)
    batches = trainer().batches(inputs.num_nodes, epoch=1)  # the global order, one rank
    for step in range(len(batches) // WORLD):
        optimizer.zero_grad()
        pair = batches[step * WORLD : (step + 1) * WORLD]
        loss = sum(objective(inputs, b, positives.batch(b))[0].loss for b in pair) / WORLD
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()

    reference = model.state_dict()
    assert distributed.keys() == reference.keys()
    changed = 0
    for key, value in reference.items():
        assert torch.allclose(distributed[key], value, atol=1e-6), key
        changed += int(not torch.equal(value, build()[1].state_dict()[key]))
    assert changed > 0  # training moved the parameters
