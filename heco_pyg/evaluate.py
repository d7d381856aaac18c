"""Evaluate a finished run: ``python -m heco_pyg.evaluate run_dir=DIR [task=protocol|recommend]``.

Tasks (``heco_pyg/conf/task/``, each a ``_target_`` below):

* ``protocol``: the HeCo paper's node-classification and clustering protocol
  (:mod:`heco_pyg.evaluation.protocol`) on the run's meta-path view, re-embedded from its
  checkpoint in eval mode; ``+protocol.lr=...`` (any key of the run's ``protocol``
  settings), ``+data_dir=DIR`` (the run's data has moved), ``+threads=N``.
* ``recommend``: held-out citation recommendation
  (:mod:`heco_pyg.evaluation.recommendation`) of every view and the baselines, the *full*
  and *cite* protocols on a seeded validation / test split (``seed``, ``recommend.*``).

A run is read only when its manifest says it is complete (or interrupted, with the best
state's outputs) and its files match it (:class:`heco_pyg.runs.run_dir.RunDir`).
"""

from __future__ import annotations

import heco_pyg.cli.openmp  # noqa: F401  (first: before torch loads OpenMP)

# isort: split
from hydra.utils import instantiate
from omegaconf import DictConfig

from heco_pyg.cli.command import command
from heco_pyg.cli.restore import load_run_graph, load_trained_model
from heco_pyg.core.errors import DataError
from heco_pyg.core.phases import Phases
from heco_pyg.core.runtime import configure_threads
from heco_pyg.evaluation import ProtocolSettings
from heco_pyg.evaluation.protocol import (
    evaluate_protocol,
    flat_metrics,
    has_splits,
    split_indices,
)
from heco_pyg.evaluation.recommendation import RecommendationSettings, evaluate_recommendation
from heco_pyg.evaluation.tables import protocol_markdown, recommendation_markdown
from heco_pyg.runs.naming import find_run
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.training.embedding import VIEWS, embed
from heco_pyg.training.trainer import Trainer


def protocol_task(cfg: DictConfig) -> dict:
    """The paper's protocol, written into the run dir (:meth:`RunDir.write_evaluation`);
    a :class:`DataError` (non-zero exit) when the run's data has no split masks."""
    run = RunDir(find_run(cfg.run_dir))
    run_cfg = run.config()
    if cfg.get("data_dir"):
        run_cfg.paths.data_dir = cfg.data_dir
    configure_threads(cfg.get("threads", "auto"))
    phases = Phases()
    phases.start("graph build", "from the run's config")
    data = load_run_graph(run, run_cfg)
    if not has_splits(data):
        raise DataError(
            f"{run.path}: the run's data ({getattr(data, 'name', '?')}) has no split masks "
            f"(labels and train_mask_<rate>), so the paper's protocol cannot run; the seeded "
            f"linear probe of training is in {run.metrics_path.name}, or evaluate "
            f"task=recommend for held-out citations"
        )
    model, data, inputs = load_trained_model(run, run_cfg, data)
    phases.start("embedding")
    # The run's trainer settings (embedding on the CPU, where the model was loaded).
    trainer: Trainer = instantiate(run_cfg.trainer, seed=run_cfg.get("seed", 0), device="cpu")
    _, semantic, _ = embed(model, inputs, trainer.batch_size)
    settings = ProtocolSettings.from_config(
        dict(run_cfg.get("protocol") or {}) | dict(cfg.get("protocol") or {})
    )
    phases.start("paper's protocol", f"{settings.repeats} probes per label rate")
    result = evaluate_protocol(semantic, data[data.target].y, split_indices(data), settings,
                               int(cfg.get("seed", 0)))  # fmt: skip
    phases.stop()
    table = protocol_markdown(result, f"HeCo protocol: {getattr(data, 'name', run.path.name)}")
    run.write_evaluation("eval", result, table, metrics=flat_metrics(result))
    print(table)
    return result


def recommendation_task(cfg: DictConfig, **settings) -> dict:
    """Held-out citations, both protocols on both halves, written into the run dir
    (:meth:`RunDir.write_evaluation`); ``settings``: :class:`RecommendationSettings`."""
    run = RunDir(find_run(cfg.run_dir))
    configure_threads((cfg.get("recommend") or {}).get("threads"))
    embeddings = {view: run.embeddings(view)[0] for view in VIEWS}
    phases = Phases()
    phases.start("graph build", "from the run's config")
    data = load_run_graph(run)
    phases.start("citation recommendation", "every view and the baselines, two protocols")
    summary = evaluate_recommendation(data, embeddings, RecommendationSettings(**settings),
                                      seed=int(cfg.seed))  # fmt: skip
    summary["run_dir"] = str(run.path)
    summary["data"] = str(getattr(data, "name", ""))
    phases.stop()
    table = recommendation_markdown(summary)
    run.write_evaluation("recommend_eval", summary, table)
    print(table)
    return summary


@command("evaluate")
def main(cfg: DictConfig) -> None:
    instantiate(cfg.task)(cfg)


if __name__ == "__main__":
    main()
