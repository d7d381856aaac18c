"""RunDir: every run file written and read back through one owner, atomically."""

import pickle

import numpy as np
import pytest
import torch

from heco_pyg.data.graph import DataError
from heco_pyg.runs.run_dir import RunDir, write_atomic


def test_outputs_round_trip(tmp_path):
    run = RunDir(tmp_path / "run")
    z = np.eye(3, dtype=np.float32)
    run.write_embeddings({"schema": z, "semantic": z, "fused": z}, ["W1", "W2", "W3"])
    vectors, ids = run.embeddings("fused")
    assert torch.equal(vectors, torch.eye(3)) and ids == ["W1", "W2", "W3"]
    assert run.write_papers(["W1"]) is None  # nothing known: no papers file
    run.write_papers(["W1", "W2", "W3"], titles=["a", "b", "c"])
    assert run.papers() is not None
    history = run.write_history([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.5}])
    assert run.history().equals(history) and run.is_training_run()
    run.write_metrics({"loss": 1.5, "fused/micro_f1": 0.9})
    assert run.metrics() == {"fused/micro_f1": 0.9, "loss": 1.5}
    assert not list(run.path.rglob(".*.tmp"))  # temporary files were renamed into place


def test_missing_or_mismatched_files_name_the_file(tmp_path):
    run = RunDir(tmp_path)
    with pytest.raises(DataError, match="fused.npy: not found"):
        run.embeddings("fused")
    with pytest.raises(ValueError, match="view must be one of"):
        run.embedding_path("other")
    z = np.zeros((2, 4), dtype=np.float32)
    run.write_embeddings({"fused": z}, ["W1", "W2"])
    write_atomic(run.ids_path, "row,paper_id\n0,W1\n")
    with pytest.raises(DataError, match="ids.csv: needs a paper_id column with 2 rows"):
        run.embeddings("fused")


def test_checkpoints_load_tensors_only(tmp_path):
    run = RunDir(tmp_path)
    torch.save({"epoch": 1, "loss": 0.5, "model": {"w": torch.ones(2)}}, run.checkpoint)
    assert torch.equal(run.checkpoint_state()["w"], torch.ones(2))

    class Payload:
        def __reduce__(self):
            return (print, ("unpickled",))

    run.checkpoint.write_bytes(pickle.dumps({"model": Payload()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError):
        run.checkpoint_state()


def test_runs_of_a_sweep_in_job_order(tmp_path):
    for name in ("10", "2", "extra"):
        (tmp_path / name / ".hydra").mkdir(parents=True)
        (tmp_path / name / ".hydra" / "overrides.yaml").write_text("- loss.tau=0.5\n")
    (tmp_path / "not_a_run").mkdir()
    assert [run.path.name for run in RunDir.in_sweep(tmp_path)] == ["2", "10", "extra"]
    assert RunDir(tmp_path / "2").overrides() == ["loss.tau=0.5"]
