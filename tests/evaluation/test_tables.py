import json

import pytest

from heco_pyg.evaluation.tables import recommendation_markdown
from tests.helpers.scripts import load_script


def summary(recall: float, split=(1, 2)) -> dict:
    metrics = {"recall@10": recall, "ndcg@10": 0.1, "mrr": 0.2, "cite_map": 0.9, "cite_ndcg": 0.95}
    return {"k": 10, "num_papers": 5, "citations_in_set": 4, "citing_papers": 2,
            "queries": {"test": {"full": 1, "cite": 1}, "validation": {"full": 1, "cite": 0}},
            "results": {"test": {"fused": metrics}, "validation": {"fused": metrics}},
            "split": {"validation": {"full": [split[0]]}, "test": {"full": [split[1]]}}}  # fmt: skip


def test_one_run_test_half_first_cite_in_percent():
    table = recommendation_markdown(summary(0.25))
    assert table.index("Test half") < table.index("Validation half")
    assert "| fused | 0.2500 | 0.1000 | 0.2000 | 90.0 | 95.0 |" in table


def test_several_runs_mean_and_sample_std():
    table = recommendation_markdown([summary(0.2), summary(0.4)])
    assert "mean ± std over 2 runs" in table
    assert "| fused | 0.3000 ± 0.1414 | 0.1000 ± 0.0000 |" in table


def test_script_reads_runs_and_refuses_different_splits(tmp_path, capsys):
    script = load_script("recommend_table")
    for name, split in (("a", (1, 2)), ("b", (1, 2)), ("c", (2, 1))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "recommend_eval.json").write_text(json.dumps(summary(0.2, split)))
    assert "| fused | 0.2000 ± 0.0000 |" in script.main([str(tmp_path / "a"), str(tmp_path / "b")])
    with pytest.raises(SystemExit):
        script.main([str(tmp_path / "a"), str(tmp_path / "c")])
    assert "different splits" in capsys.readouterr().err
