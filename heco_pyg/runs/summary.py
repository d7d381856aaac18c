"""The end of a run in words: where it is, why it stopped, where the time went, the results
with a caption that says how they were measured, the warnings that change how to read
them, and the commands to run next.

``train`` times its phases with :class:`Phases` and ends with :func:`report_run`, which
logs :func:`run_summary`'s text: Hydra's logging prints it and writes it into the run's
``train.log``.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from heco_pyg.core.phases import duration
from heco_pyg.evaluation import ProtocolSettings
from heco_pyg.evaluation.tables import format_table

log = logging.getLogger(__name__)

#: The summary's text width (the results table may be wider).
WIDTH = 100

#: Views whose probe scores are compared with the raw features' (the baseline).
EMBEDDING_VIEWS = ("fused", "semantic", "schema")


@dataclass
class RunOutcome:
    """What :func:`run_summary` needs to know about a finished training run.

    Args:
        run_dir: the run folder.
        epochs, max_epochs, best_epoch: how long training ran, its bound, its best epoch.
        phase_seconds: wall time per phase (:class:`Phases`).
        results: ``{view: {metric: value}}`` of the probe (``features`` = raw features).
        settings: the probe's settings (labels per class, repeats).
        labels: the target's labels (``-1`` unlabelled), or None.
        has_splits: whether the data has the paper's fixed split masks.
        protocol_table: the paper's protocol table (markdown) when it ran.
        latest: the ``latest`` link that points to the run folder, when there is one.
        class_names: the name of each label (OpenAlex fields), when the data has them.
        example_id: a paper id of the run, for the ``recommend`` hint.
        has_citations: whether the data has citations (``evaluate task=recommend``).
    """

    run_dir: Path
    epochs: int
    max_epochs: int
    best_epoch: int
    phase_seconds: Mapping[str, float] = field(default_factory=dict)
    results: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    settings: ProtocolSettings = field(default_factory=ProtocolSettings)
    labels: np.ndarray | None = None
    has_splits: bool = False
    protocol_table: str | None = None
    latest: Path | None = None
    class_names: Sequence[str] | None = None
    example_id: str | None = None
    has_citations: bool = True


def stop_line(outcome: RunOutcome) -> str:
    """``early stop at epoch e (best epoch b)`` or ``max epochs (m) reached (best epoch b)``."""
    if outcome.epochs < outcome.max_epochs:
        stale = outcome.epochs - outcome.best_epoch
        return (f"early stop at epoch {outcome.epochs} (best epoch {outcome.best_epoch}, "
                f"{stale} epochs without improvement)")  # fmt: skip
    return f"max epochs ({outcome.max_epochs}) reached (best epoch {outcome.best_epoch})"


def caption(outcome: RunOutcome) -> str:
    """How the results table was measured."""
    settings = outcome.settings
    if not any("micro_f1" in m for m in outcome.results.values()):
        return ("Embedding diagnostics only (no labels): mean pairwise cosine near 1 or a small "
                "effective rank means collapse.")  # fmt: skip
    return (
        f"Linear probe (not the paper's protocol): {settings.per_class} labelled training and "
        f"{settings.per_class} validation papers per class, the rest for testing, mean over "
        f"{settings.repeats} seeded splits (std in metrics.json as *_std); K-means NMI/ARI over "
        f"{settings.clustering_runs} runs. `features` = the raw input features, read by "
        "scikit-learn's logistic regression on the same splits (the baseline)."
        + (
            ""
            if outcome.has_splits
            else " The data has no fixed split masks, so the paper's "
            "protocol (evaluate task=protocol) does not apply to it."
        )
    )


def std_line(results: Mapping[str, Mapping[str, float]]) -> str | None:
    """``micro_f1 std over splits: fused 0.004, ...`` when the probe ran more than once."""
    cells = [f"{view} {m['micro_f1_std']:.3f}" for view, m in results.items()
             if "micro_f1_std" in m]  # fmt: skip
    return "micro_f1 std over splits: " + ", ".join(cells) if cells else None


def warnings(outcome: RunOutcome) -> list[str]:
    """What changes the reading of the results: embeddings below the raw features, classes
    too small for the probe's splits (named), training cut by the epoch cap while still
    improving. (No split masks is said once, in the caption.)"""
    found = []
    results = outcome.results
    baseline = results.get("features", {}).get("micro_f1")
    scores = {
        v: results[v]["micro_f1"] for v in EMBEDDING_VIEWS if "micro_f1" in results.get(v, {})
    }
    if baseline is not None and scores:
        best_view = max(scores, key=scores.get)
        if scores[best_view] < baseline:
            found.append(
                f"every embedding is below the raw features: best {best_view} micro_f1 "
                f"{scores[best_view]:.3f} < features {baseline:.3f}; the embeddings add nothing "
                "over the input features on this data (train longer, or check the meta-paths)"
            )
    if outcome.epochs >= outcome.max_epochs and outcome.best_epoch > outcome.epochs - max(
            1, outcome.epochs // 20):  # fmt: skip
        found.append(
            f"training stopped at the epoch cap while the loss was still improving (best "
            f"epoch {outcome.best_epoch} of {outcome.max_epochs}): the embeddings may not have "
            f"converged; train longer, e.g. trainer.max_epochs={2 * outcome.max_epochs}"
        )
    labels, names = outcome.labels, list(outcome.class_names or [])
    if labels is not None and "micro_f1" in results.get("features", {}):
        classes, counts = np.unique(labels[labels >= 0], return_counts=True)
        needed = 2 * outcome.settings.per_class + 1
        small = [f"{names[c] if c < len(names) else c} ({k})"
                 for c, k in zip(classes, counts, strict=True) if k < needed]  # fmt: skip
        if small:
            found.append(
                f"{len(small)} of {len(classes)} classes have fewer than {needed} labelled "
                f"papers (protocol.per_class={outcome.settings.per_class} for training and as "
                f"many for validation, at least one to test): {'; '.join(small[:8])}"
                + (" ..." if len(small) > 8 else "")
                + "; their test sets are empty or tiny, lower protocol.per_class"
            )
    return found


def next_commands(run_dir: Path, outcome: RunOutcome | None = None) -> list[str]:
    """The commands that use this run (each one run on a real run by tests/test_hints.py):
    similar papers of its first paper (``query=<its id>``, or ``row=0`` where ids are plain
    numbers), the report, and the evaluation its data supports (held-out citations, or the
    paper's protocol on its fixed splits)."""
    example = outcome.example_id if outcome is not None else None
    query = f"query={example}" if example and not example.isdigit() else "row=0"
    commands = [
        f"python -m heco_pyg.recommend run_dir={run_dir} {query}  # similar papers",
        f"python -m heco_pyg.report {run_dir}  # report.html",
    ]
    if outcome is None or outcome.has_citations:
        commands.append(f"python -m heco_pyg.evaluate run_dir={run_dir} task=recommend"
                        "  # held-out citations")  # fmt: skip
    if outcome is not None and outcome.has_splits:
        commands.append(f"python -m heco_pyg.evaluate run_dir={run_dir} task=protocol"
                        "  # the paper's protocol")  # fmt: skip
    width = max(len(c.split("  #")[0]) for c in commands)
    return [f"{c.split('  #')[0]:<{width}}  #{c.split('  #')[1]}" for c in commands]


def shown(path: Path) -> Path:
    """``path`` relative to the working directory when it lies below it."""
    path = Path(path)
    try:
        return path.absolute().relative_to(Path.cwd())
    except ValueError:
        return path


def run_summary(outcome: RunOutcome) -> str:
    """The text that ends a training run."""
    where = str(shown(outcome.run_dir))
    if outcome.latest is not None:
        where += f"  (also {shown(outcome.latest)})"
    times = [f"{name} {duration(s)}" for name, s in outcome.phase_seconds.items()]
    if outcome.phase_seconds:
        times.append(f"total {duration(sum(outcome.phase_seconds.values()))}")
    lines = [
        "=" * 30 + " run summary " + "=" * 30,
        f"run folder  {where}",
        f"stopped     {stop_line(outcome)}",
        f"wall time   {', '.join(times)}",
        "",
        textwrap.fill(caption(outcome), WIDTH),
        format_table(dict(outcome.results)),
    ]
    if (spread := std_line(outcome.results)) is not None:
        lines.append(spread)
    if outcome.protocol_table:
        lines += ["", "The paper's protocol (its fixed splits; the numbers of its tables):",
                  outcome.protocol_table.rstrip()]  # fmt: skip
    if found := warnings(outcome):
        lines += ["", "warnings:"]
        lines += [textwrap.fill(w, WIDTH, initial_indent="  ! ", subsequent_indent="    ")
                  for w in found]  # fmt: skip
    handle = shown(outcome.latest if outcome.latest is not None else outcome.run_dir)
    lines += ["", "next:"] + [f"  {c}" for c in next_commands(handle, outcome)]
    return "\n".join(lines)


def report_run(outcome: RunOutcome) -> str:
    """Logs :func:`run_summary` (printed, and in ``train.log`` through Hydra's logging);
    returns the text."""
    text = run_summary(outcome)
    log.info("\n%s", text)
    return text
