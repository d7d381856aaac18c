import math

import pytest
import torch

from heco_pyg.evaluation.recommendation import (
    evaluate_scorer,
    ranking_metrics,
    shared_neighbour_scorer,
)

# Five papers; rows are the scores each query paper gives every paper.
SCORES = torch.tensor([
    [0.9, 0.1, 0.5, 0.3, 0.7],
    [0.1, 0.9, 0.2, 0.3, 0.4],
    [0.0, 0.0, 0.0, 0.0, 0.0],
    [0.2, 0.8, 0.4, 0.99, 0.6],
    [0.0, 0.0, 0.0, 0.0, 0.0],
])  # fmt: skip
# Paper 0 cites 2 and 1, paper 3 cites 1, paper 1 cites 0.
CITATIONS = torch.tensor([[0, 0, 3, 1], [2, 1, 1, 0]])
LOG3 = math.log2(3)


def test_ranking_metrics_by_hand():
    # Query 0 (itself left out) ranks 4, 2, 3, 1: cited 2 at rank 2, cited 1 at rank 4.
    scores = SCORES[[0, 3, 1]].clone()
    scores[0, 0] = scores[1, 3] = scores[2, 1] = -math.inf
    relevant = torch.tensor([[0, 0, 1, 2], [2, 1, 1, 0]])
    metrics = ranking_metrics(scores, relevant, k=2)
    assert torch.allclose(metrics["recall"], torch.tensor([0.5, 1.0, 0.0]))
    ndcg_0 = (1 / LOG3) / (1 + 1 / LOG3)
    assert torch.allclose(metrics["ndcg"], torch.tensor([ndcg_0, 1.0, 0.0]))
    # Query 1 (paper 3) ranks 1 first; query 2 (paper 1) ranks 4, 3, 2, 0: cited 0 at 4.
    assert torch.allclose(metrics["reciprocal_rank"], torch.tensor([0.5, 1.0, 0.25]))


def test_ranking_metrics_query_without_relevant_is_nan():
    metrics = ranking_metrics(torch.rand(2, 4), torch.tensor([[0], [1]]), k=2)
    assert math.isnan(float(metrics["recall"][1])) and not math.isnan(float(metrics["recall"][0]))


def test_evaluate_scorer_averages_over_citing_papers():
    result = evaluate_scorer(lambda rows: SCORES[rows].clone(), CITATIONS, 5, k=2, batch_size=2)
    ndcg_0 = (1 / LOG3) / (1 + 1 / LOG3)
    assert result["recall@2"] == pytest.approx((0.5 + 0.0 + 1.0) / 3)
    assert result["ndcg@2"] == pytest.approx((ndcg_0 + 0.0 + 1.0) / 3)
    assert result["mrr"] == pytest.approx((0.5 + 0.25 + 1.0) / 3)


def test_shared_neighbour_scorer_counts_shared_authors():
    # Papers 0 and 1 share authors 0 and 1; paper 2 shares author 1 with both.
    edges = torch.tensor([[0, 0, 1, 1, 2], [0, 1, 0, 1, 1]])
    scores = shared_neighbour_scorer(edges, 3, 2, seed=0)(torch.tensor([0, 2]))
    assert torch.equal(scores.floor(), torch.tensor([[2.0, 2.0, 1.0], [1.0, 1.0, 1.0]]))
