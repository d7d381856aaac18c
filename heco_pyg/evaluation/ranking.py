"""Ranking metrics of the two recommendation protocols (:mod:`heco_pyg.evaluation.recommendation`).

* *full*: every other paper is ranked; per query

  - ``Recall@k`` = ``|cited in the top k| / |cited|``;
  - ``nDCG@k`` = ``sum_{cited i, rank_i <= k} 1 / log2(rank_i + 1)`` over its ideal
    ``sum_{r=1}^{min(|cited|, k)} 1 / log2(r + 1)`` (binary gains);
  - ``MRR`` = ``1 / rank`` of the best-ranked cited paper in the whole ranking.

* *cite* (the shape of SciDocs' "cite" task): a short candidate list per query (its
  cited papers among random uncited ones) is ranked; per query

  - ``MAP`` = average precision: the mean over the relevant candidates of
    ``|relevant at rank <= rank_i| / rank_i``;
  - ``nDCG`` over the whole candidate list (binary gains, no cut-off).

Equal scores rank in item order (a stable sort); the *cite* protocol shuffles its
candidates, so its ties break at random. :func:`mask_out` (leaving items out of a ranking)
is shared with the search (:mod:`heco_pyg.retrieval.search`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def mask_out(score: Tensor, exclude: Tensor) -> None:
    """Sets ``score[b, exclude[b]] = -inf`` in place where ``exclude[b] >= 0``."""
    batch = torch.nonzero(exclude >= 0).view(-1)
    score[batch, exclude[batch]] = -math.inf


def _discount(ranks: Tensor) -> Tensor:
    return 1 / torch.log2(ranks.float() + 1)


def _stable_ranks(scores: Tensor, query: Tensor, item: Tensor) -> Tensor:
    """The 1-based rank of each (query, item) in its row sorted by descending score, equal
    scores in item order (a stable sort's rank): ``1 + |higher| + |equal and earlier|``.
    Counted by binary search in each row's sorted scores; rows are compared whole only
    for the pairs that share their score with another item."""
    batch, num_items = scores.shape
    own = scores[query, item]
    if own.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    ascending = torch.sort(scores, dim=1).values
    # Each query's values side by side ([B, M], M = most relevant items of one query).
    order = torch.argsort(query, stable=True)
    count = torch.bincount(query, minlength=batch)
    slot = torch.empty_like(query)
    slot[order] = torch.arange(query.numel()) - (torch.cumsum(count, 0) - count)[query[order]]
    values = torch.zeros(batch, int(count.max()), dtype=scores.dtype)
    values[query, slot] = own
    higher = num_items - torch.searchsorted(ascending, values, right=True)[query, slot]
    equal = num_items - higher - torch.searchsorted(ascending, values)[query, slot]
    rank = 1 + higher
    tied = torch.nonzero(equal > 1).view(-1)
    for chunk in tied.split(256):
        same = scores[query[chunk]] == own[chunk].unsqueeze(1)
        earlier = torch.arange(num_items).unsqueeze(0) < item[chunk].unsqueeze(1)
        rank[chunk] += (same & earlier).sum(1)
    return rank


def full_ranking_metrics(scores: Tensor, relevant: Tensor, k: int) -> dict[str, Tensor]:
    """Per-query Recall@k, nDCG@k and reciprocal rank over whole rankings.

    Args:
        scores: ``[B, N]`` item scores per query; excluded items set to ``-inf``.
        relevant: ``[2, R]`` (query position in ``0..B-1``, relevant item) pairs.
        k: the cut-off.

    Returns:
        ``{"recall", "ndcg", "reciprocal_rank"}``, each ``[B]`` (``nan`` for queries
        without relevant items).
    """
    batch, num_items = scores.shape
    query, item = relevant
    rank = _stable_ranks(scores, query, item)  # [R], 1-based

    num_relevant = torch.bincount(query, minlength=batch).float()
    hit = (rank <= k).float()
    recall = torch.zeros(batch).index_add_(0, query, hit) / num_relevant
    ideal = torch.cumsum(_discount(torch.arange(1, k + 1)), 0)
    ideal = ideal[(num_relevant.clamp(max=k) - 1).clamp(min=0).long()]
    ndcg = torch.zeros(batch).index_add_(0, query, hit * _discount(rank)) / ideal
    best = torch.full((batch,), num_items + 1).scatter_reduce(0, query, rank, reduce="amin")
    missing = num_relevant == 0
    return {
        "recall": recall.masked_fill(missing, float("nan")),
        "ndcg": ndcg.masked_fill(missing, float("nan")),
        "reciprocal_rank": (1 / best.float()).masked_fill(missing, float("nan")),
    }


def candidate_metrics(scores: Tensor, relevant: Tensor) -> dict[str, Tensor]:
    """Per-query average precision and nDCG of short candidate lists.

    Args:
        scores: ``[B, C]`` the scores of each query's ``C`` candidates.
        relevant: ``[B, C]`` bool, which candidates are relevant (cited).

    Returns:
        ``{"average_precision", "ndcg"}``, each ``[B]`` (``nan`` without relevant ones).
    """
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    gains = relevant.gather(1, order).float()  # [B, C] relevance in rank order
    ranks = torch.arange(1, scores.size(1) + 1).float()
    precision = torch.cumsum(gains, 1) / ranks
    num_relevant = gains.sum(1)
    average_precision = (precision * gains).sum(1) / num_relevant
    ideal = torch.cumsum(_discount(ranks), 0)[(num_relevant - 1).clamp(min=0).long()]
    ndcg = (gains * _discount(ranks)).sum(1) / ideal
    missing = num_relevant == 0
    return {
        "average_precision": average_precision.masked_fill(missing, float("nan")),
        "ndcg": ndcg.masked_fill(missing, float("nan")),
    }
