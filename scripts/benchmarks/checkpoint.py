"""Cost of checkpointing: seconds per training-state write (``last.pt``: the model, the best
model, the optimizer moments, the loop state; atomic: temporary file, fsync, rename) and
per best-model write (``checkpoint.pt``), their sizes and the seconds to load the state
back, so users can choose ``trainer.checkpoint_every``.

    python scripts/bench.py checkpoint --shape notebook 1m

``notebook``: the notebook's graph (5,000 papers, 32,161 authors; ``epoch.py``), the
default model (``model=heco``, full batch, dense author table and AdamW), the states the
trainer writes while it fits. ``1m``: the model state of the 1M-paper graph (2M authors,
60k concepts; ``scale.py``) under the mini-batch recipe (sparse author table, SparseAdam),
built without the graph: the same parameters and optimizer moments, one step taken.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks._common import machine, peak_memory_mib
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.training import checkpoint
from heco_pyg.training.state import TrainingState
from heco_pyg.training.trainer import Trainer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shape", nargs="*", choices=["notebook", "1m"], default=["notebook", "1m"]
    )
    parser.add_argument("--repeats", type=int, default=5, help="writes timed per shape")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the files go (default: a temporary folder)")  # fmt: skip


class TimedRun(RunDir):
    """A run folder that times its checkpoint writes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.seconds: dict[str, list[float]] = {"best": [], "last": []}

    def save_best(self, state) -> None:
        start = time.perf_counter()
        super().save_best(state)
        self.seconds["best"].append(time.perf_counter() - start)

    def save_last(self, state) -> None:
        start = time.perf_counter()
        super().save_last(state)
        self.seconds["last"].append(time.perf_counter() - start)


def notebook(run: TimedRun, args: argparse.Namespace) -> str:
    """A full-batch fit of ``repeats`` epochs that saves its state every epoch."""
    from benchmarks.epoch import NOTEBOOK_SHAPE
    from heco_pyg.data import load_synthetic
    from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
    from heco_pyg.nn import HeCo
    from heco_pyg.training.loss import HeCoLoss

    data = load_synthetic(preparation={"sample_sizes": {"author": 6, "concept": 8}},
                          **NOTEBOOK_SHAPE)  # fmt: skip
    torch.manual_seed(0)
    model = HeCo(**model_arguments(data))
    inputs = model.prepare(**model_inputs(data))
    trainer = Trainer(max_epochs=args.repeats, patience=100, device="cpu", progress=False,
                      checkpoints=run, checkpoint_every=1)  # fmt: skip
    trainer.fit(model, HeCoLoss(), inputs, positive_index(data))
    epoch = statistics.median(r.seconds for r in trainer.history)
    return f"{epoch:.2f} s (full batch)"


def one_million(run: TimedRun, args: argparse.Namespace) -> str:
    """The 1M-paper model state after one mini-batch step, saved ``repeats`` times."""
    from heco_pyg.nn import HeCo

    torch.manual_seed(0)
    model = HeCo(target="paper", in_channels={"paper": 832, "concept": 768},
                 num_nodes={"author": 2_000_000}, neighbour_types=["author", "concept"],
                 metapaths=["PAP", "PCP"], sample_sizes={"author": 6, "concept": 8},
                 metapath_sample_size=16, sparse_embeddings=True)  # fmt: skip
    trainer = Trainer(batch_size=1024, device="cpu", progress=False, checkpoints=run)
    optimizers = trainer.make_optimizers(model)
    sparse = {id(p) for p in optimizers[-1].param_groups[0]["params"]}
    for parameter in model.parameters():  # one step: the moments exist, as after training
        if id(parameter) in sparse:  # the author table
            rows = torch.randint(0, parameter.size(0), (1024,))
            parameter.grad = torch.sparse_coo_tensor(
                rows[None], torch.randn(1024, parameter.size(1)), parameter.shape
            ).coalesce()
        else:
            parameter.grad = torch.randn_like(parameter)
    for optimizer in optimizers:
        optimizer.step()
    trainer.state = TrainingState(epoch=1, best_epoch=1, best_loss=5.0,
                                  best_model=copy.deepcopy(model.state_dict()))  # fmt: skip
    for _ in range(args.repeats):
        checkpoint.save_best(run, trainer.state)
        checkpoint.save_last(run, trainer.state, model, optimizers)
    return '~180 s (mini-batch, BENCHMARKS.md "Scale")'


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    print("| shape | last.pt MiB | s per last.pt write | s to load it | checkpoint.pt MiB | "
          "s per checkpoint.pt write | s per epoch | peak MiB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for shape in args.shape:
        with tempfile.TemporaryDirectory(dir=args.dir) as folder:
            run_dir = TimedRun(Path(folder) / shape)
            epoch = (notebook if shape == "notebook" else one_million)(run_dir, args)
            start = time.perf_counter()
            run_dir.last_state()
            load = time.perf_counter() - start
            size = lambda path: path.stat().st_size / 2**20  # noqa: E731
            last, best = run_dir.seconds["last"], run_dir.seconds["best"]
            print(f"| {shape} | {size(run_dir.last_checkpoint):.0f} | "
                  f"{statistics.median(last):.3f} (min {min(last):.3f}, n={len(last)}) | "
                  f"{load:.2f} | {size(run_dir.checkpoint):.0f} | "
                  f"{statistics.median(best):.3f} (n={len(best)}) | {epoch} | "
                  f"{peak_memory_mib():.0f} |", flush=True)  # fmt: skip
