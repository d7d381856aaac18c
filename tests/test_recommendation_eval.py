import json
import math

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from heco_pyg.evaluation.recommendation import (
    evaluate_run,
    evaluate_scorer,
    format_markdown,
    ranking_metrics,
    shared_neighbour_scorer,
)
from heco_pyg.outputs import write_embeddings
from tests.conftest import TINY_SYNTHETIC, compose_config

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


def _fake_run(tmp_path, overrides):
    """A run dir with a real config and the raw features as 'embeddings'."""
    cfg = compose_config([*overrides, "logger=none", f"paths.data_dir={tmp_path / 'data'}"])
    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    data = instantiate(cfg.data, _convert_="all")
    x = torch.nn.functional.normalize(data["paper"].x, dim=1).numpy()
    write_embeddings(run_dir, {"schema": x, "semantic": x, "fused": x}, data["paper"].node_ids)
    return run_dir


@pytest.fixture
def fake_run(tmp_path):
    return _fake_run(tmp_path, TINY_SYNTHETIC)


def test_evaluate_run_writes_json_and_table(fake_run):
    cfg = OmegaConf.create({"run_dir": str(fake_run), "seed": 0, "recommend": {"k": 10}})
    summary = evaluate_run(cfg)
    saved = json.loads((fake_run / "recommend_eval.json").read_text())
    assert saved["results"].keys() == {"schema", "semantic", "fused", "text", "coauthor", "random"}
    assert saved["citations_in_set"] > 0 and saved["num_papers"] == 300
    # The 'embeddings' are the text features: the same scores, the same metrics.
    assert saved["results"]["fused"] == pytest.approx(saved["results"]["text"])
    # Random recall@10 is about 10 / 299; co-authorship finds planted citations far better.
    assert saved["results"]["random"]["recall@10"] < 0.1
    assert saved["results"]["coauthor"]["recall@10"] > saved["results"]["random"]["recall@10"]
    table = (fake_run / "recommend_eval.md").read_text()
    assert table == format_markdown(summary) and "| coauthor |" in table


@pytest.mark.slow
def test_evaluate_run_on_real_openalex_works(shared_dir, tmp_path):
    works = shared_dir / "data" / "openalex" / "works_page_biodiversity_finance.json"
    overrides = ["data=openalex", "data.source=works", f"data.path={works}"]
    run_dir = _fake_run(tmp_path, overrides)
    summary = evaluate_run(OmegaConf.create({"run_dir": str(run_dir), "seed": 0}))
    # 200 works cite each other only a handful of times: the evaluation still runs.
    assert summary["num_papers"] == 200
    assert 0 < summary["citations_in_set"] < 100
    assert summary["results"]["fused"] == pytest.approx(summary["results"]["text"])
