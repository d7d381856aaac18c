import json
import shutil

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf, open_dict

from heco_pyg.cli.restore import load_run_graph
from heco_pyg.core.errors import DataError, RunError
from heco_pyg.data.graph import schema_edge_type
from heco_pyg.recommend import format_results, recommend
from heco_pyg.retrieval.catalog import Catalog, normalise_doi
from heco_pyg.retrieval.search import faiss_available
from heco_pyg.train import train
from tests.conftest import TINY_SYNTHETIC, compose_config
from tests.helpers.runs import TAMPERINGS, tamper


def finished_run(root, model: str):
    cfg = compose_config([*TINY_SYNTHETIC, "logger=none", f"model={model}"])
    with open_dict(cfg):
        cfg.paths.output_dir = str(root)
    (root / ".hydra").mkdir()
    OmegaConf.save(cfg, root / ".hydra" / "config.yaml")
    train(cfg, root)
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny finished run (mean aggregation: cold start is deterministic)."""
    return finished_run(tmp_path_factory.mktemp("recommend"), "heco_mean")


@pytest.fixture
def run_copy(run_dir, tmp_path):
    """A copy of the finished run, to change."""
    shutil.copytree(run_dir, tmp_path / "run")
    return tmp_path / "run"


def _config(run_dir, *overrides):
    return compose_config([f"run_dir={run_dir}", *overrides], name="recommend")


def test_catalog_resolves_ids_dois_and_rows(tmp_path):
    ids = ["https://openalex.org/W10", "https://openalex.org/W20", "https://openalex.org/W30"]
    metadata = tmp_path / "papers.csv"
    metadata.write_text(
        "paper_id,title,doi\nW20,Second paper,https://doi.org/10.1000/ABC\nW99,Not here,\n"
    )
    catalog = Catalog.load(ids, metadata)
    assert catalog.resolve("W10") == 0
    assert catalog.resolve("https://openalex.org/w30") == 2
    assert catalog.resolve("10.1000/abc") == 1 == catalog.resolve("doi:10.1000/ABC")
    assert catalog.row(2) == 2 == catalog.row("2")
    assert catalog.titles == [None, "Second paper", None]
    for bad, message in (("W11", "not among"), (2, "not among"), ("10.1/zz", "DOI")):
        with pytest.raises(DataError, match=message):
            catalog.resolve(bad)  # a number is an id, never a row
    for bad, message in ((7, "out of range"), (-1, "non-negative"), ("W1", "non-negative")):
        with pytest.raises(DataError, match=message):
            catalog.row(bad)
    with pytest.raises(DataError, match="no DOIs"):
        Catalog.load(ids).resolve("10.1000/abc")
    assert normalise_doi("https://dx.doi.org/10.5/X") == "10.5/x" and normalise_doi("W1") is None


def test_recommend_table_and_json(run_dir, tmp_path):
    (tmp_path / "queries.txt").write_text("# papers\nS4\n\n")
    cfg = _config(run_dir, "query=[S1]", f"query_file={tmp_path / 'queries.txt'}", "row=2", "k=5")
    results = recommend(cfg)
    assert [r["row"] for r in results] == [1, 4, 2]
    fused = np.load(run_dir / "embeddings" / "fused.npy")
    for result in results:
        rows = [r["row"] for r in result["results"]]
        assert len(rows) == 5 and result["row"] not in rows  # the query itself is left out
        expected = np.argsort(-(fused @ fused[result["row"]]))
        expected = [r for r in expected if r != result["row"]][:5]
        assert rows == expected
    table = format_results(results, "table")
    assert "query S1 (in the graph, row 1) - view fused, exact search" in table
    assert json.loads(format_results(results, "json"))[0]["results"][0]["rank"] == 1


def test_recommend_shows_titles_from_papers_csv(run_dir, tmp_path):
    metadata = tmp_path / "papers.csv"
    metadata.write_text("paper_id,title\n" + "".join(f"S{i},Title {i}\n" for i in range(300)))
    results = recommend(_config(run_dir, "row=0", f"metadata={metadata}", "view=schema"))
    top = results[0]["results"][0]
    assert top["title"] == f"Title {top['row']}" and results[0]["view"] == "schema"


@pytest.mark.skipif(not faiss_available(), reason="faiss-cpu is not installed")
def test_recommend_faiss_matches_exact(run_dir):
    exact = recommend(_config(run_dir, "row=[0,5,9]", "k=10"))
    approximate = recommend(_config(run_dir, "row=[0,5,9]", "k=10", "index=faiss"))
    for a, b in zip(exact, approximate, strict=True):
        assert [r["row"] for r in a["results"]] == [r["row"] for r in b["results"]]
        scores = [r["score"] for r in b["results"]]
        assert [r["score"] for r in a["results"]] == pytest.approx(scores, abs=1e-5)
    assert (run_dir / "index" / "fused.faiss").is_file()


def test_recommend_cold_start_record_finds_its_twin(run_dir, tmp_path):
    # An unseen paper with exactly paper 7's authors, concepts and text: embedded in the
    # schema view, its nearest neighbour is paper 7 (score 1: the same embedding).
    data = load_run_graph(run_dir)
    neighbours = {
        t: data[schema_edge_type("paper", t)].edge_index for t in data.neighbour_types
    }  # fmt: skip
    record = {
        "id": "https://openalex.org/W999",
        "authorships": [{"author": {"id": str(int(a))}}
                        for a in neighbours["author"][1, neighbours["author"][0] == 7]],
        "concepts": [{"id": str(int(c))}
                     for c in neighbours["concept"][1, neighbours["concept"][0] == 7]],
        "features": data["paper"].x[7].tolist(),
    }  # fmt: skip
    path = tmp_path / "new.json"
    path.write_text(json.dumps({"results": [record]}))
    (result,) = recommend(_config(run_dir, f"record={path}", "k=3"))
    assert result["view"] == "schema (cold start)" and result["row"] is None
    assert result["results"][0]["row"] == 7
    assert result["results"][0]["score"] == pytest.approx(1.0, abs=1e-5)


def test_recommend_needs_a_query(run_dir):
    with pytest.raises(DataError, match="no query"):
        recommend(_config(run_dir))
    with pytest.raises(DataError, match="not among"):
        recommend(_config(run_dir, "query=W123"))
    assert torch.get_num_threads() == 1


def test_non_finite_embeddings_are_refused_at_load(run_dir):
    path = run_dir / "embeddings" / "fused.npy"
    original = np.load(path)
    try:
        np.save(path, np.where(np.arange(len(original))[:, None] == 3, np.nan, original))
        # The manifest's checksum refuses the changed file first; a run cannot write
        # non-finite rows (RunDir refuses them at write time).
        with pytest.raises(RunError, match=r"fused\.npy: "):
            recommend(_config(run_dir, "row=0"))
    finally:  # the run is shared by the module's tests
        np.save(path, original)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\xff\xfe", "cannot read"), (b'{"id": "W1"}\n{broken\n', r":2: not JSON"),
     (b"[1, 2]", "record 0 is a int"), (b'{"id": "W1", "features": [1, NaN]}', "finite")],
)  # fmt: skip
def test_bad_record_files_name_the_file(tmp_path, content, message):
    from heco_pyg.retrieval.coldstart import read_records

    (tmp_path / "records.json").write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_records(tmp_path / "records.json")


@pytest.fixture(scope="module")
def attention_run_dir(tmp_path_factory):
    """A tiny finished run of the attention model: cold start samples neighbours."""
    return finished_run(tmp_path_factory.mktemp("recommend_attention"), "heco")


def _record_of(run_dir, row, paper_id):
    data = load_run_graph(run_dir)
    edges = {t: data[schema_edge_type("paper", t)].edge_index for t in data.neighbour_types}
    return {
        "id": paper_id,
        "authorships": [{"author": {"id": str(int(a))}}
                        for a in edges["author"][1, edges["author"][0] == row]],
        "concepts": [{"id": str(int(c))} for c in edges["concept"][1, edges["concept"][0] == row]],
    }  # fmt: skip


def test_cold_start_of_a_paper_in_the_graph_is_labelled_and_uses_its_embedding(
    attention_run_dir, tmp_path
):
    path = tmp_path / "known.json"
    path.write_text(json.dumps(_record_of(attention_run_dir, 7, "S7")))
    (result,) = recommend(_config(attention_run_dir, f"record={path}", "k=5"))
    assert result["row"] == 7 and result["view"] == "schema"  # its in-graph embedding
    assert "(in the graph, row 7)" in format_results([result], "table")
    assert 7 not in [r["row"] for r in result["results"]]  # itself left out
    (query,) = recommend(_config(attention_run_dir, "query=S7", "view=schema", "k=5"))
    assert [r["row"] for r in result["results"]] == [r["row"] for r in query["results"]]
    (forced,) = recommend(_config(attention_run_dir, f"record={path}", "k=5",
                                  "force_cold_start=true"))  # fmt: skip
    assert forced["row"] == 7 and forced["view"] == "schema (cold start)"
    assert 7 not in [r["row"] for r in forced["results"]]


def test_cold_start_is_deterministic_for_a_seed(attention_run_dir, tmp_path):
    path = tmp_path / "new.json"
    record = _record_of(attention_run_dir, 11, "W12345") | {
        "features": load_run_graph(attention_run_dir)["paper"].x[11].tolist()
    }
    path.write_text(json.dumps(record))
    runs = [recommend(_config(attention_run_dir, f"record={path}", "k=5", "seed=3"))[0]
            for _ in range(5)]  # fmt: skip
    assert runs[0]["row"] is None and runs[0]["view"] == "schema (cold start)"
    for other in runs[1:]:
        assert other["results"] == runs[0]["results"]


@pytest.mark.parametrize("how", TAMPERINGS)
def test_recommend_refuses_a_run_whose_files_changed(run_copy, how):
    expected = tamper(run_copy, how)
    with pytest.raises(RunError) as error:
        recommend(_config(run_copy, "query=S1"))
    assert str(error.value).startswith(expected) and "\n" not in str(error.value)


def test_cold_start_refuses_an_unfinished_run(run_copy, tmp_path):
    manifest = json.loads((run_copy / "run.json").read_text())
    manifest = {k: v for k, v in manifest.items() if k != "digest"}  # an unsealed edit
    (run_copy / "run.json").write_text(json.dumps(manifest | {"status": "running"}))
    path = tmp_path / "new.json"
    path.write_text(json.dumps({"id": "W999", "authorships": [], "concepts": []}))
    with pytest.raises(RunError, match="training did not finish .*trainer.resume=true"):
        recommend(_config(run_copy, f"record={path}", "metadata=null"))
