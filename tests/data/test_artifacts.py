import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from heco_pyg.core.errors import DataError
from heco_pyg.data import load_openalex
from heco_pyg.data.artifacts import read_artifacts, write_artifacts
from heco_pyg.data.synthetic import generate_synthetic
from heco_pyg.data.synthetic_artifacts import main as synthetic_main

SIZES = dict(num_papers=120, num_authors=150, num_concepts=120, num_fields=3)


@pytest.fixture
def artifacts(tmp_path):
    path = tmp_path / "artifacts"
    write_artifacts(generate_synthetic(**SIZES), path)
    return path


def test_round_trip(artifacts):
    original = generate_synthetic(**SIZES)
    data = read_artifacts(artifacts)
    assert data.target == "paper" and data.neighbour_types == ["author", "concept"]
    assert torch.allclose(data["paper"].x, original["paper"].x)
    assert torch.equal(data["paper", "to", "author"].edge_index,
                       original["paper", "to", "author"].edge_index)  # fmt: skip
    assert data["paper"].node_ids == original["paper"].node_ids
    assert torch.equal(data["paper"].y, original["paper"].y)
    assert "x" not in data["author"]  # featureless: an embedding table in the model
    assert data.stored_metapath_density["PCP"] > 0.5  # generic concepts: nearly complete


def test_one_hot_author_features_become_an_embedding_table(tmp_path):
    path = tmp_path / "onehot"
    write_artifacts(generate_synthetic(**SIZES), path, author_one_hot=True)
    assert np.load(path / "features_authors.npz")["X"].shape == (150, 150)
    data = read_artifacts(path)
    assert "x" not in data["author"] and data["author"].num_nodes == 150


def test_stored_complete_pcp_is_recomputed_and_pruned(artifacts):
    preparation = {
        "sample_sizes": {"author": 3, "concept": 3},
        "max_concept_df": 0.05,
        "metapath_topk": 10,
    }
    data = load_openalex("artifacts", str(artifacts), preparation=preparation)
    stats = data.metapath_stats["PCP"]
    assert stats["density_before"] > 0.5
    assert stats["density_after"] < 0.2


def test_synthetic_command_line_writes_artifacts(tmp_path):
    command = [sys.executable, "-W", "error::RuntimeWarning", "-m",
               "heco_pyg.data.synthetic_artifacts", "--help"]  # fmt: skip
    assert subprocess.run(command, capture_output=True).returncode == 0  # no runpy warning
    synthetic_main(["--artifacts", str(tmp_path / "cli"), "--num-papers", "100",
                    "--num-authors", "100", "--num-concepts", "100", "--num-fields", "2"])  # fmt: skip
    assert json.loads((tmp_path / "cli" / "meta.json").read_text())["num_papers"] == 100


def corrupt(path, file, **arrays):
    np.savez(path / file, **arrays)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: (p / "meta.json").write_text('{"num_papers": 120}'), "meta.json: missing key 'num_authors'"),
        (lambda p: (p / "meta.json").write_text("{"), "meta.json: invalid JSON"),
        (lambda p: corrupt(p, "edges_PA.npz", X=np.zeros((2, 2), dtype=int)), "edges_PA.npz: missing key 'E'"),
        (lambda p: corrupt(p, "edges_PA.npz", E=np.zeros((4, 3), dtype=int)), r"edges_PA.npz: E has shape \(4, 3\)"),
        (lambda p: corrupt(p, "edges_PC.npz", E=np.array([[0, 999]])), "edges_PC.npz: E\\[:, 1\\] has id 999"),
        (lambda p: corrupt(p, "edges_PA.npz", E=np.array([[-1, 0]])), "edges_PA.npz: E has negative ids"),
        (lambda p: corrupt(p, "features_papers.npz", X=np.full((120, 4), np.nan)), "features_papers.npz: X contains NaN"),
        (lambda p: corrupt(p, "features_papers.npz", X=np.zeros((7, 4))), r"features_papers.npz: X has shape \(7, 4\)"),
        (lambda p: corrupt(p, "metapath_PCP.npz", indptr=np.zeros(3, dtype=int), indices=np.zeros(0, dtype=int)), "metapath_PCP.npz: indptr has shape"),
        (lambda p: (p / "map_paper_id.csv").write_text("id\nW1\n"), "map_paper_id.csv: missing column 'paper_id'"),
        (lambda p: (p / "edges_PC.npz").unlink(), "edges_PC.npz: file not found"),
        (lambda p: (p / "meta.json").write_text('{"num_papers": 0, "num_authors": 1, "num_concepts": 1}'), "empty graph"),
    ],
)  # fmt: skip
def test_bad_input_names_the_file_and_field(artifacts, mutate, message):
    mutate(artifacts)
    with pytest.raises(DataError, match=message):
        read_artifacts(artifacts)


def test_bad_input_stops_training_before_any_output(artifacts, tmp_path):
    from heco_pyg.train import train
    from tests.conftest import compose_config

    corrupt(artifacts, "edges_PA.npz", E=np.array([[0, 10**6]]))
    cfg = compose_config(["data=openalex", "data.source=artifacts", f"data.path={artifacts}",
                          "logger=none", "trainer.max_epochs=1"])  # fmt: skip
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(DataError, match="edges_PA.npz"):
        train(cfg, run_dir)
    assert [p.name for p in run_dir.iterdir()] == ["run.json"]  # no outputs; marked failed
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"


def test_duplicate_edges_are_dropped_and_counted(artifacts):
    from heco_pyg.data.stats import graph_statistics

    edges = np.load(artifacts / "edges_PA.npz")["E"]
    np.savez(artifacts / "edges_PA.npz", E=np.concatenate([edges, edges[:7]]))
    data = read_artifacts(artifacts)
    assert data["paper", "to", "author"].edge_index.size(1) == len(edges)
    assert graph_statistics(data)["duplicate_edges_removed"] == {"author": 7, "concept": 0}


@pytest.mark.parametrize(
    ("ids", "message"),
    [(["", "W2"], "blank on row 0"), (["W1", "W1"], "'W1' appears more than once")],
)
def test_blank_or_duplicate_paper_ids_are_refused(tmp_path, ids, message):
    path = tmp_path / "small"
    write_artifacts(generate_synthetic(**SIZES), path)
    ids = ids + [f"W{i}" for i in range(10, 10 + SIZES["num_papers"] - len(ids))]
    pd.DataFrame({"paper_id": ids}).to_csv(path / "map_paper_id.csv", index=False)
    with pytest.raises(DataError, match=message):
        read_artifacts(path)


def test_constant_features_are_warned_about(artifacts, caplog):
    x = np.load(artifacts / "features_papers.npz")["X"]
    np.savez(artifacts / "features_papers.npz", X=np.zeros_like(x))
    read_artifacts(artifacts)
    assert "features_papers.npz: every row of X is the same" in caplog.text


def test_a_featureless_table_far_larger_than_its_edges_is_warned_about(artifacts, caplog):
    read_artifacts(artifacts)
    assert "rows of the" not in caplog.text  # the generated graph uses its authors
    meta = json.loads((artifacts / "meta.json").read_text())
    (artifacts / "meta.json").write_text(json.dumps(meta | {"num_authors": 100_000}))
    np.savez(artifacts / "features_authors.npz", X=np.zeros((100_000, 0), dtype=np.float32))
    read_artifacts(artifacts)
    assert "meta.json: declares 100000 authors but edges_PA.npz references only" in caplog.text
    assert "is num_authors right?" in caplog.text
