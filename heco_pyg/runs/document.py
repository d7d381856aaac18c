"""The local report of a run or a sweep: sections of text, tables and figures written as
one self-contained HTML file or as markdown with its figures beside it."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd
import yaml

from heco_pyg.core.atomic import write_atomic
from heco_pyg.core.errors import RunError
from heco_pyg.runs.plots import plot_run, plot_sweep, plt
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.runs.sweep import (
    best_line,
    markdown_table,
    override_keys,
    ranking,
    swept_keys,
    write_summary,
)


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
                write_atomic(files_dir / f"{name}.png", data)
                lines += [f"![{name}]({files_dir.name}/{name}.png)", ""]
        return "\n".join(lines)


def run_report(run_dir: Path) -> Report:
    """The report of a finished (or interrupted) run; :class:`RunError` for any other."""
    run = RunDir(run_dir)
    manifest = run.verify()  # the report describes the run's files as they are
    history, metrics = run.history(required=True), run.metrics()
    report = Report(f"HeCo run {run.path.name}")
    if run.overrides_path.exists():
        report.text("Overrides: " + (" ".join(run.overrides()) or "(none)"))
    report.text(f"Status: {manifest['status']}, {manifest.get('epochs_done')} epochs (best "
                f"{manifest.get('best_epoch')}), {manifest.get('started')} to "
                f"{manifest.get('ended')}, heco_pyg {manifest.get('package_version')}, commit "
                f"{manifest.get('git_commit') or 'unknown'}.")  # fmt: skip
    report.heading("Training")
    report.figure(plot_run(history), "training")
    if metrics is not None:
        report.heading("Metrics")
        scalars = {k: v for k, v in metrics.items() if "/" not in k}
        report.table(pd.DataFrame([scalars]))
        report.table(metrics_table(metrics))
    else:
        report.text("No metrics: training was interrupted before its evaluation; resume it: "
                    + run.resume_command(manifest))  # fmt: skip
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
    histories = {}
    for run in RunDir.in_sweep(sweep_dir):
        try:
            history = run.history()
        except RunError:  # unfinished or changed: the summary's status column says which
            continue
        if history is not None:
            histories[labels.get(run.path.name) or run.path.name] = history
    if histories:
        report.heading("Loss and attention over the epochs")
        objective = [k for k in swept if k.startswith(("loss.", "data."))]
        report.figure(plot_sweep(histories, objective), "runs")
    report.heading("Runs")
    common = [k for k in override_keys(summary) if k not in swept]
    if common:
        first = summary["overrides"].iloc[0].split()
        shared = [o for o in first if o.partition("=")[0].lstrip("+~") in common]
        report.text("Overrides shared by every run: " + " ".join(shared))
    table = ranking(summary, metric)
    report.text(best_line(table) + ". Every column of every run: sweep_summary.csv.")
    report.table(table)
    return report


def write_report(directory: str | Path, format: str = "html", output: str | Path | None = None
                 ) -> Path:  # fmt: skip
    """Writes the report of a run or sweep dir; returns its path (default
    ``DIR/report.html`` or ``DIR/report.md``)."""
    directory = Path(directory)
    if format not in ("html", "md"):
        raise ValueError(f"format must be html or md, got {format!r}")
    if RunDir(directory).is_training_run():
        report = run_report(directory)
    elif RunDir.in_sweep(directory):
        report = sweep_report(directory)
    else:
        raise FileNotFoundError(
            f"{directory}: neither a run dir (history.csv) nor a sweep dir "
            "(run folders with .hydra/overrides.yaml)"
        )
    path = Path(output) if output else RunDir(directory).report_path(format)
    if format == "html":
        text = report.html()
    else:
        text = report.markdown(path.parent / f"{path.stem}_files")
    return write_atomic(path, text)
