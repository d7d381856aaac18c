"""A local report of a run or a sweep, from its files alone (no wandb):
``python -m heco_pyg.report DIR [--format html|md] [--output PATH]``.

A run dir (``history.csv``, ``metrics.json``): loss curves, attention weights over the
epochs, embedding diagnostics over the epochs when logged, the metrics table. A sweep dir
(run folders with ``.hydra/overrides.yaml``): the sweep summary table and heatmap
(:mod:`heco_pyg.sweep`), every run's loss curve and attention weights over the epochs.
HTML embeds its figures (one self-contained file); markdown writes them into
``<name>_files/`` beside it.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from heco_pyg.sweep import (  # noqa: E402
    markdown_table,
    override_keys,
    run_dirs,
    swept_keys,
    write_summary,
)

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


def metrics_table(metrics: dict[str, float]) -> pd.DataFrame:
    """``view/metric`` keys as a view x metric table (``_std`` left out); other keys
    (loss, epochs, ...) as a one-row table."""
    views = sorted({k.split("/", 1)[0] for k in metrics if "/" in k})
    names = sorted({k.split("/", 1)[1] for k in metrics if "/" in k and not k.endswith("_std")})
    rows = [{"view": v} | {n: metrics.get(f"{v}/{n}", float("nan")) for n in names} for v in views]
    return pd.DataFrame(rows)


class Report:
    """Sections of text, tables and figures, written as HTML or markdown."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[tuple[str, object]] = []

    def heading(self, text: str) -> None:
        self.parts.append(("heading", text))

    def text(self, text: str) -> None:
        self.parts.append(("text", text))

    def table(self, frame: pd.DataFrame) -> None:
        self.parts.append(("table", frame))

    def figure(self, figure: plt.Figure | Path, name: str) -> None:
        if isinstance(figure, Path):
            data = figure.read_bytes()
        else:
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=100)
            plt.close(figure)
            data = buffer.getvalue()
        self.parts.append(("figure", (name, data)))

    def html(self) -> str:
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for kind, value in self.parts:
            if kind == "heading":
                body.append(f"<h2>{html.escape(value)}</h2>")
            elif kind == "text":
                body.append(f"<p>{html.escape(value)}</p>")
            elif kind == "table":
                body.append(value.to_html(index=False, float_format=lambda x: f"{x:.4g}",
                                          na_rep="", border=0))  # fmt: skip
            else:
                name, data = value
                encoded = base64.b64encode(data).decode()
                body.append(f'<img alt="{name}" src="data:image/png;base64,{encoded}">')
        style = ("body{font-family:sans-serif;max-width:1400px;margin:auto}"
                 "table{border-collapse:collapse;font-size:13px}"
                 "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
                 "img{max-width:100%}")  # fmt: skip
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
                f"{html.escape(self.title)}</title><style>{style}</style></head><body>\n"
                + "\n".join(body) + "\n</body></html>\n")  # fmt: skip

    def markdown(self, files_dir: Path) -> str:
        files_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"# {self.title}", ""]
        for kind, value in self.parts:
            if kind == "heading":
                lines += [f"## {value}", ""]
            elif kind == "text":
                lines += [value, ""]
            elif kind == "table":
                lines += [markdown_table(value), ""]
            else:
                name, data = value
                (files_dir / f"{name}.png").write_bytes(data)
                lines += [f"![{name}]({files_dir.name}/{name}.png)", ""]
        return "\n".join(lines)


def run_report(run_dir: Path) -> Report:
    report = Report(f"HeCo run {run_dir.name}")
    overrides_path = run_dir / ".hydra" / "overrides.yaml"
    if overrides_path.exists():
        overrides = yaml.safe_load(overrides_path.read_text()) or []
        report.text("Overrides: " + (" ".join(overrides) or "(none)"))
    history = pd.read_csv(run_dir / "history.csv")
    report.heading("Training")
    report.figure(plot_run(history), "training")
    metrics_path = run_dir / "metrics.json"
    if metrics_path.exists():
        metrics = json.loads(metrics_path.read_text())
        report.heading("Metrics")
        scalars = {k: v for k, v in metrics.items() if "/" not in k}
        report.table(pd.DataFrame([scalars]))
        report.table(metrics_table(metrics))
    else:
        report.text("No metrics.json: the run did not finish.")
    return report


def sweep_metric(sweep_dir: Path) -> str | None:
    """The sweep's ``optimized_metric``, from the ``multirun.yaml`` Hydra writes."""
    path = sweep_dir / "multirun.yaml"
    if not path.exists():
        return None
    return (yaml.safe_load(path.read_text()) or {}).get("optimized_metric")


def sweep_report(sweep_dir: Path) -> Report:
    report = Report(f"HeCo sweep {sweep_dir.name}")
    metric = sweep_metric(sweep_dir)
    summary_path = sweep_dir / "sweep_summary.csv"
    summary = pd.read_csv(summary_path) if summary_path.exists() else write_summary(
        sweep_dir, metric)  # fmt: skip
    swept = swept_keys(summary)
    report.text(f"{len(summary)} runs over {', '.join(swept) or 'no swept keys'}"
                + (f"; optimised metric {metric}." if metric else "."))  # fmt: skip
    if (sweep_dir / "sweep_heatmap.png").exists():
        report.figure(sweep_dir / "sweep_heatmap.png", "sweep_heatmap")
    labels = {str(row["run"]): " ".join(f"{k.rsplit('.', 1)[-1]}={row[k]}" for k in swept)
              for _, row in summary.iterrows()}  # fmt: skip
    histories = {
        labels.get(run_dir.name) or run_dir.name: pd.read_csv(run_dir / "history.csv")
        for run_dir in run_dirs(sweep_dir)
        if (run_dir / "history.csv").exists()
    }
    if histories:
        report.heading("Loss and attention over the epochs")
        report.figure(plot_sweep(histories), "runs")
    report.heading("Runs")
    common = [k for k in override_keys(summary) if k not in swept]
    if common:
        first = summary["overrides"].iloc[0].split()
        shared = [o for o in first if o.partition("=")[0].lstrip("+~") in common]
        report.text("Overrides shared by every run: " + " ".join(shared))
    keep = [c for c in summary.columns if c not in common and c != "overrides"
            and not c.endswith("_std") and not c.startswith("features/")]  # fmt: skip
    report.table(summary[keep])
    return report


def write_report(directory: str | Path, format: str = "html", output: str | Path | None = None
                 ) -> Path:  # fmt: skip
    """Writes the report of a run or sweep dir; returns its path (default
    ``DIR/report.html`` or ``DIR/report.md``)."""
    directory = Path(directory)
    if format not in ("html", "md"):
        raise ValueError(f"format must be html or md, got {format!r}")
    if (directory / "history.csv").exists():
        report = run_report(directory)
    elif run_dirs(directory):
        report = sweep_report(directory)
    else:
        raise FileNotFoundError(
            f"{directory}: neither a run dir (history.csv) nor a sweep dir "
            "(run folders with .hydra/overrides.yaml)"
        )
    path = Path(output) if output else directory / f"report.{format}"
    if format == "html":
        text = report.html()
    else:
        text = report.markdown(path.parent / f"{path.stem}_files")
    path.write_text(text)
    return path


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m heco_pyg.report", description=__doc__.split(
        "\n")[0])  # fmt: skip
    parser.add_argument("directory", type=Path, help="a run dir or a sweep dir")
    parser.add_argument("--format", choices=["html", "md"], default="html")
    parser.add_argument("--output", type=Path, default=None,
                        help="report path (default: DIR/report.<format>)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        path = write_report(args.directory, args.format, args.output)
    except FileNotFoundError as error:
        parser.error(str(error))
    print(path)
    return path


if __name__ == "__main__":
    main()
