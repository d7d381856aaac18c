import math

import torch

from heco_pyg.evaluation.ranking import _stable_ranks, candidate_metrics, full_ranking_metrics

LOG3 = math.log2(3)
LOG5 = math.log2(5)


def test_full_ranking_metrics_by_hand():
    # Query 0 (itself left out) ranks 4, 2, 3, 1: cited 2 at rank 2, cited 1 at rank 4.
    scores = torch.tensor([
        [-math.inf, 0.1, 0.5, 0.3, 0.7],
        [0.2, 0.8, 0.4, -math.inf, 0.6],
        [0.1, -math.inf, 0.2, 0.3, 0.4],
    ])  # fmt: skip
    relevant = torch.tensor([[0, 0, 1, 2], [2, 1, 1, 0]])
    metrics = full_ranking_metrics(scores, relevant, k=2)
    assert torch.allclose(metrics["recall"], torch.tensor([0.5, 1.0, 0.0]))
    ndcg_0 = (1 / LOG3) / (1 + 1 / LOG3)
    assert torch.allclose(metrics["ndcg"], torch.tensor([ndcg_0, 1.0, 0.0]))
    # Query 1 ranks its cited 1 first; query 2 ranks 4, 3, 2, 0: cited 0 at rank 4.
    assert torch.allclose(metrics["reciprocal_rank"], torch.tensor([0.5, 1.0, 0.25]))


def test_full_ranking_ties_rank_in_item_order():
    # All equal: item 3 is ranked after items 0, 1, 2 (a stable sort's order).
    metrics = full_ranking_metrics(torch.zeros(1, 5), torch.tensor([[0], [3]]), k=3)
    assert float(metrics["recall"][0]) == 0.0 and float(metrics["reciprocal_rank"][0]) == 0.25


def test_full_ranking_query_without_relevant_is_nan():
    metrics = full_ranking_metrics(torch.rand(2, 4), torch.tensor([[0], [1]]), k=2)
    assert math.isnan(float(metrics["recall"][1])) and not math.isnan(float(metrics["recall"][0]))


def test_candidate_metrics_by_hand():
    # Ranked order: c2 (relevant), c0, c3 (relevant), c1: AP = (1/1 + 2/3) / 2.
    scores = torch.tensor([[0.5, 0.1, 0.9, 0.3], [0.4, 0.3, 0.2, 0.1]])
    relevant = torch.tensor([[False, False, True, True], [False, False, False, True]])
    metrics = candidate_metrics(scores, relevant)
    assert torch.allclose(metrics["average_precision"], torch.tensor([(1 + 2 / 3) / 2, 1 / 4]))
    ndcg_0 = (1 + 1 / LOG5 * 0 + 1 / math.log2(4)) / (1 + 1 / LOG3)
    assert torch.allclose(metrics["ndcg"], torch.tensor([ndcg_0, 1 / LOG5]))


def test_candidate_metrics_perfect_and_empty():
    metrics = candidate_metrics(torch.tensor([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]]),
                                torch.tensor([[True, True, False], [False, False, False]]))  # fmt: skip
    assert float(metrics["average_precision"][0]) == 1.0 and float(metrics["ndcg"][0]) == 1.0
    assert math.isnan(float(metrics["average_precision"][1]))


def test_full_ranking_ranks_are_a_stable_sorts_ranks():
    # Many ties (scores in {0, 1, 2}), -inf entries, queries with 0 to 5 relevant items.
    generator = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 3, (6, 40), generator=generator).float()
    scores[torch.arange(6), torch.arange(6)] = -math.inf
    query = torch.tensor([0, 0, 2, 2, 2, 2, 2, 3, 5, 1])
    item = torch.randint(0, 40, (10,), generator=generator)
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    position = torch.empty_like(order)
    position.scatter_(1, order, torch.arange(40).expand(6, -1))
    expected = position[query, item] + 1
    assert torch.equal(_stable_ranks(scores, query, item), expected)
    metrics = full_ranking_metrics(scores, torch.stack([query, item]), k=40)
    best = torch.full((6,), 41).scatter_reduce(0, query, expected, reduce="amin")
    assert torch.allclose(metrics["reciprocal_rank"][best <= 40], 1 / best[best <= 40].float())
    assert torch.isnan(metrics["reciprocal_rank"][4])
