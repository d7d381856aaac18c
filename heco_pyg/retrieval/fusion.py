"""``recommend scorer=fusion`` / ``fusion+embedding`` / ``fusion+sgc``: in-graph queries
ranked by the baselines' fusion (the mean of the text TF-IDF cosine and one TF-IDF cosine
per neighbour type, :mod:`heco_pyg.evaluation.baselines`), alone or with one more equal
part, the view's embedding cosine or the training-free SGC cosine: the rows ``fusion``,
``fusion + fused`` and ``fusion + sgc`` of ``evaluate task=recommend``, which beat the
embeddings alone on CiteULike (BENCHMARKS.md, "Recommendation on real data")."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from heco_pyg.core.errors import DataError
from heco_pyg.evaluation.baselines import (
    FUSION,
    cosine_scorer,
    fusion_parts,
    mean_scorer,
    sgc_features,
)
from heco_pyg.evaluation.ranking import mask_out
from heco_pyg.retrieval.queries import QueryPlan

SCORERS = ("embedding", "fusion", "fusion+embedding", "fusion+sgc")


def fusion_search(
    data, corpus: Tensor, plan: QueryPlan, scorer: str, k: int, batch_size: int = 1024
) -> tuple[QueryPlan, Tensor, Tensor]:
    """``(plan relabelled, scores [Q, k], rows [Q, k])`` of ``plan``'s in-graph queries
    under ``scorer`` (one of ``SCORERS[1:]``), the query itself left out."""
    if scorer not in SCORERS[1:]:
        raise DataError(f"scorer must be one of {', '.join(SCORERS)}, got {scorer!r}")
    parts = list(fusion_parts(data).values())
    label = FUSION
    if scorer == "fusion+embedding":
        parts.append(cosine_scorer(corpus))
        label = f"{FUSION} + {plan.view}"
    elif scorer == "fusion+sgc":
        parts.append(cosine_scorer(torch.from_numpy(sgc_features(data))))
        label = f"{FUSION} + sgc"
    score = mean_scorer(parts)
    k = min(k, corpus.size(0) - 1)
    values, rows = [], []
    for query_rows in plan.rows.split(batch_size):
        scores = score(query_rows).float().clone()
        mask_out(scores, query_rows)
        top = torch.topk(scores, k, dim=1)
        values.append(top.values)
        rows.append(top.indices)
    return replace(plan, view=label), torch.cat(values), torch.cat(rows)
