"""``recommend``'s answers: one dict per query (its ranked papers with ids, titles and
scores), shown as a table or as JSON."""

from __future__ import annotations

import json

from torch import Tensor

from heco_pyg.retrieval.catalog import Catalog
from heco_pyg.retrieval.queries import QueryPlan


def ranked_results(
    plan: QueryPlan, catalog: Catalog, scores: Tensor, found: Tensor, index: str
) -> list[dict]:
    """One dict per query of ``plan``: the query, its row (``None``: not in the graph), the
    view searched and the results, best first (``found``: rows, -1 for none)."""
    results = []
    columns = (plan.labels, plan.rows.tolist(), plan.encoded.tolist(), scores.tolist(),
               found.tolist())  # fmt: skip
    for label, row, cold, score, hits in zip(*columns, strict=True):
        results.append({
            "query": label,
            "row": row if row >= 0 else None,
            "paper_id": catalog.ids[row] if row >= 0 else label,
            "view": f"{plan.view} (cold start)" if cold else plan.view,
            "index": index,
            "results": [
                {"rank": rank, "row": hit, "paper_id": catalog.ids[hit],
                 "title": catalog.titles[hit], "score": value}
                for rank, (hit, value) in enumerate(zip(hits, score, strict=True), start=1)
                if hit >= 0  # faiss pads with -1 when a probe finds fewer than k
            ],
        })  # fmt: skip
    return results


def format_results(results: list[dict], output: str) -> str:
    if output == "json":
        return json.dumps(results, indent=2)
    if output != "table":
        raise ValueError(f"format must be table or json, got {output!r}")
    blocks = []
    for result in results:
        width = max([len("paper_id"), *(len(r["paper_id"]) for r in result["results"])])
        where = (
            "not in the graph" if result["row"] is None else f"in the graph, row {result['row']}"
        )
        lines = [
            f"query {result['query']} ({where}) - view {result['view']}, {result['index']} search",
            f"{'rank':>4}  {'paper_id':<{width}}  {'score':>7}  title",
        ]
        for r in result["results"]:
            title = r["title"] or ""
            lines.append(f"{r['rank']:>4}  {r['paper_id']:<{width}}  {r['score']:7.4f}  {title}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
