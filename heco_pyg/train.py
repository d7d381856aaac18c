"""Train HeCo and write embeddings: ``python -m heco_pyg.train model=heco data=synthetic``.

The recipe: check the run folder, seed, build the graph (all input checks happen here,
before anything is written), build model and loss, claim the folder, fit, embed, write the
run's outputs, evaluate, seal the run, return the metric that Hydra sweepers optimise.

A folder that holds a run is refused unless ``trainer.resume=true`` (continue it from its
saved training state) or ``overwrite=true`` (move its outputs aside first). SIGINT and
SIGTERM stop after the current step: the state, the history and the best state's
embeddings are written, the run is sealed ``interrupted``, and the command prints how to
resume and exits with 130 or 143.
"""

from __future__ import annotations

import heco_pyg.cli.openmp  # noqa: F401  (first: before torch loads OpenMP)

# isort: split
import logging
from pathlib import Path

import numpy as np
import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch_geometric import seed_everything

from heco_pyg.cli.command import command
from heco_pyg.core.errors import UserError
from heco_pyg.core.phases import Phases
from heco_pyg.core.runtime import (
    configure_threads,
    is_main_process,
    preparation_device,
    quiet_other_ranks,
    world_size,
)
from heco_pyg.data import build_data
from heco_pyg.data.graph import input_tensors, model_arguments, model_inputs, positive_index
from heco_pyg.data.stats import metapath_summary
from heco_pyg.evaluation import ProtocolSettings, evaluate_embeddings
from heco_pyg.evaluation.protocol import evaluate_protocol, flat_metrics, has_splits, split_indices
from heco_pyg.evaluation.tables import protocol_markdown
from heco_pyg.runs.naming import link_latest
from heco_pyg.runs.resume_guard import check_resume
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.runs.session import RunSession
from heco_pyg.runs.summary import RunOutcome, report_run
from heco_pyg.runs.sweep import optimized_value
from heco_pyg.runs.tracking import Tracker
from heco_pyg.training.embedding import embed, view_embeddings
from heco_pyg.training.epoch_logger import EpochLogger
from heco_pyg.training.interrupt import Interrupted, SignalStop
from heco_pyg.training.trainer import Trainer

log = logging.getLogger(__name__)


def flatten(results: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{view}/{k}": v for view, metrics in results.items() for k, v in metrics.items()}


def task_overrides() -> list[str]:
    """The job's command-line overrides (``[]`` outside Hydra)."""
    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)


def build(cfg: DictConfig, trainer: Trainer, phases: Phases) -> tuple:
    """The graph, the model, the loss and the model's prepared inputs (all input checks
    happen here, before anything is written)."""
    phases.start("graph build", str(cfg.data.get("name", "")))
    data = build_data(cfg.data)
    model = instantiate(cfg.model, **model_arguments(data))
    loss_fn = instantiate(cfg.loss)
    # The one-off sparse products on the training GPU when it has room, else on the CPU.
    prepare_on = preparation_device(trainer.device, input_tensors(model_inputs(data)))
    inputs = model.prepare(**model_inputs(data, prepare_on))
    log.info("model inputs prepared on %s", prepare_on)
    log.info("graph: %s", metapath_summary(data))
    log.info("model: %r", model)
    return data, model, loss_fn, inputs


def labels(store) -> np.ndarray | None:
    return store.y.numpy() if "y" in store else None


def write_outputs(run: RunDir, store, embeddings: dict, rows: list) -> tuple[list[Path], object]:
    """The best state's embeddings (with ids, titles and DOIs when the graph has them) and
    the history; returns the paths written and the history table."""
    ids = getattr(store, "node_ids", None) or [str(i) for i in range(len(embeddings["fused"]))]
    paths = run.write_embeddings(embeddings, ids, getattr(store, "titles", None),
                                 getattr(store, "dois", None))  # fmt: skip
    return paths, run.write_history(rows)


def evaluate_run(data, embeddings: dict, semantic, run: RunDir, settings: ProtocolSettings,
                 seed: int, phases: Phases) -> tuple[dict, str | None, dict]:  # fmt: skip
    """Every view and the raw features on seeded few-label splits; the paper's protocol on
    the raw meta-path view when the data has its fixed splits (written as ``eval``).
    Returns the results per view, the protocol's table (or None) and its flat metrics."""
    store = data[data.target]
    phases.start("evaluation", f"linear probe x {settings.repeats} splits, K-means, 4 views")
    results = evaluate_embeddings(embeddings | {"features": store.x.numpy()}, labels(store),
                                  settings, seed)  # fmt: skip
    if not has_splits(data):
        return results, None, {}
    phases.start("paper's protocol", f"{settings.repeats} probes per split")
    result = evaluate_protocol(semantic, store.y, split_indices(data), settings, seed)
    table = protocol_markdown(result, f"HeCo protocol: {getattr(data, 'name', '')}")
    run.write_evaluation("eval", result, table)
    return results, table, flat_metrics(result)


def started_tracker(cfg: DictConfig, run_dir: Path, main: bool) -> Tracker:
    """``cfg.logger``'s tracker; a start-up failure (wandb online without a login, ...) is
    its one-line :class:`UserError`, not Hydra's wrapped traceback."""
    try:
        return instantiate(cfg.logger, dir=run_dir, _recursive_=False,
                           **({} if main else {"mode": "disabled"}))  # fmt: skip
    except InstantiationException as error:
        if isinstance(error.__cause__, UserError):
            raise error.__cause__ from None
        raise


def train(cfg: DictConfig, run_dir: Path, stop: SignalStop | None = None) -> dict[str, float]:
    """Runs one training job into ``run_dir``; returns the flat metrics.

    ``stop``: the command's :class:`SignalStop` (``None``: nothing stops the loop early).
    """
    seed_everything(cfg.seed)
    stop = stop or SignalStop()
    main = is_main_process()  # under torchrun only rank 0 checks, logs and writes outputs
    trainer: Trainer = instantiate(cfg.trainer, seed=cfg.seed)  # checks trainer.*
    configure_threads(trainer.threads)
    session = RunSession(RunDir(run_dir), OmegaConf.to_container(cfg, resolve=False),
                         resume=trainer.resume, overwrite=bool(cfg.get("overwrite")),
                         writer=main)  # fmt: skip
    trainer.checkpoints = session  # the best state and the training state go to the run
    if main:  # before the graph is built: a refused folder costs nothing
        session.check_start()
    phases = Phases()
    with session.building(task_overrides()):
        data, model, loss_fn, inputs = build(cfg, trainer, phases)
    if main and trainer.resume:  # before the manifest is touched: a refusal leaves it as it was
        check_resume(session.run, model, world_size())
    store = data[data.target]
    with session.training(trainer, stop, task_overrides(), world_size()) as run, \
            started_tracker(cfg, run.path, main) as tracker:  # fmt: skip
        tracker.config(OmegaConf.to_container(cfg, resolve=True))
        positives = positive_index(data)
        epoch_logger = EpochLogger(tracker, positives, **cfg.get("epoch_logging", {}))
        phases.start("training")
        with stop.deferred():  # a signal now stops after the current step
            trainer.fit(model, loss_fn, inputs, positives, on_epoch=epoch_logger,
                        should_stop=stop.requested)  # fmt: skip
            if hasattr(loss_fn, "workspace"):  # its N x N buffer is not needed for evaluation
                loss_fn.workspace.release()
            if main and trainer.best_epoch:  # the best state's outputs
                phases.start("embedding", f"{inputs.num_nodes} {data.target}s, both views")
                schema, semantic, _ = embed(model, inputs, trainer.batch_size)
                embeddings = view_embeddings(schema, semantic)
                phases.start("outputs and plots")
                paths, history = write_outputs(run, store, embeddings, epoch_logger.rows)
        if trainer.stopped:
            if dist.is_initialized():
                dist.barrier()  # the other ranks wait until rank 0 has written
            raise Interrupted(stop.signum)
        if not main:
            return {"loss": trainer.best_loss}
        if stop.requested():  # a signal while the outputs were written: stop before evaluating
            raise Interrupted(stop.signum)
        from heco_pyg.runs.plots import plot_history  # matplotlib only once training is done

        with run.figure_path(run.loss_plot) as loss_plot, \
                run.figure_path(run.attention_plot) as attention_plot:  # fmt: skip
            plot_history(history, loss_plot, attention_plot, title=str(data.name))
        tracker.images({"plots/loss": run.loss_plot, "plots/attention": run.attention_plot})

        settings = ProtocolSettings.from_config(cfg.get("protocol"))
        results, table, protocol = evaluate_run(data, embeddings, semantic, run, settings,
                                                cfg.seed, phases)  # fmt: skip
        metrics = (
            flatten(results)
            | {
                "loss": trainer.best_loss,
                "best_epoch": trainer.best_epoch,
                "epochs": len(trainer.history),
                "seconds_per_epoch": float(history["seconds"].mean()),
            }
            | protocol
        )
        run.write_metrics(metrics)
        session.complete(trainer)
        tracker.summary(metrics)
        tracker.artifact(f"embeddings-{data.name}", [*paths, run.checkpoint])
        phases.stop()
        report_run(RunOutcome(
            run.path, len(trainer.history), trainer.max_epochs, trainer.best_epoch,
            phases.seconds, results, settings, labels(store), has_splits(data), table,
            latest=link_latest(run.path), class_names=getattr(data, "label_names", None),
            example_id=str((getattr(store, "node_ids", None) or ["0"])[0]),
            has_citations=hasattr(data, "citation_index"),
        ))  # fmt: skip
    return metrics


@command("train")
def main(cfg: DictConfig) -> float | None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    quiet_other_ranks()
    with SignalStop() as stop:
        metrics = train(cfg, run_dir, stop)
    if not is_main_process():  # torchrun: rank 0 reports the metric
        return None
    return optimized_value(metrics, cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
