"""Every figure the package draws: a run's training curves, a sweep's heatmap, and the
panels of the local report. Pure matplotlib (Agg); callers choose where files go.

Import this module only where a figure is drawn: matplotlib adds ~30 MiB to a process,
which training does not need before its end.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

LOSSES = {"loss": "total", "loss_metapath": "L_mp", "loss_schema": "L_sc"}
GROUPS = {
    "attention/type/": "type-level attention (schema view)",
    "attention/semantic/": "semantic attention (meta-path view)",
    "node_attention/": "node-level attention entropy (1 = uniform)",
    "diagnostics/alignment": "alignment (Wang & Isola)",
    "diagnostics/uniformity/": "uniformity (Wang & Isola)",
    "diagnostics/mean_cosine/": "mean pairwise cosine",
    "diagnostics/effective_rank/": "effective rank",
}


def _label(column: str, prefix: str) -> str:
    rest = column[len(prefix) :].removesuffix("/entropy").strip("/")
    return column.rsplit("/", 1)[-1] if not rest or rest.startswith("_") else rest


def _panels(count: int, columns: int = 4) -> list[plt.Axes]:
    rows = -(-count // columns)
    width = min(count, columns)
    figure, axes = plt.subplots(rows, width, figsize=(4.2 * width, 3.4 * rows), squeeze=False)
    for axis in axes.flat[count:]:
        axis.set_visible(False)
    return list(axes.flat[:count])


def plot_run(history: pd.DataFrame, title: str = "") -> plt.Figure:
    """One panel for the losses, one per series group present in ``history``."""
    groups = {p: [c for c in history.columns if c.startswith(p)] for p in GROUPS}
    groups = {p: c for p, c in groups.items() if c}
    axes = _panels(1 + len(groups))
    for column, label in LOSSES.items():
        if column in history:
            axes[0].plot(history["epoch"], history[column], label=label)
    axes[0].set(xlabel="epoch", title="contrastive loss")
    axes[0].legend(fontsize=8)
    for axis, (prefix, columns) in zip(axes[1:], groups.items(), strict=True):
        for column in columns:
            series = history[["epoch", column]].dropna()
            axis.plot(series["epoch"], series[column], marker="." if len(series) < 30 else None,
                      label=_label(column, prefix))  # fmt: skip
        axis.set(xlabel="epoch", title=GROUPS[prefix])
        if prefix.startswith("attention/"):
            axis.set_ylim(0, 1)
        axis.legend(fontsize=8)
    figure = axes[0].figure
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_sweep(histories: dict[str, pd.DataFrame]) -> plt.Figure:
    """Every run's total loss and attention weights over the epochs, one line per run."""
    columns = ["loss"] + sorted({c for h in histories.values() for c in h.columns
                                 if c.startswith("attention/")})  # fmt: skip
    axes = _panels(len(columns), columns=3)
    for axis, column in zip(axes, columns, strict=True):
        for label, history in histories.items():
            if column in history:
                axis.plot(history["epoch"], history[column], label=label)
        axis.set(xlabel="epoch", title=column)
        if column.startswith("attention/"):
            axis.set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    figure = axes[0].figure
    figure.tight_layout()
    return figure


def plot_history(history: pd.DataFrame, loss_path: Path, attention_path: Path) -> None:
    """``loss.png`` (total, L_mp, L_sc) and ``attention.png`` (every attention weight)."""
    figure, axis = plt.subplots(figsize=(6, 4))
    for column, label in (("loss", "loss"), ("loss_metapath", "L_mp"), ("loss_schema", "L_sc")):
        axis.plot(history["epoch"], history[column], label=label)
    axis.set(xlabel="epoch", ylabel="contrastive loss", title="HeCo training loss")
    axis.legend()
    figure.tight_layout()
    figure.savefig(loss_path, dpi=120)
    plt.close(figure)

    columns = [c for c in history.columns if c.startswith("attention/")]
    groups = sorted({c.split("/")[1] for c in columns})
    figure, axes = plt.subplots(1, max(len(groups), 1), figsize=(5 * max(len(groups), 1), 4),
                                squeeze=False)  # fmt: skip
    titles = {"type": "type-level attention (schema view)",
              "semantic": "semantic attention (meta-path view)"}  # fmt: skip
    for axis, group in zip(axes[0], groups, strict=False):
        for column in (c for c in columns if c.split("/")[1] == group):
            axis.plot(history["epoch"], history[column], label=column.split("/")[-1])
        axis.set(xlabel="epoch", ylabel="weight", ylim=(0, 1), title=titles.get(group, group))
        axis.legend()
    figure.tight_layout()
    figure.savefig(attention_path, dpi=120)
    plt.close(figure)


def plot_heatmap(summary: pd.DataFrame, metric: str, keys: list[str], path: Path) -> bool:
    """``metric`` (mean over repeats) over two swept keys as a heatmap, over one as a
    single row; a scatter when the values do not form a small grid (random/Optuna
    sweeps). Returns False when there is nothing to plot."""
    if metric not in summary or summary[metric].isna().all() or not keys:
        return False
    x, y = keys[0], keys[1] if len(keys) > 1 else None
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    grid = summary[x].nunique() <= 12 and (y is None or summary[y].nunique() <= 12)
    if grid:
        table = summary.pivot_table(index=y, columns=x, values=metric, aggfunc="mean") if y \
            else summary.groupby(x)[metric].mean().to_frame().T  # fmt: skip
        image = axis.imshow(table.to_numpy(dtype=float), origin="lower", cmap="viridis",
                            aspect="auto")  # fmt: skip
        axis.set_xticks(range(table.shape[1]), [f"{v:g}" for v in table.columns])
        axis.set_yticks(range(table.shape[0]), [f"{v:g}" for v in table.index] if y else [""])
        values = table.to_numpy(dtype=float)
        middle = np.nanmean(values)
        for (i, j), value in np.ndenumerate(values):
            if not math.isnan(value):
                axis.text(j, i, f"{value:.3f}", ha="center", va="center",
                          color="black" if value > middle else "white")  # fmt: skip
    else:
        image = axis.scatter(summary[x], summary[y] if y else np.zeros(len(summary)),
                             c=summary[metric], cmap="viridis", s=80)  # fmt: skip
    axis.set(xlabel=x, ylabel=y or "", title=f"{metric} over {x}" + (f" x {y}" if y else ""))
    figure.colorbar(image, ax=axis, label=metric)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True
