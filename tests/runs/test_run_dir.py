"""RunDir: every run file written and read back through one owner, atomically, and checked
against the run's manifest."""

import json
import os
import pickle

import numpy as np
import pytest
import torch

from heco_pyg.core import atomic
from heco_pyg.core.errors import RunError, UserError
from heco_pyg.runs.run_dir import RunDir, write_atomic
from heco_pyg.runs.session import RunSession

CONFIG = {"seed": 0, "trainer": {"lr": 0.001, "max_epochs": 3, "resume": False}}


def sealed_run(path, status="complete"):
    """A run with embeddings, papers, history and metrics, sealed with ``status``."""
    run = RunDir(path)
    RunSession(run, CONFIG).start(["seed=0"])
    z = np.eye(3, dtype=np.float32)
    run.write_embeddings({"schema": z, "semantic": z, "fused": z}, ["W1", "W2", "W3"],
                         titles=["a", "b", "c"])  # fmt: skip
    run.write_history([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.5}])
    run.write_metrics({"loss": 1.5, "fused/micro_f1": 0.9})
    RunSession(run).finish(status, epochs_done=2, best_epoch=2)
    return run


def test_outputs_round_trip(tmp_path):
    run = sealed_run(tmp_path / "run")
    vectors, ids = run.embeddings("fused")
    assert torch.equal(vectors, torch.eye(3)) and ids == ["W1", "W2", "W3"]
    assert run.papers() == run.papers_path
    assert run.history()["loss"].tolist() == [2.0, 1.5] and run.is_training_run()
    assert run.metrics() == {"fused/micro_f1": 0.9, "loss": 1.5}
    assert run.config().trainer.lr == 0.001
    assert not list(run.path.rglob(".*.tmp*")) and not (run.path / ".staging").exists()


def test_the_manifest_describes_the_run(tmp_path):
    run = sealed_run(tmp_path / "run")
    manifest = json.loads(run.manifest_path.read_text())
    assert manifest["status"] == "complete" and manifest["error"] is None
    assert manifest["epochs_done"] == 2 and manifest["rows"] == 3
    assert manifest["config"] == CONFIG and len(manifest["config_hash"]) == 64
    assert manifest["package_version"] and manifest["started"] <= manifest["ended"]
    for name in ("embeddings/fused.npy", "embeddings/ids.csv", "papers.csv", "history.csv",
                 "metrics.json"):  # fmt: skip
        entry = manifest["files"][name]
        assert entry == atomic.file_stamp(run.path / name).as_dict()


@pytest.mark.parametrize("tamper", ["shuffled ids", "truncated fused", "changed bytes", "removed"])
def test_files_that_differ_from_the_manifest_are_refused(tmp_path, tamper):
    run = sealed_run(tmp_path / "run")
    if tamper == "shuffled ids":  # same length, same ids, another order
        lines = run.ids_path.read_text().splitlines()
        run.ids_path.write_text("\n".join([lines[0], lines[2], lines[1], lines[3]]) + "\n")
        expected = "ids.csv: its SHA-256 differs"
    elif tamper == "truncated fused":
        data = run.embedding_path("fused").read_bytes()
        run.embedding_path("fused").write_bytes(data[:-8])
        expected = "fused.npy: .* bytes, but run.json says"
    elif tamper == "changed bytes":
        data = bytearray(run.embedding_path("fused").read_bytes())
        data[-1] ^= 1
        run.embedding_path("fused").write_bytes(bytes(data))
        expected = "fused.npy: its SHA-256 differs"
    else:
        run.embedding_path("fused").unlink()
        expected = "fused.npy: missing, though run.json lists it"
    with pytest.raises(RunError, match=expected) as error:
        RunDir(run.path).embeddings("fused")
    assert "\n" not in str(error.value) and "trainer.resume=true" in str(error.value)


@pytest.mark.parametrize("status", ["running", "failed"])
def test_unfinished_runs_are_refused_with_what_to_run(tmp_path, status):
    run = RunDir(tmp_path / "run")
    RunSession(run, CONFIG).start(["seed=0", "trainer.max_epochs=3"])
    if status == "failed":
        RunSession(run).finish(
            "failed", error="NonFiniteLossError: loss became nan at epoch 3\nmore"
        )
    with pytest.raises(RunError) as error:
        run.embeddings("fused")
    message = str(error.value)
    assert "\n" not in message and isinstance(error.value, UserError)
    assert "hydra.run.dir=" in message and "trainer.resume=true" in message
    assert ("loss became nan at epoch 3" in message) == (status == "failed")


def test_a_folder_without_a_manifest_is_not_a_run(tmp_path):
    with pytest.raises(RunError, match="no run.json"):
        RunDir(tmp_path).embeddings("fused")
    with pytest.raises(ValueError, match="view must be one of"):
        RunDir(tmp_path).embedding_path("other")


def test_metrics_are_strict_json(tmp_path):
    run = RunDir(tmp_path)
    run.write_metrics({"auc": float("nan"), "f1": np.float32(0.5), "inf": float("inf")})
    text = run.metrics_path.read_text()
    reject = lambda name: pytest.fail(f"{name} in metrics.json")
    assert json.loads(text, parse_constant=reject) == {"auc": None, "f1": 0.5, "inf": None}
    write_atomic(run.metrics_path, '{"auc": NaN}')
    with pytest.raises(ValueError, match="not strict JSON"):
        atomic.loads_strict(run.metrics_path.read_text(), "metrics.json")


def test_degenerate_embeddings_are_an_error_not_a_file(tmp_path):
    run = RunDir(tmp_path)
    z = np.eye(3, dtype=np.float32)
    for bad, row in ((np.nan, 1), (0.0, 2)):
        broken = z.copy()
        broken[row] = bad
        with pytest.raises(
            RunError, match=f"1 of 3 rows are NaN, infinite or all zero \\(rows {row}\\)"
        ):
            run.write_embeddings({"schema": z, "fused": broken}, ["a", "b", "c"])
    assert not run.embeddings_dir.exists()


def test_embeddings_ids_and_papers_are_replaced_as_one_set(tmp_path):
    run = RunDir(tmp_path)
    z = np.eye(2, dtype=np.float32)
    run.write_embeddings({"fused": z}, ["a", "b"], titles=["A", "B"])
    run.write_embeddings({"fused": 2 * z}, ["c", "d"])  # no titles: the old papers.csv goes
    assert np.array_equal(np.load(run.embedding_path("fused")), 2 * z)
    assert "c" in run.ids_path.read_text() and not run.papers_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["embeddings"]


def test_a_write_that_fails_halfway_leaves_the_previous_file(tmp_path, monkeypatch):
    run = RunDir(tmp_path)
    run.save_best({"epoch": 1, "loss": 2.0, "model": {"w": torch.ones(1000)}})
    before = run.checkpoint.read_bytes()

    def killed(state, handle):  # a kill in the middle of the write
        handle.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        run.save_best({"epoch": 2, "loss": 1.0, "model": {"w": torch.zeros(1000)}})
    assert run.checkpoint.read_bytes() == before
    assert torch.load(run.checkpoint, weights_only=True)["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.pt"]  # no temporary file left


def test_checkpoints_load_tensors_only(tmp_path):
    run = sealed_run(tmp_path)
    run.save_best({"epoch": 1, "loss": 0.5, "model": {"w": torch.ones(2)}})
    RunSession(run).finish("complete")
    assert torch.equal(run.checkpoint_state()["w"], torch.ones(2))

    class Payload:
        def __reduce__(self):
            return (print, ("unpickled",))

    run.checkpoint.write_bytes(pickle.dumps({"model": Payload()}, protocol=2))
    RunSession(run).finish("complete")
    with pytest.raises(pickle.UnpicklingError):
        RunDir(tmp_path).checkpoint_state()


def test_a_folder_with_a_run_is_refused_unless_resumed_or_overwritten(tmp_path):
    run = sealed_run(tmp_path / "run")
    (run.path / ".hydra").mkdir()
    (run.path / ".hydra" / "config.yaml").write_text("seed: 7\n")  # Hydra wrote the new one
    other = CONFIG | {"seed": 7}
    with pytest.raises(RunError, match="already holds a run .*trainer.resume=true.*overwrite=true"):
        RunSession(run, other).check_start()
    assert "seed: 0" in (run.path / ".hydra" / "config.yaml").read_text()  # put back
    with pytest.raises(RunError, match="seed: 0 -> 7 \\(only trainer.max_epochs may change\\)"):
        RunSession(run, other, resume=True).check_start()
    longer = CONFIG | {"trainer": CONFIG["trainer"] | {"max_epochs": 9, "resume": True}}
    RunSession(run, longer, resume=True).check_start()  # accepted
    with pytest.raises(RunError, match="choose one"):
        RunSession(run, other, resume=True, overwrite=True).check_start()


def test_overwrite_moves_the_previous_run_aside(tmp_path):
    run = sealed_run(tmp_path / "run")
    fused = run.embedding_path("fused").read_bytes()
    RunSession(run, CONFIG | {"seed": 7}, overwrite=True).start(["seed=7"])
    (previous,) = run.previous_dir.iterdir()
    moved = RunDir(previous)
    assert moved.embedding_path("fused").read_bytes() == fused and moved.readable()
    assert moved.overrides() == ["seed=0"]  # its own .hydra files, from its manifest
    assert run.status() == "running" and not run.embeddings_dir.exists()


def test_runs_of_a_sweep_in_job_order(tmp_path):
    for name in ("10", "2", "extra"):
        (tmp_path / name / ".hydra").mkdir(parents=True)
        (tmp_path / name / ".hydra" / "overrides.yaml").write_text("- loss.tau=0.5\n")
    (tmp_path / "not_a_run").mkdir()
    assert [run.path.name for run in RunDir.in_sweep(tmp_path)] == ["2", "10", "extra"]
    assert RunDir(tmp_path / "2").overrides() == ["loss.tau=0.5"]


def test_an_evaluation_run_again_keeps_metrics_json_in_agreement(tmp_path):
    run = sealed_run(tmp_path / "run")
    run.write_evaluation("eval", {"repeats": 5}, "| table |", metrics={"fused/micro_f1": 0.7})
    again = RunDir(tmp_path / "run")
    assert again.metrics() == {"loss": 1.5, "fused/micro_f1": 0.7}  # verified against run.json
    assert again.evaluation("eval") == {"repeats": 5} and again.verify()["status"] == "complete"
