"""recommend on a CiteULike run: article indexes as queries, tags as descriptions, and
cold start from a record of tags and users (heco_pyg/recommend.py, retrieval/coldstart.py)."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from omegaconf import OmegaConf, open_dict

from heco_pyg.cli.restore import load_run_graph
from heco_pyg.recommend import format_results, recommend
from heco_pyg.retrieval.coldstart import NewPaper, neighbour_lookup, neighbourhood_features
from heco_pyg.train import train
from tests.conftest import compose_config
from tests.helpers.citeulike import write_release


@pytest.fixture(scope="module")
def citeulike_run(tmp_path_factory):
    """A tiny finished run of the attention model on an 8-article release."""
    root = tmp_path_factory.mktemp("citeulike")
    release = write_release(root / "release")
    cfg = compose_config([
        "data=citeulike", f"data.path={release}", "data.text_dim=4", "model=heco",
        "data.preparation.sample_sizes={user: 2, tag: 2}", "data.preparation.pos_num=2",
        "trainer.max_epochs=3", "trainer.threads=1", "trainer.progress=false", "logger=none",
        "protocol.repeats=1", "protocol.clustering_runs=1",
    ])  # fmt: skip
    run = root / "run"
    with open_dict(cfg):
        cfg.paths.output_dir = str(run)
        cfg.paths.data_dir = str(root / "data")
    (run / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    train(cfg, run)
    return run


def _config(run_dir, *overrides):
    return compose_config([f"run_dir={run_dir}", *overrides], name="recommend")


def test_query_is_the_article_index_and_tags_describe_the_results(citeulike_run):
    (result,) = recommend(_config(citeulike_run, "query=3", "k=3"))
    assert result["row"] == 3 and result["paper_id"] == "3"
    assert [r["paper_id"] for r in result["results"]] == [str(r["row"]) for r in result["results"]]
    descriptions = {r["row"]: r["title"] for r in result["results"]}
    assert all(text.startswith("all") for text in descriptions.values())  # the most used tag
    table = format_results([result], "table")
    assert all(text in table for text in descriptions.values())


def test_cold_start_from_tag_names_ids_and_users(citeulike_run, tmp_path, caplog):
    record = {"id": "new", "tags": ["graphs", 2, "no such tag"], "users": [0]}
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))
    with caplog.at_level(logging.INFO):
        (result,) = recommend(_config(citeulike_run, f"record={path}", "k=3"))
    assert result["row"] is None and result["view"] == "schema (cold start)"
    assert len(result["results"]) == 3
    assert "features = the mean of the papers sharing its neighbours" in caplog.text
    assert "'tag': 1" in caplog.text  # "no such tag" is dropped and counted


def test_lookup_by_name_or_id_and_neighbourhood_features(citeulike_run):
    data = load_run_graph(citeulike_run)
    lookup = neighbour_lookup(data)
    assert lookup["tag"]["graphs"] == 1 == lookup["tag"]["1"]
    assert lookup["user"]["3"] == 3
    paper = NewPaper(None, {"tag": torch.tensor([3]), "user": torch.tensor([0])})
    # Tag 3 is on article 6; user 0 has articles 0, 1, 2.
    expected = data["paper"].x[[6, 0, 1, 2]].mean(0)
    assert torch.allclose(neighbourhood_features(data, paper), expected)
    empty = {t: torch.empty(0, dtype=torch.long) for t in ("tag", "user")}
    assert neighbourhood_features(data, NewPaper(None, empty)) is None
