"""Choose a stopping rule on validation splits: record whole runs, then replay rules on them.

    python scripts/trajectories.py record --dataset acm --seeds 10 11 --epochs 300 --every 10 \\
        --output-dir outputs/trajectories -- paths.data_dir=/work/shared/data
    python scripts/trajectories.py replay outputs/trajectories/acm_*.json \\
        --rule 10,0.001,10,50 --rule 20,0.002,10,50 --rule 1,0,1000000,0,150

``record`` trains ``experiment=heco_<dataset>_stable`` with one seed for ``--epochs``
epochs, never stopping early (the trainer's own EMA off: the stopping rule does not change
the training, only where it ends), and keeps an EMA of the weights (``--decay``, the
recipe's 0.98) and the raw weights every ``--every`` epochs. After training it embeds each
snapshot and scores it on the **validation** splits only (probe trained on
``train_<rate>``, the best validation Macro- and Micro-F1 of its steps, at 20/40/60; unit
rows when the recipe's ``protocol.normalize`` is on). It writes
``<dataset>_<seed>.json``: the loss of every epoch, the scores of every snapshot and the
training's CPU seconds per epoch. The test splits are never read.

``replay`` runs :class:`heco_pyg.training.stopping.EarlyStopping` itself on the recorded
losses. A rule is ``smoothing,min_delta,patience,min_epochs[,max_epochs]``; the EMA kept
is the one at the best smoothed loss (the nearest snapshot). Per rule: the mean of the six
validation numbers over seeds, the largest of the six stds across seeds, the worst seed
and the epochs run; then the best snapshot of each seed (an oracle that reads the
validation labels: a bound on what any stopping rule can reach).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from heco_pyg.training.stopping import EarlyStopping

RATES = ("20", "40", "60")


def record(dataset: str, seed: int, epochs: int, every: int, decay: float, repeats: int,
           overrides: list[str]) -> dict:  # fmt: skip
    """One run's losses and validation scores (see the module docstring)."""
    import torch.nn.functional as F
    from hydra import compose, initialize_config_module
    from hydra.utils import instantiate
    from torch_geometric import seed_everything

    from heco_pyg.core.runtime import configure_threads
    from heco_pyg.data import build_data
    from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
    from heco_pyg.evaluation.probe import ProtocolSettings, linear_probe
    from heco_pyg.evaluation.protocol import split_indices
    from heco_pyg.training.embedding import embed
    from heco_pyg.training.stopping import WeightAverage

    with initialize_config_module("heco_pyg.conf", version_base=None):
        cfg = compose("train", overrides=[
            f"experiment=heco_{dataset}_stable", f"seed={seed}", f"trainer.max_epochs={epochs}",
            "trainer.ema_decay=null", f"trainer.patience={epochs + 1}", "trainer.min_epochs=0",
            "trainer.progress=false", *overrides])  # fmt: skip
    seed_everything(cfg.seed)
    configure_threads(1)
    data = build_data(cfg.data)
    model = instantiate(cfg.model, **model_arguments(data))
    inputs = model.prepare(**model_inputs(data))
    trainer = instantiate(cfg.trainer, checkpoints=None, seed=cfg.seed)
    average, losses, snapshots = WeightAverage(decay), [], []

    def on_epoch(epoch_record, output) -> None:
        losses.append(epoch_record.loss)
        average.update(model)
        if epoch_record.epoch % every == 0:
            raw = {k: v.detach().clone() for k, v in model.state_dict().items()}
            ema = {k: v.clone() for k, v in average.state.items()}
            snapshots.append((epoch_record.epoch, ema, raw))

    start = time.process_time()
    trainer.fit(model, instantiate(cfg.loss), inputs, positive_index(data), on_epoch=on_epoch)
    train_cpu = time.process_time() - start

    settings = dataclasses.replace(ProtocolSettings.from_config(cfg.protocol), repeats=repeats)
    labels, splits = data[data.target].y, split_indices(data)

    def validation(state: dict) -> dict:
        model.load_state_dict(state)
        model.eval()
        _, semantic, _ = embed(model, inputs)
        if settings.normalize:
            semantic = F.normalize(semantic, dim=1)
        scores = {}
        for rate, (train, validation_index, _) in splits.items():
            probe = linear_probe(semantic, labels, train, validation_index, validation_index,
                                 settings, seed=int(rate))  # fmt: skip
            scores[str(rate)] = [round(100 * float(probe[m].mean()), 2)
                                 for m in ("macro_f1", "micro_f1")]  # fmt: skip
        return scores

    return {
        "dataset": dataset, "seed": seed, "decay": decay, "repeats": repeats,
        "overrides": overrides,
        "losses": losses, "epoch_cpu_seconds": train_cpu / len(losses),
        "scores": [{"epoch": epoch, "ema": validation(ema), "raw": validation(raw)}
                   for epoch, ema, raw in snapshots],
    }  # fmt: skip


def parse_rule(text: str) -> tuple:
    """``smoothing,min_delta,patience,min_epochs[,max_epochs]`` as numbers."""
    parts = text.split(",")
    if len(parts) not in (4, 5):
        raise argparse.ArgumentTypeError(
            f"a rule is smoothing,min_delta,patience,min_epochs[,max_epochs], got {text!r}"
        )
    return (int(parts[0]), float(parts[1]), int(parts[2]), int(parts[3]),
            *(int(p) for p in parts[4:]))  # fmt: skip


def stopping_epochs(losses: list[float], smoothing: int, min_delta: float, patience: int,
                    min_epochs: int, max_epochs: int | None = None) -> tuple[int, int]:  # fmt: skip
    """``(epochs run, epoch kept)`` of a rule on a recorded loss curve."""
    stopping = EarlyStopping(patience, min_delta, smoothing, min_epochs)
    limit = len(losses) if max_epochs is None else min(max_epochs, len(losses))
    for epoch, loss in enumerate(losses[:limit], start=1):
        stopping.step(loss)
        if stopping.should_stop:
            return epoch, stopping.best_epoch
    return limit, stopping.best_epoch


def scores_at(run: dict, epoch: int, weights: str = "ema") -> np.ndarray:
    """The six validation numbers (Macro, Micro at 20/40/60) of the snapshot nearest ``epoch``."""
    nearest = min(run["scores"], key=lambda row: abs(row["epoch"] - epoch))
    return np.array([value for rate in RATES for value in nearest[weights][rate]])


def _row(label: str, scores: np.ndarray, epochs: str) -> str:
    """One markdown row: ``scores`` is seeds x six numbers."""
    spread = scores.std(0, ddof=1).max() if len(scores) > 1 else float("nan")
    return (
        f"| {label} | {scores.mean():.2f} | {spread:.2f} | {scores.mean(1).min():.2f} | {epochs} |"
    )


def replay(runs: list[dict], rules: list[tuple]) -> list[str]:
    """Markdown rows: per rule, then the oracle (see the module docstring)."""
    lines = [
        "| rule (smoothing, min_delta, patience, min_epochs[, max]) | mean | "
        "largest std across seeds | worst seed | epochs run (kept) |",
        "|---|---|---|---|---|",
    ]
    for rule in rules:
        stops = [stopping_epochs(run["losses"], *rule) for run in runs]
        kept = [epoch for _, epoch in stops]
        scores = np.array([scores_at(run, epoch) for run, epoch in zip(runs, kept, strict=True)])
        epochs = ", ".join(f"{end} ({kept})" for end, kept in stops)
        lines.append(_row(", ".join(map(str, rule)), scores, epochs))
    best = [
        max(run["scores"], key=lambda row, run=run: scores_at(run, row["epoch"]).mean())["epoch"]
        for run in runs
    ]
    scores = np.array([scores_at(run, epoch) for run, epoch in zip(runs, best, strict=True)])
    oracle = "best snapshot per seed (oracle, reads validation labels)"
    lines.append(_row(oracle, scores, ", ".join(map(str, best))))
    return lines


def read_run(path: Path) -> dict:
    """A file ``record`` wrote; a one-line error naming the file if it is not one."""
    try:
        run = json.loads(path.read_text())
        if not run["losses"] or not run["scores"]:
            raise ValueError("no epochs or no snapshots")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SystemExit(f"error: {path}: not a recorded run of `record` ({error!r})") from None
    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="train seeds and record their validation scores")
    rec.add_argument("--dataset", required=True)
    rec.add_argument("--seeds", type=int, nargs="+", required=True)
    rec.add_argument("--epochs", type=int, default=300)
    rec.add_argument("--every", type=int, default=10, help="epochs between snapshots")
    rec.add_argument("--decay", type=float, default=0.98, help="EMA decay of the snapshots")
    rec.add_argument("--repeats", type=int, default=10, help="probes per label rate")
    rec.add_argument("--output-dir", type=Path, required=True)
    rec.add_argument("overrides", nargs="*", help="Hydra overrides, after --")
    rep = commands.add_parser("replay", help="replay stopping rules on recorded runs")
    rep.add_argument("runs", type=Path, nargs="+")
    rep.add_argument("--rule", type=parse_rule, action="append", required=True)
    args = parser.parse_args(argv)
    if args.command == "record":
        args.output_dir.mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            result = record(
                args.dataset,
                seed,
                args.epochs,
                args.every,
                args.decay,
                args.repeats,
                args.overrides,
            )
            path = args.output_dir / f"{args.dataset}_{seed}.json"
            path.write_text(json.dumps(result))
            print(f"{path}: {len(result['losses'])} epochs, "
                  f"{result['epoch_cpu_seconds']:.3f} CPU-s per epoch", flush=True)  # fmt: skip
    else:
        runs = [read_run(path) for path in args.runs]
        print("\n".join(replay(runs, args.rule)))


if __name__ == "__main__":
    main()
