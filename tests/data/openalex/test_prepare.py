"""``python -m heco_pyg.prepare``: graph_stats.json checked against an independent count."""

from __future__ import annotations

import json

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from heco_pyg.core.errors import DataError
from heco_pyg.data.openalex.api import OpenAlexUnavailable
from heco_pyg.prepare import prepare
from tests.conftest import CONFIG_DIR, TINY_SYNTHETIC, compose_config


def prepare_config(overrides, tmp_path):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="prepare", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.data_dir = str(tmp_path / "data")
    return cfg


def count_raw(folder, min_score=0.1):
    """The counts graph_stats.json should report, straight from the raw JSON (no package code)."""
    works = {}
    for file in sorted(folder.glob("*.json")):
        value = json.loads(file.read_text())
        for w in value["results"] if "results" in value else [value]:
            if w["id"] not in works or w["updated_date"] >= works[w["id"]]["updated_date"]:
                works[w["id"]] = w
    authors, pa, concepts, pc, cites, labels = set(), set(), set(), set(), set(), {}
    no_author = no_concept = no_abstract = 0
    for wid, w in works.items():
        mine = {a["author"]["id"] for a in w["authorships"] or [] if a["author"].get("id")}
        kept = {c["id"] for c in w["concepts"] or [] if c["score"] >= min_score}
        authors |= mine
        concepts |= kept
        pa |= {(wid, a) for a in mine}
        pc |= {(wid, c) for c in kept}
        cites |= {(wid, r) for r in w["referenced_works"] or [] if r in works and r != wid}
        no_author += not mine
        no_concept += not kept
        no_abstract += not w["abstract_inverted_index"]
        topic = w.get("primary_topic") or (w["topics"][0] if w.get("topics") else None)
        field = topic["field"]["display_name"] if topic else None
        labels[field] = labels.get(field, 0) + 1
    return {
        "papers": len(works), "authors": len(authors), "concepts": len(concepts),
        "pa": len(pa), "pc": len(pc), "cites": len(cites), "no_author": no_author,
        "no_concept": no_concept, "no_abstract": no_abstract, "labels": labels,
    }  # fmt: skip


def test_graph_stats_match_an_independent_count_of_the_shared_works(tmp_path, shared_dir):
    folder = shared_dir / "data/openalex"
    cfg = prepare_config(["data=openalex", "data.source=works", f"data.path={folder}"], tmp_path)
    stats = prepare(cfg, tmp_path / "graph_stats.json")
    assert json.loads((tmp_path / "graph_stats.json").read_text()) == json.loads(
        json.dumps(stats, default=str)
    )
    raw = count_raw(folder)
    assert stats["nodes"] == {"paper": raw["papers"], "author": raw["authors"],
                              "concept": raw["concepts"]}  # fmt: skip
    assert stats["edges"] == {"paper-author": raw["pa"], "paper-concept": raw["pc"],
                              "cites": raw["cites"]}  # fmt: skip
    assert stats["papers_without_authors"] == raw["no_author"]
    assert stats["papers_without_concepts"] == raw["no_concept"]
    assert stats["papers_without_abstract"] == raw["no_abstract"]
    assert stats["unlabelled"] == raw["labels"].pop(None, 0)
    assert stats["labelled_per_class"] == raw["labels"]
    assert stats["ingest"]["bad_records"] == 0
    pcp = stats["metapaths"]["PCP"]
    assert pcp["density_before_pruning"] > 0.5 > 0.1 > pcp["density_after_pruning"]
    assert stats["positives_per_paper"]["max"] == cfg.data.preparation.pos_num
    assert not stats["cache"]["hit"]
    assert prepare(cfg, tmp_path / "again.json")["cache"]["hit"]


def test_prepare_works_for_synthetic_data(tmp_path):
    overrides = ["data=synthetic", *[o for o in TINY_SYNTHETIC if o.startswith("data.")]]
    stats = prepare(prepare_config(overrides, tmp_path), tmp_path / "graph_stats.json")
    assert stats["nodes"]["paper"] == 300 and stats["edges"]["cites"] > 0
    assert set(stats["metapaths"]) == {"PAP", "PCP"}
    assert sum(stats["labelled_per_class"].values()) == 300


def test_default_source_is_the_api_and_fails_fast_offline(tmp_path):
    cfg = prepare_config(["data=openalex", "data.api_url=http://127.0.0.1:9"], tmp_path)
    assert cfg.data.source == "api" and cfg.data.query.max_works > 0
    with pytest.raises(OpenAlexUnavailable, match=r"data\.source=works"):
        prepare(cfg, tmp_path / "graph_stats.json")


def test_bad_source_is_named(tmp_path):
    cfg = prepare_config(["data=openalex", "data.source=snapshot"], tmp_path)
    with pytest.raises(DataError, match="data.source"):
        prepare(cfg, tmp_path / "graph_stats.json")


@pytest.mark.slow
def test_train_on_the_shared_openalex_works(tmp_path, shared_dir):
    from heco_pyg.train import train

    cfg = compose_config([
        "data=openalex", "data.source=works", f"data.path={shared_dir / 'data/openalex'}",
        "logger=none", "trainer.max_epochs=3", "trainer.threads=1", "trainer.progress=false",
    ])  # fmt: skip
    with open_dict(cfg):
        cfg.paths.data_dir = str(tmp_path / "data")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    metrics = train(cfg, run_dir)
    assert metrics["epochs"] == 3
    ids = (run_dir / "embeddings/ids.csv").read_text().splitlines()
    assert ids[1].split(",")[1].startswith("https://openalex.org/W")
