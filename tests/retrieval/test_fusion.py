"""recommend scorer=fusion / fusion+embedding (heco_pyg/retrieval/fusion.py) on a tiny
CiteULike run: the same ranking as the evaluation's rows of the same names."""

from __future__ import annotations

import pytest
import torch

from heco_pyg.cli.restore import load_run_graph
from heco_pyg.core.errors import DataError
from heco_pyg.evaluation.baselines import baseline_scorers, cosine_scorer
from heco_pyg.recommend import recommend
from heco_pyg.runs.run_dir import RunDir
from tests.test_recommend_citeulike import _config, citeulike_run  # noqa: F401 (fixture)


@pytest.mark.parametrize(("scorer", "row"), [("fusion", "fusion"),
                                             ("fusion+embedding", "fusion + fused"),
                                             ("fusion+sgc", "fusion + sgc")])  # fmt: skip
def test_fusion_scorers_rank_as_the_evaluation_rows(citeulike_run, scorer, row):  # noqa: F811
    (result,) = recommend(_config(citeulike_run, "query=3", "k=4", f"scorer={scorer}"))
    assert result["view"] == row
    run = RunDir(citeulike_run)
    join = {"fused": cosine_scorer(run.embeddings("fused")[0])}
    scores = baseline_scorers(load_run_graph(run), 0, join)[row](torch.tensor([3]))[0]
    scores[3] = -float("inf")
    found = [r["row"] for r in result["results"]]
    assert 3 not in found
    assert torch.allclose(torch.tensor([r["score"] for r in result["results"]]),
                          scores[found], atol=1e-6)  # fmt: skip
    assert torch.allclose(scores[found], torch.topk(scores, 4).values, atol=1e-6)


def test_unknown_scorer_is_refused(citeulike_run):  # noqa: F811
    with pytest.raises(DataError, match="scorer must be one of"):
        recommend(_config(citeulike_run, "query=3", "scorer=tfidf"))
