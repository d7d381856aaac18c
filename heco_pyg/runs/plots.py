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
    axes[0].set(xlabel="epoch", ylabel="loss", title="contrastive loss")
    axes[0].legend(fontsize=8)
    for axis, (prefix, columns) in zip(axes[1:], groups.items(), strict=True):
        for column in columns:
            series = history[["epoch", column]].dropna()
            axis.plot(series["epoch"], series[column], marker="." if len(series) < 30 else None,
                      label=_label(column, prefix))  # fmt: skip
        axis.set(xlabel="epoch", ylabel=GROUPS[prefix].split(" (")[0], title=GROUPS[prefix])
        if prefix.startswith("attention/"):
            axis.set_ylim(0, 1)
        axis.legend(fontsize=8)
    figure = axes[0].figure
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_sweep(histories: dict[str, pd.DataFrame], loss_keys: list[str] | None = None
               ) -> plt.Figure:  # fmt: skip
    """Every run's loss and attention weights over the epochs, one colour per run in every
    panel (attention: smoothed over the faint raw line), one legend below the panels.

    ``loss_keys``: the swept keys that change the objective itself (``loss.tau``, the data,
    ...). When given, raw losses of different runs are not comparable, so the loss panel
    shows each run's loss scaled to its own range, ``(loss - min) / (first - min)`` (1 at
    the first epoch, 0 at the best), which compares how fast runs converge, not where."""
    columns = ["loss"] + sorted({c for h in histories.values() for c in h.columns
                                 if c.startswith("attention/")})  # fmt: skip
    axes = _panels(len(columns), columns=3)
    colours = plt.get_cmap("tab20" if len(histories) > 10 else "tab10").colors
    for axis, column in zip(axes, columns, strict=True):
        attention = column.startswith("attention/")
        for colour, (label, history) in zip(colours * 10, histories.items(), strict=False):
            if column not in history:
                continue
            values = history[column]
            if attention:
                axis.plot(history["epoch"], values, color=colour, alpha=0.2, lw=0.7)
                values = smooth(values)
            elif loss_keys:
                low, first = values.min(), values.iloc[0]
                values = (values - low) / (first - low) if first > low else values * 0
            axis.plot(history["epoch"], values, color=colour, label=label)
        if attention:
            window = max(3, max(len(h) for h in histories.values()) // 20)
            axis.set(xlabel="epoch", ylabel=f"weight (rolling mean, {window} epochs)",
                     title=column, ylim=(0, 1))  # fmt: skip
        elif loss_keys:
            axis.set(xlabel="epoch", ylabel="(loss - min) / (first - min)",
                     title=f"loss scaled per run ({', '.join(loss_keys)} differ:\n"
                           "raw losses not comparable)")  # fmt: skip
        else:
            axis.set(xlabel="epoch", ylabel="loss", title="loss")
    figure = axes[0].figure
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8,
                  frameon=False)  # fmt: skip
    figure.tight_layout(rect=(0, 0.06 * -(-len(labels) // 4), 1, 1))
    return figure


def smooth(values: pd.Series, window: int | None = None) -> pd.Series:
    """A centred rolling mean (``window``: about a twentieth of the series, at least 3)."""
    window = window or max(3, len(values) // 20)
    return values.rolling(window, center=True, min_periods=1).mean()


def plot_history(
    history: pd.DataFrame, loss_path: Path, attention_path: Path, title: str = ""
) -> None:
    """``loss.png``: one panel per loss term (total, L_mp, L_sc; each on its own y axis),
    the best epoch and the last epoch marked; ``attention.png``: every attention weight,
    a smoothed line over the raw one, its window in the title. ``title`` (short: the data's
    name) heads both."""
    epochs, losses = history["epoch"], [c for c in LOSSES if c in history]
    best = int(history.loc[history["loss"].idxmin(), "epoch"])
    last = int(epochs.iloc[-1])
    figure, axes = plt.subplots(1, len(losses), figsize=(4.2 * len(losses), 3.6), squeeze=False)
    for axis, column in zip(axes[0], losses, strict=True):
        axis.plot(epochs, history[column], color="tab:blue", label=LOSSES[column])
        axis.axvline(best, color="tab:green", linestyle="--", linewidth=1,
                     label=f"best epoch {best}")  # fmt: skip
        axis.axvline(last, color="tab:red", linestyle=":", linewidth=1,
                     label=f"stop (epoch {last})")  # fmt: skip
        axis.plot([best], history.loc[epochs == best, column], "o", color="tab:green")
        axis.set(xlabel="epoch", ylabel=f"{LOSSES[column]} (contrastive loss)",
                 title=LOSSES[column])  # fmt: skip
        axis.legend(fontsize=8)
    figure.suptitle(f"HeCo training loss: {title}" if title else "HeCo training loss")
    figure.tight_layout()
    figure.savefig(loss_path, dpi=120)
    plt.close(figure)

    columns = [c for c in history.columns if c.startswith("attention/")]
    groups = sorted({c.split("/")[1] for c in columns})
    figure, axes = plt.subplots(1, max(len(groups), 1), figsize=(5 * max(len(groups), 1), 4),
                                squeeze=False)  # fmt: skip
    titles = {"type": "type-level attention (schema view)",
              "semantic": "semantic attention (meta-path view)"}  # fmt: skip
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    window = max(3, len(history) // 20)  # smooth()'s default
    for axis, group in zip(axes[0], groups, strict=False):
        members = [c for c in columns if c.split("/")[1] == group]
        for colour, column in zip(colours, members, strict=False):
            axis.plot(epochs, history[column], color=colour, alpha=0.3, linewidth=0.8)
            axis.plot(epochs, smooth(history[column], window), color=colour,
                      label=column.split("/")[-1])  # fmt: skip
        axis.set(xlabel="epoch", ylabel="weight", ylim=(0, 1), title=titles.get(group, group))
        axis.legend(fontsize=8)
    figure.suptitle((f"{title}: " if title else "") + f"faint: each epoch; solid: centred "
                    f"rolling mean over {window} epochs")  # fmt: skip
    figure.tight_layout()
    figure.savefig(attention_path, dpi=120)
    plt.close(figure)


def is_grid(cells: pd.DataFrame, x: str, y: str | None) -> bool:
    """Whether the swept values form a full grid of at most 12 x 12 (a grid sweep), not
    scattered samples (random or Optuna sweeps, drawn on their real axes)."""
    columns, rows = cells[x].nunique(), cells[y].nunique() if y else 1
    return columns <= 12 and rows <= 12 and len(cells) == columns * rows


def colour_range(cells: pd.DataFrame, maximise: bool) -> tuple[float, float]:
    """The colour scale: it ends at the best mean and spans the spread of the means or
    twice the largest noise (``noise``: std over seeds, or over the probe's splits for one
    seed; ``std`` when absent), whichever is wider, so that differences smaller than the
    noise never look like a trend."""
    best = cells["mean"].max() if maximise else cells["mean"].min()
    noise = cells["noise"] if "noise" in cells else cells["std"]
    noise = float(noise.max()) if noise.notna().any() else 0.0
    width = max(float((cells["mean"] - best).abs().max()), 2 * noise, 1e-9)
    return (best - width, best) if maximise else (best, best + width)


def heatmap_caption(cells: pd.DataFrame) -> str:
    """What the heatmap's cells show, for its title: the mean ± std over seeds where cells
    hold several seeds, else one run per cell ± the probe's std over its splits (when
    known), else the value alone."""
    low, high = int(cells["seeds"].min()), int(cells["seeds"].max())
    if high > 1:
        seeds = f"{low}-{high}" if low != high else str(high)
        return f"mean ± std over {seeds} seeds"
    if "noise" in cells and cells["noise"].notna().any():
        return "one run per cell, ± std over the probe's splits"
    return "one run per cell"


def plot_heatmap(
    cells: pd.DataFrame, metric: str, keys: list[str], path: Path, maximise: bool = True
) -> bool:
    """``metric`` over one or two swept keys: a heatmap whose cells show mean ± std over
    seeds and the number of seeds (``cells`` from :func:`heco_pyg.runs.sweep.seed_cells`:
    the keys, ``mean``, ``std``, ``seeds``), the best cell outlined, the colour scale from
    :func:`colour_range`; a scatter on the real axes when the values do not form a full
    grid (random or Optuna sweeps). Returns False when there is nothing to plot."""
    if cells.empty or cells["mean"].isna().all() or not keys:
        return False
    x, y = keys[0], keys[1] if len(keys) > 1 else None
    vmin, vmax = colour_range(cells, maximise)
    cmap = "viridis" if maximise else "viridis_r"
    best = cells.loc[cells["mean"].idxmax() if maximise else cells["mean"].idxmin()]
    figure, axis = plt.subplots(figsize=(6.4, 5.0))
    if is_grid(cells, x, y):
        columns = sorted(cells[x].unique())
        rows = sorted(cells[y].unique()) if y else [None]
        values = np.full((len(rows), len(columns)), np.nan)
        for _, cell in cells.iterrows():
            i, j = rows.index(cell[y]) if y else 0, columns.index(cell[x])
            values[i, j] = cell["mean"]
            spread = cell["noise"] if "noise" in cell and math.isnan(cell["std"]) else cell["std"]
            std = "" if math.isnan(spread) else f"\n± {spread:.3f}"
            dark = (cell["mean"] - vmin) / (vmax - vmin) < 0.5
            if not maximise:
                dark = not dark
            axis.text(j, i, f"{cell['mean']:.3f}{std}\nn={int(cell['seeds'])}", ha="center",
                      va="center", fontsize=9, color="white" if dark else "black")  # fmt: skip
        image = axis.imshow(values, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax,
                            aspect="auto")  # fmt: skip
        axis.set_xticks(range(len(columns)), [f"{v:g}" for v in columns])
        axis.set_yticks(range(len(rows)), [f"{v:g}" for v in rows] if y else [""])
        i, j = rows.index(best[y]) if y else 0, columns.index(best[x])
        axis.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red",
                                     linewidth=2.5))  # fmt: skip
    else:
        ys = cells[y] if y else np.zeros(len(cells))
        image = axis.scatter(cells[x], ys, c=cells["mean"], cmap=cmap, vmin=vmin, vmax=vmax,
                             s=90, edgecolors="grey")  # fmt: skip
        axis.scatter([best[x]], [best[y] if y else 0], s=260, facecolors="none",
                     edgecolors="red", linewidths=2)  # fmt: skip
        for key, set_scale in ((x, axis.set_xscale), (y, axis.set_yscale)):
            values = cells[key] if key else None
            if values is not None and (values > 0).all() and values.max() / values.min() > 20:
                set_scale("log")  # e.g. learning rates: their real, logarithmic axis
    title = f"{metric}: {heatmap_caption(cells)}, best outlined"
    axis.set(xlabel=x, ylabel=y or "", title=title)
    figure.colorbar(image, ax=axis, label=f"{metric} (scale at least 2 std wide)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True
