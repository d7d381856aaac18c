"""Sweeps: the metric a sweeper optimises, the wandb group of a sweep, and the summary that
a Hydra callback writes when a multirun ends.

``python -m heco_pyg.train -m loss.tau=0.2,0.5,0.8 loss.lam=0.2,0.5,0.8`` leaves in the sweep
dir, next to one folder per run:

- ``sweep_summary.csv``: one row per run: its overrides (and each swept key as a column),
  its status (the manifest's; ``mismatch`` when its files changed since, with the reason
  in ``problem``), best loss, epochs, every metric of ``metrics.json``, the final attention
  weights; a run that is not readable contributes its overrides and status only;
- ``sweep_summary.md``: the best run (its overrides and metric ± std, the runs tied with
  it within noise), and a compact table, best first: the metric, its std, epochs, the
  swept overrides (the rest in the CSV); the same best line is printed when a sweep ends;
- ``sweep_heatmap.png``: the optimised metric over the two swept keys (``loss.tau`` x
  ``loss.lam`` by default), each cell the mean ± std over the runs that differ only in
  ``seed`` (sweep ``seed=0,1,2`` too), the best cell outlined; a scatter on the real axes
  for random and Optuna sweeps.

Everything is read back from the run folders (``metrics.json``, ``history.csv``,
``.hydra/overrides.yaml``), so :func:`summarise` also works on a finished sweep dir.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from heco_pyg.core.atomic import atomic_path, write_atomic
from heco_pyg.core.errors import RunError
from heco_pyg.runs.manifest import READABLE
from heco_pyg.runs.run_dir import RunDir

log = logging.getLogger(__name__)


BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def optimising_sweeper() -> bool:
    """Whether this job runs under a sweeper that reads the returned value (Optuna, ...):
    a multirun whose sweeper is not Hydra's basic grid sweeper."""
    if not HydraConfig.initialized():
        return False
    hydra = HydraConfig.get()
    return hydra.mode == RunMode.MULTIRUN and hydra.sweeper.get("_target_") != BASIC_SWEEPER


def optimized_value(
    metrics: Mapping[str, Any], name: str | None, required: bool | None = None
) -> float | None:
    """The value of ``optimized_metric`` for a sweeper.

    A name absent from ``metrics`` (e.g. ``fused/micro_f1`` on unlabelled data) is an error
    naming the available keys when the value is ``required`` (default: under an
    optimising sweeper, :func:`optimising_sweeper`), else the same message as a warning
    and None.
    """
    if name is None:
        return None
    if name not in metrics:
        message = (
            f"optimized_metric={name!r} is not among this run's metrics (metrics.json); "
            f"set optimized_metric= one of: {', '.join(sorted(metrics))}"
        )
        if optimising_sweeper() if required is None else required:
            raise KeyError(message)
        log.warning(message)
        return None
    value = float(metrics[name])
    if math.isnan(value):
        log.warning("optimized_metric %r is NaN in this run", name)
    return value


def sweep_group() -> str | None:
    """The wandb group of a multirun job: ``<task>-<sweep dir name>``; None for single runs.
    The ``${sweep_group:}`` resolver of ``heco_pyg/conf/logger/wandb.yaml``."""
    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return None
    return f"{hydra.job.name}-{Path(hydra.sweep.dir).name}"


if not OmegaConf.has_resolver("sweep_group"):
    OmegaConf.register_new_resolver("sweep_group", sweep_group)


def run_dirs(sweep_dir: str | Path) -> list[Path]:
    """The run folders of a sweep, in job order (:meth:`RunDir.in_sweep`)."""
    return [run.path for run in RunDir.in_sweep(sweep_dir)]


def _parse(value: str) -> Any:
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def run_row(run_dir: Path) -> dict[str, Any]:
    """One summary row: run, overrides (each also as its own column), best loss, epochs,
    every metric, the final attention weights (``final attention/...``)."""
    run = RunDir(run_dir)
    overrides = run.overrides()
    row: dict[str, Any] = {"run": run.path.name, "overrides": " ".join(overrides)}
    for override in overrides:
        key, _, value = override.partition("=")
        row[key.lstrip("+~")] = _parse(value)
    row["status"] = run.status()
    try:
        history, metrics = run.history(), run.metrics()
    except RunError as error:  # not readable: the row says why, and holds no results
        if row["status"] in READABLE:
            row["status"], row["problem"] = "mismatch", str(error)
        return row
    if history is not None:
        row["best_loss"] = float(history["loss"].min())
        row["epochs"] = len(history)
        for column in (c for c in history.columns if c.startswith("attention/")):
            row[f"final {column}"] = float(history[column].iloc[-1])
    if metrics is not None:
        row["best_loss"] = metrics.get("loss", row.get("best_loss"))
        row["epochs"] = metrics.get("epochs", row.get("epochs"))
        row |= {k: v for k, v in metrics.items() if k not in ("loss", "epochs")}
    return row


def summarise(sweep_dir: str | Path) -> pd.DataFrame:
    """The summary table of a sweep dir, one row per run folder."""
    rows = [run_row(p) for p in run_dirs(sweep_dir)]
    if not rows:
        raise FileNotFoundError(f"{sweep_dir}: no run folders (*/.hydra/overrides.yaml)")
    return pd.DataFrame(rows)


def override_keys(summary: pd.DataFrame) -> list[str]:
    """Every key overridden in some run, in first-seen order."""
    keys: list[str] = []
    for overrides in summary["overrides"]:
        for override in overrides.split():
            key = override.partition("=")[0].lstrip("+~")
            if key not in keys and key in summary:
                keys.append(key)
    return keys


def swept_keys(summary: pd.DataFrame) -> list[str]:
    """The override keys that take more than one value across the runs."""
    return [k for k in override_keys(summary) if summary[k].nunique(dropna=False) > 1]


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub markdown table (no extra dependency)."""

    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return "" if math.isnan(value) else f"{value:.{digits}g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "---|" * len(frame.columns)]  # fmt: skip
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def maximised(metric: str) -> bool:
    """Whether a larger ``metric`` is better (scores) or a smaller one (losses)."""
    return "loss" not in metric


def best_row(summary: pd.DataFrame, metric: str) -> int | None:
    """The index of the best run by ``metric`` (None when no run has it)."""
    if metric not in summary or summary[metric].isna().all():
        return None
    return int(summary[metric].idxmax() if maximised(metric) else summary[metric].idxmin())


def seed_cells(summary: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    """One row per setting of ``keys``: runs that differ only in ``seed`` are grouped, with
    the ``mean``, ``std`` (over seeds; NaN for one seed) and number of ``seeds`` of
    ``metric``; ``noise`` is that std or, for one seed, the probe's std over its splits
    (``<metric>_std``) when known."""
    frame = summary.dropna(subset=[metric])
    grouped = frame.groupby(keys, dropna=False)[metric]
    cells = grouped.agg(mean="mean", std="std", seeds="count").reset_index()
    cells["noise"] = cells["std"]
    if f"{metric}_std" in frame:
        split_std = frame.groupby(keys, dropna=False)[f"{metric}_std"].mean().to_numpy()
        cells["noise"] = cells["noise"].fillna(pd.Series(split_std, index=cells.index))
    return cells


def ranking(summary: pd.DataFrame, metric: str | None) -> pd.DataFrame:
    """The compact table of a sweep, best first: ``rank`` (``best``, ``tie`` for a run
    within the noise of the best, else its place), ``run``, the metric, ``std`` (over the
    probe's seeded splits, when known), ``epochs``, ``overrides`` (the swept keys only), and
    ``status`` when some run did not complete. ``metric``: ``best_loss`` when None or in no
    run. A tie: the gap to the best is at most the larger of the two stds."""
    if not metric or metric not in summary or summary[metric].isna().all():
        metric = "best_loss"
    swept = swept_keys(summary)
    frame = pd.DataFrame({"run": summary["run"].astype(str)})
    frame[metric] = summary.get(metric, pd.Series(np.nan, index=summary.index))
    frame["std"] = summary.get(f"{metric}_std", pd.Series(np.nan, index=summary.index))
    frame["epochs"] = summary.get("epochs", pd.Series(np.nan, index=summary.index))
    frame["overrides"] = [" ".join(f"{k}={row[k]}" for k in swept) for _, row in summary.iterrows()]
    if "status" in summary and (summary["status"] != "complete").any():
        frame["status"] = summary["status"]
    best = best_row(summary, metric)
    frame = frame.sort_values(metric, ascending=not maximised(metric), na_position="last")
    rank = []
    for place, (index, row) in enumerate(frame.iterrows(), start=1):
        if index == best:
            rank.append("best")
            continue
        gap = abs(row[metric] - frame.loc[best, metric]) if best is not None else math.nan
        noise = np.nanmax([row["std"], frame.loc[best, "std"], 0.0]) if best is not None else 0
        rank.append("tie" if gap <= noise else ("" if math.isnan(gap) else str(place)))
    frame.insert(0, "rank", rank)
    return frame.reset_index(drop=True)


def best_line(table: pd.DataFrame) -> str:
    """One line for the end of a sweep, from :func:`ranking`: the best run, its overrides,
    the metric ± std, and the runs tied with it within noise."""
    metric = table.columns[2]
    if table.empty or table["rank"].iloc[0] != "best":
        return f"best run: none (no run has {metric})"

    def described(row: pd.Series) -> str:
        std = "" if math.isnan(row["std"]) else f" ± {row['std']:.4f}"
        return f"{row['run']} ({row['overrides'] or 'no swept keys'}): {row[metric]:.4f}{std}"

    line = f"best run by {metric}: " + described(table.iloc[0])
    ties = table[table["rank"] == "tie"]
    if len(ties):
        shown = "; ".join(described(row) for _, row in ties.head(3).iterrows())
        more = f"; and {len(ties) - 3} more" if len(ties) > 3 else ""
        line += f"; tied within noise (gap <= std): {shown}{more}"
    return line


def markdown_summary(summary: pd.DataFrame, metric: str | None = None) -> str:
    """``sweep_summary.md``: the best run (:func:`best_line`), the compact table of
    :func:`ranking`, the overrides shared by every run and the raw-feature baseline;
    everything else in ``sweep_summary.csv``."""
    swept = swept_keys(summary)
    common = [k for k in override_keys(summary) if k not in swept]
    table = ranking(summary, metric)
    name = table.columns[2]
    text = [f"# Sweep summary ({len(summary)} runs)", "", best_line(table) + ".", "",
            f"`{name}`: {'higher' if maximised(name) else 'lower'} is better; `std`: over the "
            "probe's seeded splits; `tie`: within noise of the best.", "",
            markdown_table(table), ""]  # fmt: skip
    if common:
        first = summary["overrides"].iloc[0].split()
        shared = " ".join(o for o in first if o.partition("=")[0].lstrip("+~") in common)
        text += [f"Overrides shared by every run: `{shared}`.", ""]
    baseline = {c: summary[c].iloc[0] for c in summary.columns
                if c.startswith("features/") and not c.endswith("_std")}  # fmt: skip
    if baseline:
        cells = ", ".join(f"{k.split('/', 1)[1]} {v:.4g}" for k, v in baseline.items())
        text += [f"Raw-feature baseline: {cells}.", ""]
    text += ["All columns (every metric, `_std` included): `sweep_summary.csv`.", ""]
    return "\n".join(text)


def write_summary(
    sweep_dir: str | Path, metric: str | None = None, axes: list[str] | None = None
) -> pd.DataFrame:
    """Writes ``sweep_summary.{csv,md}`` and ``sweep_heatmap.png`` into ``sweep_dir``.

    Args:
        metric: the heatmap's metric (``optimized_metric``); ``best_loss`` when None or
            absent from every run.
        axes: the heatmap's keys when they are swept (default: ``loss.tau``, ``loss.lam``);
            otherwise the first two swept keys.
    """
    sweep_dir = Path(sweep_dir)
    summary = summarise(sweep_dir)
    write_atomic(sweep_dir / "sweep_summary.csv", summary.to_csv(index=False))
    write_atomic(sweep_dir / "sweep_summary.md", markdown_summary(summary, metric))
    swept = [k for k in swept_keys(summary) if k != "seed"]  # seeds are grouped, not an axis
    wanted = [k for k in (axes or ["loss.tau", "loss.lam"]) if k in swept]
    keys = (wanted + [k for k in swept if k not in wanted])[:2]
    if metric not in summary or summary[metric].isna().all():
        if metric:
            log.warning("optimized_metric %r is in no run's metrics; heatmap of best_loss", metric)
        metric = "best_loss"
    from heco_pyg.runs.plots import plot_heatmap  # matplotlib only when a sweep ends

    cells = seed_cells(summary, keys, metric) if keys else pd.DataFrame()
    with atomic_path(sweep_dir / "sweep_heatmap.png") as heatmap:
        plotted = plot_heatmap(cells, metric, keys, heatmap, maximised(metric))
    if not plotted:
        log.warning("no swept keys in %s: no sweep_heatmap.png", sweep_dir)
    print(f"{best_line(ranking(summary, metric))}\nsweep summary: {sweep_dir / 'sweep_summary.md'}")
    return summary


class SweepSummary(Callback):
    """Hydra callback (``hydra.callbacks`` in ``heco_pyg/conf/hydra/default.yaml``): at the end of a
    multirun, :func:`write_summary` into the sweep dir for ``optimized_metric``.

    Args:
        axes: the heatmap's two keys, when swept.
    """

    def __init__(self, axes: list[str] | None = None) -> None:
        self.axes = list(axes) if axes else None

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not RunDir.in_sweep(sweep_dir):
            log.warning("%s holds no runs: no sweep summary", sweep_dir)
            return
        write_summary(sweep_dir, config.get("optimized_metric"), self.axes)
