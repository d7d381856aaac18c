"""Train HeCo and write embeddings: ``python -m heco_pyg.train model=heco data=synthetic``.

The recipe: seed, build the graph (all input checks happen here, before anything is
written), build model and loss, fit, embed, write the run's outputs, evaluate, return the
metric that Hydra sweepers optimise.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from heco_pyg.config.command import command
from heco_pyg.data import build_data
from heco_pyg.data.graph import input_tensors, model_arguments, model_inputs, positive_index
from heco_pyg.data.stats import metapath_summary
from heco_pyg.evaluation import ProtocolSettings, evaluate_embeddings
from heco_pyg.evaluation.protocol import evaluate_protocol, flat_metrics, has_splits, split_indices
from heco_pyg.evaluation.tables import protocol_markdown
from heco_pyg.runs.naming import link_latest
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.runs.summary import Phases, RunOutcome, report_run
from heco_pyg.runs.sweep import optimized_value
from heco_pyg.training.distributed import (
    configure_threads,
    is_main_process,
    preparation_device,
    quiet_other_ranks,
    resolve_device,
)
from heco_pyg.training.embedding import embed, view_embeddings
from heco_pyg.training.epoch_logger import EpochLogger

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def flatten(results: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{view}/{k}": v for view, metrics in results.items() for k, v in metrics.items()}


def train(cfg: DictConfig, run_dir: Path) -> dict[str, float]:
    """Runs one training job into ``run_dir``; returns the flat metrics."""
    seed_everything(cfg.seed)
    configure_threads(cfg.trainer.get("threads"))
    run = RunDir(run_dir)
    phases = Phases()

    phases.start("graph build", str(cfg.data.get("name", "")))
    data = build_data(cfg.data)
    target = data.target
    model = instantiate(cfg.model, **model_arguments(data))
    loss_fn = instantiate(cfg.loss)
    # The one-off sparse products on the training GPU when it has room, else on the CPU.
    device = resolve_device(cfg.trainer.get("device", "auto"))
    prepare_on = preparation_device(device, input_tensors(model_inputs(data)))
    inputs = model.prepare(**model_inputs(data, prepare_on))
    log.info("model inputs prepared on %s", prepare_on)
    log.info("graph: %s", metapath_summary(data))
    log.info("model: %r", model)

    # Under torchrun only rank 0 logs and writes outputs.
    overrides = {} if is_main_process() else {"mode": "disabled"}
    tracker = instantiate(cfg.logger, dir=run.path, _recursive_=False, **overrides)
    tracker.config(OmegaConf.to_container(cfg, resolve=True))
    try:
        trainer = instantiate(cfg.trainer, checkpoint_path=run.checkpoint, seed=cfg.seed)
        positives = positive_index(data)
        epoch_logger = EpochLogger(tracker, positives, **cfg.get("epoch_logging", {}))
        phases.start("training")
        trainer.fit(model, loss_fn, inputs, positives, on_epoch=epoch_logger)
        if hasattr(loss_fn, "workspace"):  # its N x N buffer is not needed for evaluation
            loss_fn.workspace.release()
        if not is_main_process():
            return {"loss": trainer.best_loss}

        # Outputs.
        phases.start("embedding", f"{inputs.num_nodes} {target}s, both views")
        schema, semantic, _ = embed(model, inputs, cfg.trainer.get("batch_size"))
        embeddings = view_embeddings(schema, semantic)
        phases.start("outputs and plots")
        ids = getattr(data[target], "node_ids", None) or [str(i) for i in range(len(schema))]
        paths = run.write_embeddings(embeddings, ids)
        store = data[target]
        run.write_papers(ids, getattr(store, "titles", None), getattr(store, "dois", None))
        history = run.write_history(epoch_logger.rows)
        from heco_pyg.runs.plots import plot_history  # matplotlib only once training is done

        plot_history(history, run.loss_plot, run.attention_plot, title=run.path.name)
        tracker.images({"plots/loss": run.loss_plot, "plots/attention": run.attention_plot})

        # Evaluation: every view and the raw features on seeded few-label splits; the
        # paper's protocol on the raw meta-path view when the data has its fixed splits.
        settings = ProtocolSettings.from_config(cfg.get("protocol"))
        phases.start("evaluation", f"linear probe x {settings.repeats} splits, K-means, 4 views")
        labels = store.y.numpy() if "y" in store else None
        results = evaluate_embeddings(embeddings | {"features": store.x.numpy()}, labels,
                                      settings, cfg.seed)  # fmt: skip
        metrics = flatten(results) | {
            "loss": trainer.best_loss,
            "best_epoch": trainer.best_epoch,
            "epochs": len(trainer.history),
            "seconds_per_epoch": float(history["seconds"].mean()),
        }
        table = None
        if has_splits(data):
            phases.start("paper's protocol", f"{settings.repeats} probes per split")
            result = evaluate_protocol(semantic, store.y, split_indices(data), settings, cfg.seed)
            table = protocol_markdown(result, f"HeCo protocol: {getattr(data, 'name', '')}")
            run.write_evaluation("eval", result, table)
            metrics |= flat_metrics(result)
        run.write_metrics(metrics)
        tracker.summary(metrics)
        tracker.artifact(f"embeddings-{data.name}", [*paths, run.checkpoint])
        phases.stop()
        report_run(RunOutcome(
            run.path, len(trainer.history), trainer.max_epochs, trainer.best_epoch,
            phases.seconds, results, settings, labels, has_splits(data), table,
            latest=link_latest(run.path),
        ))  # fmt: skip
    finally:
        tracker.finish()
    return metrics


@command("train")
def main(cfg: DictConfig) -> float | None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    quiet_other_ranks()
    metrics = train(cfg, run_dir)
    if not is_main_process():  # torchrun: rank 0 reports the metric
        return None
    return optimized_value(metrics, cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
