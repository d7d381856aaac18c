"""Evaluation results as text: the per-view table a run prints, the paper's protocol and
the recommendation evaluation as markdown."""

from __future__ import annotations

from heco_pyg.evaluation.protocol import METRIC_NAMES, METRICS


def format_table(results: dict[str, dict[str, float]]) -> str:
    """A fixed-width text table, one row per view."""
    columns = sorted({c for metrics in results.values() for c in metrics if not c.endswith("_std")})
    order = ["micro_f1", "macro_f1", "nmi", "ari", "mean_cosine", "top5_cosine", "effective_rank"]
    columns = [c for c in order if c in columns] + [c for c in columns if c not in order]
    lines = ["view".ljust(10) + "".join(c.rjust(16) for c in columns)]
    for view, metrics in results.items():
        cells = "".join(f"{metrics.get(c, float('nan')):16.4f}" for c in columns)
        lines.append(view.ljust(10) + cells)
    return "\n".join(lines)


def protocol_markdown(result: dict, title: str = "HeCo protocol") -> str:
    """The table: metrics x label rates, ``mean +- std`` in percent; clustering below."""
    rates = list(result["classification"])
    lines = [f"### {title}", "", "| metric | " + " | ".join(rates) + " |",
             "|---|" + "---|" * len(rates)]  # fmt: skip
    for metric in METRICS:
        cells = [result["classification"][r][metric] for r in rates]
        lines.append(f"| {METRIC_NAMES[metric]} | "
                     + " | ".join(f"{100 * c['mean']:.2f} ± {100 * c['std']:.2f}" for c in cells)
                     + " |")  # fmt: skip
    clustering = result["clustering"]
    lines += ["", f"K-means: NMI {100 * clustering['nmi']:.2f}, ARI {100 * clustering['ari']:.2f}"]
    return "\n".join(lines) + "\n"


def recommendation_markdown(summary: dict) -> str:
    """A markdown table, one row per method."""
    k = summary["k"]
    lines = [
        f"Citation recommendation, {summary['num_papers']} papers, "
        f"{summary['citations_in_set']} within-set citations from "
        f"{summary['citing_papers']} citing papers (queries).",
        "",
        f"| method | Recall@{k} | nDCG@{k} | MRR |",
        "|---|---:|---:|---:|",
    ]
    for name, metrics in summary["results"].items():
        lines.append(
            f"| {name} | {metrics[f'recall@{k}']:.4f} | {metrics[f'ndcg@{k}']:.4f} "
            f"| {metrics['mrr']:.4f} |"
        )
    return "\n".join(lines) + "\n"
