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


def _recommendation_columns(k: int) -> list[tuple[str, str, float]]:
    """(key, heading, scale): the *full* protocol as fractions, *cite* in percent (as SciDocs)."""
    return [(f"recall@{k}", f"Recall@{k}", 1.0), (f"ndcg@{k}", f"nDCG@{k}", 1.0),
            ("mrr", "MRR", 1.0), ("cite_map", "cite MAP", 100.0),
            ("cite_ndcg", "cite nDCG", 100.0)]  # fmt: skip


def _cell(values: list[float], scale: float) -> str:
    digits = 1 if scale == 100.0 else 4
    mean = scale * sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    std = scale * (sum((v - mean / scale) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def recommendation_markdown(summary: dict | list[dict]) -> str:
    """Markdown tables, one row per method: the *test* half first, then *validation*
    (where choices are made). A list of summaries (runs with different seeds, the same
    split) gives ``mean ± std`` (sample std) per cell."""
    summaries = summary if isinstance(summary, list) else [summary]
    first = summaries[0]
    k = first["k"]
    columns = _recommendation_columns(k)
    queries = first["queries"]
    lines = [
        f"Citation recommendation, {first['num_papers']} papers, "
        f"{first['citations_in_set']} within-set citations from "
        f"{first['citing_papers']} citing papers"
        + (f", mean ± std over {len(summaries)} runs" if len(summaries) > 1 else "")
        + ".",
    ]
    for half in ("test", "validation"):
        lines += [
            "",
            f"{half.capitalize()} half: {queries[half]['full']} full-ranking queries, "
            f"{queries[half]['cite']} cite queries.",
            "",
            "| method | " + " | ".join(heading for _, heading, _ in columns) + " |",
            "|---|" + "---:|" * len(columns),
        ]
        for method in first["results"][half]:
            cells = [_cell([s["results"][half][method][key] for s in summaries], scale)
                     for key, _, scale in columns]  # fmt: skip
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
