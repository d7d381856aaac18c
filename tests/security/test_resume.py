"""Issue 25: a resume that cannot start leaves a complete run as it was (a truncated,
wrong-format, incompatible or NaN ``last.pt``, or too little disk); one that fails after
it started gives the complete outputs back; ``overwrite=true`` moves aside a run whose
``run.json`` is unreadable; an edited ``run.json`` is seen (its digest); a full disk is
one line naming the disk."""

from __future__ import annotations

import errno
import json
import shutil
from collections import namedtuple

import pytest
import torch
from omegaconf import open_dict

from heco_pyg.core import atomic
from heco_pyg.core.atomic import DiskFull, save_torch, write_atomic
from heco_pyg.core.errors import RunError
from heco_pyg.runs import resume_guard
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.train import train
from tests.conftest import TINY_SYNTHETIC, compose_config


def config(data_dir, *overrides):
    cfg = compose_config([*TINY_SYNTHETIC, "logger=none", *overrides])
    with open_dict(cfg):
        cfg.paths.data_dir = str(data_dir)
    return cfg


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    root = tmp_path_factory.mktemp("complete")
    train(config(root / "data"), root / "run")
    return root


@pytest.fixture
def run_copy(complete, tmp_path):
    shutil.copytree(complete / "run", tmp_path / "run")
    return tmp_path / "run"


def spoil(path, how):
    state = torch.load(path, weights_only=True)
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:-500])
        return
    if how == "wrong format":
        state["format"] = 99
    elif how == "incompatible":
        name = next(iter(state["model"]))
        state["model"][name] = torch.zeros(3, 1)
    elif how == "nan":
        name = next(k for k, v in state["model"].items() if v.is_floating_point())
        state["model"][name] = state["model"][name] * float("nan")
    save_torch(path, state)


@pytest.mark.parametrize(
    "how, message",
    [("truncated", "it cannot be read"), ("wrong format", "format 99"),
     ("incompatible", "its weight .* has another shape"), ("nan", "its weight .* holds NaN or inf")],
)  # fmt: skip
def test_a_resume_with_an_unusable_last_pt_leaves_the_run_as_it_was(
    complete, run_copy, how, message
):
    spoil(run_copy / "last.pt", how)
    before = (run_copy / "run.json").read_bytes()
    with pytest.raises(
        RunError, match=rf"last.pt: trainer.resume=true cannot use it: {message}.*left as it was"
    ):
        train(config(complete / "data", "trainer.resume=true"), run_copy)
    assert (run_copy / "run.json").read_bytes() == before
    run = RunDir(run_copy)
    assert run.check()["status"] == "complete" and run.embeddings("fused")[0].size(0) == 300


def test_a_resume_on_a_nearly_full_disk_leaves_the_run_as_it_was(complete, run_copy, monkeypatch):
    before = (run_copy / "run.json").read_bytes()
    usage = namedtuple("usage", "total used free")(20 * 2**20, 19 * 2**20, 2**20)
    monkeypatch.setattr(resume_guard.shutil, "disk_usage", lambda path: usage)
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda path: usage)
    with pytest.raises(
        RunError, match=r"needs about .* MiB free, the disk has less \(/.*: 1 MiB free of 20 MiB\)"
    ):
        train(config(complete / "data", "trainer.resume=true"), run_copy)
    assert (run_copy / "run.json").read_bytes() == before


def test_a_resume_that_fails_after_it_started_gives_the_complete_outputs_back(
    complete, run_copy, monkeypatch
):
    manifest = RunDir(run_copy).verify()
    fused = (run_copy / "embeddings" / "fused.npy").read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr("heco_pyg.train.view_embeddings", broken)
    cfg = config(complete / "data", "trainer.resume=true", "trainer.max_epochs=5")
    with pytest.raises(RuntimeError, match="the disk went away"):
        train(cfg, run_copy)
    run = RunDir(run_copy)
    after = run.verify()  # every listed file matches again
    assert after["status"] == "complete" and after["epochs_done"] == manifest["epochs_done"]
    assert after["files"] == manifest["files"]
    assert [a["status"] for a in after["failed_resumes"]] == ["failed"]
    assert "the disk went away" in after["failed_resumes"][0]["error"]
    assert (run_copy / "embeddings" / "fused.npy").read_bytes() == fused
    assert not (run_copy / resume_guard.BACKUP).exists()


def test_a_resume_that_completes_drops_the_kept_outputs(complete, run_copy):
    train(config(complete / "data", "trainer.resume=true", "trainer.max_epochs=4"), run_copy)
    manifest = RunDir(run_copy).verify()
    assert manifest["status"] == "complete" and manifest["epochs_done"] == 4
    assert not (run_copy / resume_guard.BACKUP).exists()


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_overwrite_moves_aside_a_run_whose_run_json_is_unreadable(complete, run_copy, content):
    (run_copy / "run.json").write_bytes(content)
    with pytest.raises(
        RunError, match=r"run.json: .*(not strict JSON|not a run manifest|unreadable)"
    ):
        RunDir(run_copy).manifest()
    train(config(complete / "data", "overwrite=true"), run_copy)
    assert RunDir(run_copy).verify()["status"] == "complete"
    (moved,) = (run_copy / "previous").iterdir()
    assert (moved / "run.json").read_bytes() == content


def test_an_edited_run_json_is_seen_by_its_digest(run_copy):
    manifest = json.loads((run_copy / "run.json").read_text())
    manifest["rows"] = 3
    (run_copy / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(RunError, match=r"run.json: its digest differs from its content"):
        RunDir(run_copy).embeddings("fused")


def test_a_full_disk_names_the_disk_and_its_free_space(tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(
        DiskFull, match=r"x.json: cannot be written, the disk is full \(/.*MiB free of"
    ):
        write_atomic(tmp_path / "x.json", "{}")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_torch_s_unexpected_pos_on_a_full_disk_is_one_line(tmp_path, monkeypatch):
    def unexpected_pos(*args, **kwargs):
        raise RuntimeError(
            "[enforce fail at inline_container.cc:778] . unexpected pos 290048 vs 289936"
        )

    monkeypatch.setattr(atomic.torch, "save", unexpected_pos)
    usage = namedtuple("usage", "total used free")(20 * 2**20, 20 * 2**20, 0)
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda path: usage)
    with pytest.raises(
        DiskFull,
        match=r"last.pt: cannot be written, the disk is full \(/.*: 0 MiB free of 20 MiB\)",
    ):
        save_torch(tmp_path / "last.pt", {})
    monkeypatch.undo()
    monkeypatch.setattr(atomic.torch, "save", unexpected_pos)  # plenty of space: not a full disk
    with pytest.raises(RuntimeError, match="unexpected pos"):
        save_torch(tmp_path / "last.pt", {})
