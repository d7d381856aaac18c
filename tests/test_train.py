"""``python -m heco_pyg.train``: the outputs of a run, its manifest, and runs you can trust:
a reused folder is refused, an interrupted or killed run resumes to the same outputs as
the run uninterrupted, a signal leaves a readable ``interrupted`` run."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf, open_dict

import heco_pyg.train
from heco_pyg.core.errors import RunError, UserError
from heco_pyg.evaluate import recommendation_task
from heco_pyg.runs.document import write_report
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.train import train
from heco_pyg.training.interrupt import Interrupted, SignalStop
from tests.conftest import ROOT, TINY_SYNTHETIC, compose_config
from tests.helpers.wandb_files import read_history


def check_outputs(run_dir, epochs):
    for view in ("schema", "semantic", "fused"):
        z = np.load(run_dir / "embeddings" / f"{view}.npy")
        assert z.dtype == np.float32 and z.shape == (300, 64)
        assert np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)
    ids = pd.read_csv(run_dir / "embeddings" / "ids.csv")
    assert list(ids.columns) == ["row", "paper_id"] and len(ids) == 300
    history = pd.read_csv(run_dir / "history.csv")
    assert len(history) == epochs
    for column in (
        "loss",
        "loss_metapath",
        "loss_schema",
        "seconds",
        "attention/type/author",
        "attention/type/concept",
        "attention/semantic/PAP",
        "attention/semantic/PCP",
    ):
        assert column in history.columns  # fmt: skip
    assert np.allclose(history["attention/semantic/PAP"] + history["attention/semantic/PCP"], 1)
    metrics = json.loads((run_dir / "metrics.json").read_text(), parse_constant=strict)
    assert {"fused/micro_f1", "semantic/mean_cosine", "features/micro_f1", "loss"} <= set(metrics)
    for name in ("checkpoint.pt", "last.pt", "loss.png", "attention.png"):
        assert (run_dir / name).stat().st_size > 0
    manifest = json.loads((run_dir / "run.json").read_text(), parse_constant=strict)
    assert manifest["status"] == "complete" and manifest["epochs_done"] == epochs
    assert set(manifest["files"]) >= {"embeddings/fused.npy", "embeddings/ids.csv",
                                      "history.csv", "metrics.json", "checkpoint.pt", "last.pt"}  # fmt: skip
    assert RunDir(run_dir).verify() == manifest


def strict(constant):
    raise ValueError(f"{constant} is not strict JSON")


def test_train_without_logger(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    metrics = train(tiny_config, run_dir)
    check_outputs(run_dir, epochs=3)
    assert metrics["epochs"] == 3
    assert not (run_dir / "wandb").exists()


def test_train_logs_losses_and_attention_to_offline_wandb(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose_config([*TINY_SYNTHETIC, "logger=wandb", "model=heco_mean"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    train(cfg, run_dir)
    (wandb_run,) = (run_dir / "wandb").glob("offline-run-*")
    rows = read_history(wandb_run)
    assert len(rows) == 3
    for key in (
        "loss/total",
        "loss/metapath",
        "loss/schema",
        "attention/type/author",
        "attention/type/concept",
        "attention/semantic/PAP",
        "attention/semantic/PCP",
    ):
        assert all(key in row for row in rows), key  # fmt: skip
    assert sum(rows[0][k] for k in ("attention/type/author", "attention/type/concept")) == (
        pytest.approx(1.0, abs=1e-5)
    )


def test_a_wandb_start_up_failure_is_one_line_and_marks_the_run_failed(tmp_path, monkeypatch):
    import wandb

    def refuse(**settings):
        raise wandb.errors.UsageError("api_key not configured (no-tty).\ncall wandb.login(key=)")

    monkeypatch.setattr(wandb, "init", refuse)
    cfg = compose_config([*TINY_SYNTHETIC, "logger=wandb", "logger.mode=online"])
    with pytest.raises(UserError) as raised:
        train(cfg, tmp_path / "run")
    message = str(raised.value)
    assert "\n" not in message and "api_key not configured" in message
    assert "logger.mode=online" in message and "logger.mode=offline" in message
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["status"] == "failed" and manifest["error"].endswith("logger=none")


def test_a_run_that_fails_before_training_is_marked_failed(tmp_path):
    tiny = [o for o in TINY_SYNTHETIC if not o.startswith("data.")]
    cfg = compose_config([*tiny, "logger=none", "data=openalex", "data.source=works",
                          f"data.path={tmp_path / 'missing'}"])  # fmt: skip
    with pytest.raises(UserError, match="no such file"):
        train(cfg, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["status"] == "failed" and "no such file" in manifest["error"]


def test_mini_batch_training(tiny_config, tmp_path):
    with open_dict(tiny_config):
        tiny_config.trainer.batch_size = 128
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    metrics = train(tiny_config, run_dir)
    assert np.isfinite(metrics["loss"])


def test_command_line_entry_point(tmp_path):
    env = dict(os.environ, WANDB_MODE="disabled")
    command = [sys.executable, "-m", "heco_pyg.train", *TINY_SYNTHETIC, "logger=none",
               "model=heco_mean", f"hydra.run.dir={tmp_path / 'cli'}"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "micro_f1" in result.stdout  # the evaluation table
    assert (tmp_path / "cli" / "embeddings" / "fused.npy").exists()
    assert (tmp_path / "cli" / ".hydra" / "config.yaml").exists()


# Runs you can trust.
ENV = dict(os.environ, WANDB_MODE="disabled")


def tiny_config(tmp_path, *overrides):
    cfg = compose_config([*TINY_SYNTHETIC, "logger=none", *overrides])
    with open_dict(cfg):
        cfg.paths.data_dir = str(tmp_path / "data")
    return cfg


class StopAfterSteps(SignalStop):
    """A stop request (as from SIGTERM) at the ``steps``-th step."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def requested(self):
        self.steps -= 1
        if self.steps == 0:
            self.request(signal.SIGTERM)
        return super().requested()


def outputs(run_dir):
    """What must be identical: the embedding files, the ids, the history but its seconds."""
    files = {name: (run_dir / name).read_bytes() for name in
             ("embeddings/schema.npy", "embeddings/semantic.npy", "embeddings/fused.npy",
              "embeddings/ids.csv")}  # fmt: skip
    return files, pd.read_csv(run_dir / "history.csv").drop(columns="seconds")


# Full batch (the attention model: neighbour samples and dropout draw from the RNGs) stops
# after epoch 1; mini-batches (3 an epoch) inside epoch 2.
@pytest.mark.parametrize("overrides, steps", [([], 1), (["trainer.batch_size=128"], 5)],
                         ids=["full batch", "mini-batch"])  # fmt: skip
def test_interrupted_and_resumed_run_writes_the_outputs_of_the_uninterrupted_one(
    tmp_path, overrides, steps
):
    cfg = tiny_config(tmp_path, *overrides)
    train(cfg, tmp_path / "uninterrupted")
    with pytest.raises(Interrupted) as stopped:
        train(cfg, tmp_path / "resumed", StopAfterSteps(steps))
    assert stopped.value.exit_code == 143
    message = str(stopped.value)
    assert message.startswith("SIGTERM: ") and "\n" not in message
    assert message.endswith(f"hydra.run.dir={tmp_path / 'resumed'} trainer.resume=true")
    run = RunDir(tmp_path / "resumed")
    assert run.check()["status"] == "interrupted" and run.embeddings("fused")[0].size(0) == 300
    with open_dict(cfg):
        cfg.trainer.resume = True
    train(cfg, tmp_path / "resumed")
    (files, history), (files_ref, history_ref) = (outputs(run.path),
                                                  outputs(tmp_path / "uninterrupted"))  # fmt: skip
    assert files == files_ref
    pd.testing.assert_frame_equal(history, history_ref)
    assert run.check()["status"] == "complete" and len(run.manifest()["resumed"]) == 1


def test_a_reused_folder_is_refused_and_keeps_its_run(tmp_path):
    run_dir = tmp_path / "run"
    cfg = tiny_config(tmp_path)
    (run_dir / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    train(cfg, run_dir)
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    command = [sys.executable, "-m", "heco_pyg.train", *TINY_SYNTHETIC, "logger=none",
               f"paths.data_dir={tmp_path / 'data'}", "seed=7", f"hydra.run.dir={run_dir}"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.startswith(f"error: {run_dir} already holds a run")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "seed: 0" in (run_dir / ".hydra" / "config.yaml").read_text()  # put back
    for path, data in before.items():
        if path.parent.name != ".hydra" and path.suffix != ".log":
            assert path.read_bytes() == data, path
    with open_dict(cfg):
        cfg.seed = 7
    with pytest.raises(RunError, match="already holds a run"):
        train(cfg, run_dir)
    with open_dict(cfg):
        cfg.trainer.resume = True
    with pytest.raises(RunError, match="seed: 0 -> 7"):
        train(cfg, run_dir)
    with open_dict(cfg):
        cfg.trainer.resume, cfg.overwrite = False, True
    train(cfg, run_dir)
    (previous,) = (run_dir / "previous").iterdir()
    assert (previous / "embeddings" / "fused.npy").read_bytes() == before[
        run_dir / "embeddings" / "fused.npy"]  # fmt: skip
    assert RunDir(previous).config().seed == 0 and RunDir(run_dir).config().seed == 7


def test_max_epochs_zero_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(Exception, match="trainer.max_epochs must be >= 1"):  # via instantiate
        train(tiny_config(tmp_path, "trainer.max_epochs=0"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def start_training(tmp_path, *overrides):
    """``python -m heco_pyg.train`` with no end in sight, once it has saved two epochs."""
    tiny = [o for o in TINY_SYNTHETIC if not o.startswith("trainer.max_epochs")]
    command = [sys.executable, "-m", "heco_pyg.train", *tiny, "logger=none", "model=heco_mean",
               "trainer.max_epochs=100000", "trainer.patience=100000", "trainer.checkpoint_every=1",
               f"paths.data_dir={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}",
               *overrides]  # fmt: skip
    child = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    manifest = tmp_path / "run" / "run.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if manifest.is_file() and json.loads(manifest.read_text())["epochs_done"] >= 2:
            return child
        time.sleep(0.05)
    child.kill()
    pytest.fail(f"training did not start: {child.communicate()[1][-2000:]}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_leaves_an_interrupted_run_whose_embeddings_evaluate(tmp_path, signum):
    child = start_training(tmp_path)
    child.send_signal(signum)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 128 + signum, stderr[-2000:]
    assert "Traceback" not in stderr
    name = signal.Signals(signum).name
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"{name}: {tmp_path / 'run'} stopped after epoch ")
    assert last.endswith("trainer.resume=true") and "python -m heco_pyg.train" in last
    run = RunDir(tmp_path / "run")
    manifest = run.check()
    assert manifest["status"] == "interrupted" and manifest["epochs_done"] >= 2
    assert {"last.pt", "history.csv", "checkpoint.pt", "embeddings/fused.npy"} <= set(
        manifest["files"]
    )
    assert len(run.history()) == manifest["epochs_done"]
    summary = recommendation_task(OmegaConf.create({"run_dir": str(run.path), "seed": 0}))
    test = summary["results"]["test"]
    assert test["fused"]["recall@10"] > test["random"]["recall@10"]
    assert "interrupted before its evaluation" in write_report(run.path, "md").read_text()


def test_a_killed_run_keeps_its_last_state_and_resumes(tmp_path):
    child = start_training(tmp_path)
    child.kill()
    child.communicate(timeout=60)
    run = RunDir(tmp_path / "run")
    manifest = run.manifest()
    assert manifest["status"] == "running"
    state = torch.load(run.last_checkpoint, weights_only=True)  # loadable
    torch.load(run.checkpoint, weights_only=True)
    assert state["loop"]["epoch"] >= manifest["epochs_done"] >= 2
    with pytest.raises(RunError, match="training did not finish .*trainer.resume=true") as error:
        recommendation_task(OmegaConf.create({"run_dir": str(run.path), "seed": 0}))
    assert "\n" not in str(error.value)
    # Resume in this process, with the same config but for more epochs.
    tiny = [o for o in TINY_SYNTHETIC if not o.startswith("trainer.max_epochs")]
    done = state["loop"]["epoch"]
    cfg = compose_config([*tiny, "logger=none", "model=heco_mean", "trainer.patience=100000",
                          f"paths.data_dir={tmp_path / 'data'}", "trainer.checkpoint_every=1",
                          f"trainer.max_epochs={done + 2}", "trainer.resume=true"])  # fmt: skip
    metrics = train(cfg, run.path)
    assert metrics["epochs"] == done + 2 and run.check()["status"] == "complete"
    assert run.history()["epoch"].tolist() == list(range(1, done + 3))
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


def test_a_signal_while_the_graph_is_built_stops_at_once(tmp_path, monkeypatch):
    def build_data(config):  # a Ctrl-C while the graph is built
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr("heco_pyg.train.build_data", build_data)
    with pytest.raises(Interrupted, match="SIGINT: stopped while building") as stopped:
        with SignalStop() as stop:
            train(tiny_config(tmp_path), tmp_path / "run", stop)
    assert stopped.value.exit_code == 130 and not (tmp_path / "run").exists()


def test_a_signal_after_training_keeps_the_outputs_and_skips_the_evaluation(tmp_path, monkeypatch):
    stop, original = SignalStop(), heco_pyg.train.embed

    def embed(*args, **kwargs):  # SIGINT while the best state is embedded
        stop.request(signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr("heco_pyg.train.embed", embed)
    with pytest.raises(Interrupted, match=r"after training \(3 epochs\), before the evaluation"):
        train(tiny_config(tmp_path), tmp_path / "run", stop)
    run = RunDir(tmp_path / "run")
    assert run.check()["status"] == "interrupted" and run.metrics() is None
    assert run.embeddings("fused")[0].shape == (300, 64)
