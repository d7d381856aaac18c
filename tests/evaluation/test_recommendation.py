import pytest
import torch

from heco_pyg.evaluation.recommendation import (
    RecommendationSettings,
    evaluate_recommendation,
    full_protocol,
)
from tests.evaluation.test_baselines import tiny_graph

# Five papers; rows are the scores each query paper gives every paper.
SCORES = torch.tensor([
    [0.9, 0.1, 0.5, 0.3, 0.7],
    [0.1, 0.9, 0.2, 0.3, 0.4],
    [0.0, 0.0, 0.0, 0.0, 0.0],
    [0.2, 0.8, 0.4, 0.99, 0.6],
    [0.0, 0.0, 0.0, 0.0, 0.0],
])  # fmt: skip
# Sorted (citing, cited): paper 0 cites 1 and 2, paper 1 cites 0, paper 3 cites 1.
CITATIONS = torch.tensor([[0, 0, 1, 3], [1, 2, 0, 1]])


def test_full_protocol_averages_over_queries_by_hand():
    scorers = {"table": lambda rows: SCORES[rows].clone()}
    result = full_protocol(scorers, CITATIONS, torch.tensor([0, 1, 3]), k=2, batch_size=2)
    # Query 0 ranks 4, 2, 3, 1 (cited 2 at rank 2, 1 at rank 4); query 1 ranks 4, 3, 2, 0;
    # query 3 ranks 1 first.
    ndcg_0 = (1 / torch.log2(torch.tensor(3.0))) / (1 + 1 / torch.log2(torch.tensor(3.0)))
    assert result["table"]["recall@2"] == pytest.approx((0.5 + 0.0 + 1.0) / 3)
    assert result["table"]["ndcg@2"] == pytest.approx((float(ndcg_0) + 0.0 + 1.0) / 3)
    assert result["table"]["mrr"] == pytest.approx((0.5 + 0.25 + 1.0) / 3)


def test_evaluate_recommendation_halves_views_and_baselines():
    data = tiny_graph()
    data.citation_index = torch.tensor([[0, 1, 2, 3, 0, 0], [1, 0, 3, 2, 0, 1]])  # a self, a twin
    settings = RecommendationSettings(k=2, cite_queries=4, num_cited=1, num_uncited=2)
    summary = evaluate_recommendation(data, {"fused": data["paper"].x}, settings, seed=0)
    assert summary["citations_in_set"] == 4 and summary["citing_papers"] == 4
    split = summary["split"]
    assert not set(split["validation"]["full"]) & set(split["test"]["full"])
    assert set(split["test"]["cite"]) <= set(split["test"]["full"])
    assert summary == evaluate_recommendation(data, {"fused": data["paper"].x}, settings, seed=0)
    for half in ("validation", "test"):
        results = summary["results"][half]
        assert list(results) == ["fused", "random", "text", "tag", "user", "fusion",
                                 "fusion + fused", "sgc", "fusion + sgc"]  # fmt: skip
        # Without a bag of words, text is the features' cosine: the 'embedding' here.
        assert results["fused"] == pytest.approx(results["text"])
        # Each paper's twin (0-1, 2-3) is its most similar paper by features.
        assert results["text"]["recall@2"] == 1.0 and results["text"]["mrr"] == 1.0
        assert set(results["text"]) == {"recall@2", "ndcg@2", "mrr", "cite_map", "cite_ndcg"}
