"""Held-out citation recommendation: ``python -m heco_pyg.evaluate run_dir=DIR task=recommend``.

Each paper with at least one citation inside the set is a query; the papers it cites
(``data.citation_index``, outside the graph's edge stores, so training never reads them)
are the relevant items. Every other paper is ranked by a score (the query itself is left out) and

* ``Recall@k`` = ``|cited in the top k| / |cited|``;
* ``nDCG@k`` = ``sum_{cited i, rank_i <= k} 1 / log2(rank_i + 1)`` divided by its ideal,
  ``sum_{r=1}^{min(|cited|, k)} 1 / log2(r + 1)`` (binary gains);
* ``MRR`` = ``1 / rank`` of the best-ranked cited paper in the *full* ranking,

averaged over queries. Scores: the run's embeddings (cosine, per view) and three
baselines: the raw text features (cosine), co-authorship (the PAP count: shared
authors, ties broken at random) and random scores. The command
(:mod:`heco_pyg.evaluate`) writes the results into the run's folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor

from heco_pyg.data.graph import citation_index, schema_edge_type
from heco_pyg.evaluation.ranking import mask_out

log = logging.getLogger(__name__)

Scorer = Callable[[Tensor], Tensor]


def ranking_metrics(scores: Tensor, relevant: Tensor, k: int) -> dict[str, Tensor]:
    """Per-query Recall@k, nDCG@k and reciprocal rank.

    Args:
        scores: ``[B, N]`` item scores per query; excluded items set to ``-inf``.
        relevant: ``[2, R]`` (query position in ``0..B-1``, relevant item) pairs.
        k: the cut-off.

    Returns:
        ``{"recall", "ndcg", "reciprocal_rank"}``, each ``[B]`` (``nan`` for queries
        without relevant items). Ties rank in ``torch.sort`` order.
    """
    batch, num_items = scores.shape
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    position = torch.empty_like(order)
    position.scatter_(1, order, torch.arange(num_items).expand(batch, -1))
    query, item = relevant
    rank = position[query, item] + 1  # [R], 1-based

    num_relevant = torch.bincount(query, minlength=batch).float()
    hit = (rank <= k).float()
    recall = torch.zeros(batch).index_add_(0, query, hit) / num_relevant
    gain = hit / torch.log2(rank.float() + 1)
    discount = 1 / torch.log2(torch.arange(2, k + 2).float())
    ideal = torch.cumsum(discount, 0)[(num_relevant.clamp(max=k) - 1).clamp(min=0).long()]
    ndcg = torch.zeros(batch).index_add_(0, query, gain) / ideal
    best = torch.full((batch,), num_items + 1).scatter_reduce(0, query, rank, reduce="amin")
    reciprocal_rank = 1 / best.float()
    missing = num_relevant == 0
    return {
        "recall": recall.masked_fill(missing, float("nan")),
        "ndcg": ndcg.masked_fill(missing, float("nan")),
        "reciprocal_rank": reciprocal_rank.masked_fill(missing, float("nan")),
    }


def evaluate_scorer(
    scorer: Scorer, citations: Tensor, num_items: int, k: int = 10, batch_size: int = 256
) -> dict[str, float]:
    """Mean metrics of ``scorer`` (query rows ``[B]`` -> scores ``[B, N]``) over every
    citing paper; ``citations`` is ``[2, E]`` (citing, cited) without self-citations."""
    citing = torch.unique(citations[0])
    order = torch.argsort(citations[0], stable=True)
    sorted_citing, sorted_cited = citations[0][order], citations[1][order]
    totals = {"recall": 0.0, "ndcg": 0.0, "reciprocal_rank": 0.0}
    for rows in citing.split(batch_size):
        scores = scorer(rows).float()
        mask_out(scores, rows)
        # The batch's citations: the sorted runs of its (sorted, unique) citing rows.
        start = torch.searchsorted(sorted_citing, rows)
        end = torch.searchsorted(sorted_citing, rows, right=True)
        count = end - start
        query = torch.repeat_interleave(torch.arange(rows.numel()), count)
        offset = torch.arange(int(count.sum())) - torch.repeat_interleave(
            torch.cumsum(count, 0) - count, count
        )
        item = sorted_cited[start[query] + offset]
        metrics = ranking_metrics(scores, torch.stack([query, item]), k)
        for name, value in metrics.items():
            totals[name] += float(value.sum())
    n = max(citing.numel(), 1)
    return {
        f"recall@{k}": totals["recall"] / n,
        f"ndcg@{k}": totals["ndcg"] / n,
        "mrr": totals["reciprocal_rank"] / n,
    }


def cosine_scorer(vectors: Tensor) -> Scorer:
    z = F.normalize(vectors.float(), dim=1)
    return lambda rows: z[rows] @ z.t()


def shared_neighbour_scorer(edge_index: Tensor, num_rows: int, num_cols: int, seed: int) -> Scorer:
    """Shared-neighbour counts (``A A^T``, the meta-path count), ties broken at random
    by adding ``U[0, 0.5)``."""
    row, col = edge_index.numpy()
    incidence = sp.csr_matrix((np.ones(len(row), np.float32), (row, col)), (num_rows, num_cols))
    incidence.data[:] = 1.0  # duplicates count once
    transpose = incidence.T.tocsr()
    generator = torch.Generator().manual_seed(seed)

    def score(rows: Tensor) -> Tensor:
        counts = torch.from_numpy((incidence[rows.numpy()] @ transpose).toarray())
        return counts + 0.5 * torch.rand(counts.shape, generator=generator)

    return score


def random_scorer(num_items: int, seed: int) -> Scorer:
    generator = torch.Generator().manual_seed(seed)
    return lambda rows: torch.rand(rows.numel(), num_items, generator=generator)


def citation_edges(data) -> Tensor:
    """The graph's within-set citations ``[2, E]`` (citing, cited), self-citations dropped."""
    edge_index = citation_index(data)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    return torch.unique(edge_index, dim=1)


def evaluate_recommendation(
    data, embeddings: dict[str, Tensor], k: int = 10, batch_size: int = 256, seed: int = 0
) -> dict:
    """Metrics per embedding view and per baseline, plus counts of what was evaluated."""
    target = data.target
    n = data[target].num_nodes
    citations = citation_edges(data)
    scorers: dict[str, Scorer] = {view: cosine_scorer(z) for view, z in embeddings.items()}
    scorers["text"] = cosine_scorer(data[target].x)
    if "author" in data.neighbour_types:
        scorers["coauthor"] = shared_neighbour_scorer(
            data[schema_edge_type(target, "author")].edge_index,
            n, data["author"].num_nodes, seed,
        )  # fmt: skip
    scorers["random"] = random_scorer(n, seed)
    results = {}
    for name, scorer in scorers.items():
        results[name] = evaluate_scorer(scorer, citations, n, k, batch_size)
        log.debug("%s: %s", name, results[name])  # the table is the output
    citing = torch.unique(citations[0]).numel()
    summary = {
        "k": k,
        "num_papers": n,
        "citations_in_set": citations.size(1),
        "citing_papers": citing,
        "citations_per_citing_paper": citations.size(1) / max(citing, 1),
        "results": results,
    }
    references = getattr(data[target], "num_references", None)
    if references is not None:  # the data source knows the full reference lists
        summary["references_total"] = int(torch.as_tensor(references).sum())
        summary["fraction_in_set"] = citations.size(1) / max(summary["references_total"], 1)
    return summary
