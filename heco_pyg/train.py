"""Train HeCo and write embeddings: ``python -m heco_pyg.train model=heco data=synthetic``.

The recipe: seed, build the graph (all input checks happen here, before anything is
written), build model and loss, fit, embed, evaluate, write outputs, return the metric
that Hydra sweepers optimise.
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch_geometric.data import HeteroData

from heco_pyg.callbacks import EpochLogger
from heco_pyg.data.graph import DataError, model_arguments, model_inputs, positive_edge_type
from heco_pyg.evaluation import evaluate_embeddings, format_table
from heco_pyg.evaluation.protocol import evaluate_trained
from heco_pyg.outputs import (
    plot_history,
    view_embeddings,
    write_embeddings,
    write_history,
    write_metrics,
    write_paper_metadata,
)
from heco_pyg.sweep import optimized_value
from heco_pyg.trainer import embed

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_data(cfg: DictConfig) -> HeteroData:
    """The configured graph; a :class:`DataError` surfaces as itself, not wrapped by Hydra."""
    try:
        return instantiate(cfg.data, _convert_="all")
    except InstantiationException as error:
        if isinstance(error.__cause__, DataError):
            raise error.__cause__ from None
        raise


def flatten(results: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{view}/{k}": v for view, metrics in results.items() for k, v in metrics.items()}


def train(cfg: DictConfig, run_dir: Path) -> dict[str, float]:
    """Runs one training job into ``run_dir``; returns the flat metrics."""
    seed_everything(cfg.seed)
    if cfg.trainer.get("threads"):
        torch.set_num_threads(cfg.trainer.threads)

    data = build_data(cfg)
    target = data.target
    model = instantiate(cfg.model, **model_arguments(data))
    loss_fn = instantiate(cfg.loss)
    inputs = model.prepare(**model_inputs(data))
    log.info("graph: %s", {k: v for k, v in getattr(data, "metapath_stats", {}).items()})
    log.info("model: %r", model)

    # Under torchrun only rank 0 logs and writes outputs.
    main_process = int(os.environ.get("RANK", "0")) == 0
    overrides = {} if main_process else {"mode": "disabled"}
    tracker = instantiate(cfg.logger, dir=run_dir, _recursive_=False, **overrides)
    tracker.config(OmegaConf.to_container(cfg, resolve=True))
    try:
        trainer = instantiate(cfg.trainer, checkpoint_path=run_dir / "checkpoint.pt", seed=cfg.seed)
        positives = data[positive_edge_type(target)].edge_index
        epoch_logger = EpochLogger(tracker, positives, **cfg.get("epoch_logging", {}))
        trainer.fit(model, loss_fn, inputs, positives, on_epoch=epoch_logger)
        if hasattr(loss_fn, "workspace"):  # its N x N buffer is not needed for evaluation
            loss_fn.workspace.release()
        if not main_process:
            return {"loss": trainer.best_loss}
        schema, semantic, _ = embed(model, inputs, cfg.trainer.get("batch_size"))
        embeddings = view_embeddings(schema, semantic)
        ids = getattr(data[target], "node_ids", None) or [str(i) for i in range(len(schema))]
        paths = write_embeddings(run_dir, embeddings, ids)
        write_paper_metadata(run_dir, ids, data[target])
        history = write_history(run_dir, epoch_logger.rows)
        plot_history(run_dir, history)

        labels = data[target].y.numpy() if "y" in data[target] else None
        results = evaluate_embeddings(
            embeddings | {"features": data[target].x.numpy()},
            labels,
            cfg.seed,
            **cfg.evaluation,
        )
        metrics = flatten(results) | {
            "loss": trainer.best_loss,
            "best_epoch": trainer.best_epoch,
            "epochs": len(trainer.history),
            "seconds_per_epoch": float(history["seconds"].mean()),
        }
        # The paper's protocol on the raw meta-path view, when the data has splits.
        metrics |= evaluate_trained(data, semantic, cfg.get("protocol"), run_dir, cfg.seed)
        write_metrics(run_dir, metrics)
        tracker.summary(metrics)
        tracker.artifact(f"embeddings-{data.name}", [*paths, run_dir / "checkpoint.pt"])
        print(format_table(results))
    finally:
        tracker.finish()
    return metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    metrics = train(cfg, run_dir)
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 reports the metric
        return None
    return optimized_value(metrics, cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
