"""Held-out citation recommendation: ``python -m heco_pyg.evaluate run_dir=DIR task=recommend``.

The papers a paper cites (``data.citation_index``, outside the graph's edge stores, so
training never reads them) are its relevant items. Two protocols, both on the same seeded
validation / test split of the citing papers (:mod:`heco_pyg.evaluation.queries`):

* *full*: every citing paper of the half is a query and every other paper is ranked:
  ``Recall@k``, ``nDCG@k``, ``MRR``;
* *cite* (the shape of SciDocs' "cite" task): up to ``cite_queries / 2`` papers of the
  half with at least ``num_cited`` citations; each ranks ``num_cited`` of its cited papers
  among ``num_uncited`` random uncited ones: ``MAP`` and ``nDCG`` (in percent in tables).

Metrics (:mod:`heco_pyg.evaluation.ranking`) are computed the same way for each
embedding view (cosine) and each baseline (:mod:`heco_pyg.evaluation.baselines`). The
split and the candidates depend on ``seed`` only (not on the run), so runs with different
training seeds are scored on the same queries. The command (:mod:`heco_pyg.evaluate`)
writes the results, the split included, into the run's folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import Tensor

from heco_pyg.evaluation.baselines import (
    Scorer,
    baseline_scorers,
    cosine_scorer,
    last_batch_kept,
)
from heco_pyg.evaluation.queries import (
    HALVES,
    CiteQueries,
    citation_edges,
    cite_queries,
    cited_by,
    split_queries,
)
from heco_pyg.evaluation.ranking import candidate_metrics, full_ranking_metrics, mask_out

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecommendationSettings:
    """The protocols' sizes: ``k`` of the *full* protocol; the *cite* protocol's query
    count (both halves together), cited and uncited candidates per query; the views that
    also join the baselines' fusion as one more part (a row ``fusion + <view>``)."""

    k: int = 10
    batch_size: int = 256
    cite_queries: int = 1000
    num_cited: int = 5
    num_uncited: int = 25
    join_fusion: tuple[str, ...] = ("fused",)


def full_protocol(
    scorers: dict[str, Scorer], citations: Tensor, queries: Tensor, k: int, batch_size: int
) -> dict[str, dict[str, float]]:
    """``{scorer: {recall@k, ndcg@k, mrr}}``, means over ``queries`` (each batch is
    scored by every scorer in turn, so a fusion reuses its parts' scores)."""
    totals = {name: torch.zeros(3, dtype=torch.float64) for name in scorers}
    for rows in queries.split(batch_size):
        relevant = cited_by(citations, rows)
        for name, scorer in scorers.items():
            scores = scorer(rows).float().clone()
            mask_out(scores, rows)
            metrics = full_ranking_metrics(scores, relevant, k)
            totals[name] += torch.stack([metrics[m].double().sum() for m in
                                         ("recall", "ndcg", "reciprocal_rank")])  # fmt: skip
    n = max(queries.numel(), 1)
    return {name: {f"recall@{k}": float(t[0]) / n, f"ndcg@{k}": float(t[1]) / n,
                   "mrr": float(t[2]) / n} for name, t in totals.items()}  # fmt: skip


def cite_protocol(
    scorers: dict[str, Scorer], cite: CiteQueries, batch_size: int
) -> dict[str, dict[str, float]]:
    """``{scorer: {cite_map, cite_ndcg}}``, means over the *cite* queries."""
    totals = {name: torch.zeros(2, dtype=torch.float64) for name in scorers}
    for start in range(0, cite.queries.numel(), batch_size):
        rows = cite.queries[start : start + batch_size]
        candidates = cite.candidates[start : start + batch_size]
        relevant = cite.relevant[start : start + batch_size]
        for name, scorer in scorers.items():
            scores = scorer(rows).float().gather(1, candidates)
            metrics = candidate_metrics(scores, relevant)
            totals[name] += torch.stack([metrics["average_precision"].double().sum(),
                                         metrics["ndcg"].double().sum()])  # fmt: skip
    n = max(cite.queries.numel(), 1)
    return {name: {"cite_map": float(t[0]) / n, "cite_ndcg": float(t[1]) / n}
            for name, t in totals.items()}  # fmt: skip


def evaluate_recommendation(
    data, embeddings: dict[str, Tensor], settings: RecommendationSettings | None = None,
    seed: int = 0,
) -> dict:  # fmt: skip
    """Both protocols on both halves for every view and baseline, the split, and counts.

    Returns ``{"results": {half: {method: {metric: value}}}, "split": {...}, ...}``.
    """
    settings = settings or RecommendationSettings()
    n = data[data.target].num_nodes
    citations = citation_edges(data)
    halves = split_queries(citations, seed)
    scorers = {view: last_batch_kept(cosine_scorer(z)) for view, z in embeddings.items()}
    join = {view: scorers[view] for view in settings.join_fusion if view in scorers}
    scorers |= baseline_scorers(data, seed, join)
    results, split = {}, {}
    for number, half in enumerate(HALVES):
        cite = cite_queries(citations, halves[half], n, seed + 1 + number,
                            settings.cite_queries // 2, settings.num_cited,
                            settings.num_uncited)  # fmt: skip
        full = full_protocol(scorers, citations, halves[half], settings.k, settings.batch_size)
        cited = cite_protocol(scorers, cite, settings.batch_size)
        results[half] = {name: full[name] | cited[name] for name in scorers}
        split[half] = {"full": halves[half].tolist(), "cite": cite.queries.tolist()}
        log.debug("%s: %s", half, results[half])  # the table is the output
    citing = sum(len(s["full"]) for s in split.values())
    summary = {
        "k": settings.k,
        "settings": {**settings.__dict__, "join_fusion": list(settings.join_fusion)},
        "seed": seed,
        "num_papers": n,
        "citations_in_set": citations.size(1),
        "citing_papers": citing,
        "citations_per_citing_paper": citations.size(1) / max(citing, 1),
        "queries": {
            half: {"full": len(s["full"]), "cite": len(s["cite"])} for half, s in split.items()
        },  # fmt: skip
        "results": results,
        "split": split,
    }
    references = getattr(data[data.target], "num_references", None)
    if references is not None:  # the data source knows the full reference lists
        summary["references_total"] = int(torch.as_tensor(references).sum())
        summary["fraction_in_set"] = citations.size(1) / max(summary["references_total"], 1)
    return summary
