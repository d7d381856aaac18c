"""``python -m heco_pyg.evaluate``: the tasks on finished runs, and the command line."""

import json
import os
import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf

from heco_pyg.core.errors import RunError
from heco_pyg.data import build_data
from heco_pyg.evaluate import recommendation_task
from heco_pyg.evaluation.tables import recommendation_markdown
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.runs.session import RunSession
from tests.conftest import ROOT, TINY_SYNTHETIC, compose_config
from tests.helpers.runs import TAMPERINGS, tamper


def _fake_run(tmp_path, overrides):
    """A run dir with a real config and the raw features as 'embeddings'."""
    cfg = compose_config([*overrides, "logger=none", f"paths.data_dir={tmp_path / 'data'}"])
    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    data = build_data(cfg.data)
    x = torch.nn.functional.normalize(data["paper"].x, dim=1).numpy()
    run = RunDir(run_dir)
    RunSession(run, OmegaConf.to_container(cfg, resolve=False)).start()
    run.write_embeddings({"schema": x, "semantic": x, "fused": x}, data["paper"].node_ids)
    RunSession(run).finish("complete")
    return run_dir


@pytest.fixture
def fake_run(tmp_path):
    return _fake_run(tmp_path, TINY_SYNTHETIC)


def test_recommendation_task_writes_json_and_table(fake_run):
    cfg = OmegaConf.create({"run_dir": str(fake_run), "seed": 0})
    summary = recommendation_task(cfg, k=10)
    saved = json.loads((fake_run / "recommend_eval.json").read_text())
    assert saved["results"].keys() == {"validation", "test"}
    test = saved["results"]["test"]
    assert test.keys() == {"schema", "semantic", "fused", "random", "text", "author", "concept",
                           "fusion", "fusion + fused", "sgc", "fusion + sgc"}  # fmt: skip
    assert saved["citations_in_set"] > 0 and saved["num_papers"] == 300
    assert not set(saved["split"]["validation"]["full"]) & set(saved["split"]["test"]["full"])
    # The 'embeddings' are the text features: the same scores, the same metrics.
    assert test["fused"] == pytest.approx(test["text"])
    # Random recall@10 is about 10 / 299; shared authors find planted citations far better.
    assert test["random"]["recall@10"] < 0.1
    assert test["author"]["recall@10"] > test["random"]["recall@10"]
    table = (fake_run / "recommend_eval.md").read_text()
    assert table == recommendation_markdown(summary) and "| author |" in table


@pytest.mark.slow
def test_recommendation_task_on_real_openalex_works(shared_dir, tmp_path):
    works = shared_dir / "data" / "openalex" / "works_page_biodiversity_finance.json"
    overrides = ["data=openalex", "data.source=works", f"data.path={works}"]
    run_dir = _fake_run(tmp_path, overrides)
    summary = recommendation_task(OmegaConf.create({"run_dir": str(run_dir), "seed": 0}))
    # 200 works cite each other only a handful of times: the evaluation still runs.
    assert summary["num_papers"] == 200
    assert 0 < summary["citations_in_set"] < 100
    test = summary["results"]["test"]
    assert test["fused"] == pytest.approx(test["text"])


def test_command_line_selects_the_task_by_its_config(fake_run):
    env = dict(os.environ, WANDB_MODE="disabled")
    command = [sys.executable, "-m", "heco_pyg.evaluate", f"run_dir={fake_run}", "task=recommend",
               "recommend.k=5", f"hydra.run.dir={fake_run / 'evaluate'}"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| method | Recall@5 |" in result.stdout


def test_protocol_on_a_run_without_splits_says_so(fake_run):
    from heco_pyg.core.errors import DataError
    from heco_pyg.evaluate import protocol_task

    with pytest.raises(DataError, match="has no split masks .* cannot run"):
        protocol_task(OmegaConf.create({"run_dir": str(fake_run), "seed": 0}))
    assert not (fake_run / "eval.json").exists()


def test_evaluate_command_exits_non_zero_without_splits(fake_run):
    env = os.environ | {"WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "0"}
    command = [sys.executable, "-m", "heco_pyg.evaluate", f"run_dir={fake_run}",
               f"hydra.run.dir={fake_run / 'evaluate'}"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "no split masks" in done.stderr + done.stdout


@pytest.mark.parametrize("how", TAMPERINGS)
def test_a_run_whose_files_changed_is_refused(fake_run, how):
    expected = tamper(fake_run, how)
    with pytest.raises(RunError) as error:
        recommendation_task(OmegaConf.create({"run_dir": str(fake_run), "seed": 0}))
    assert str(error.value).startswith(expected) and "\n" not in str(error.value)
    assert "trainer.resume=true" in str(error.value)
    assert not (fake_run / "recommend_eval.json").exists()


def test_command_line_refuses_an_unreadable_run_in_one_line(fake_run):
    expected = tamper(fake_run, "shuffled ids")
    env = dict(os.environ, WANDB_MODE="disabled")
    command = [sys.executable, "-m", "heco_pyg.evaluate", f"run_dir={fake_run}", "task=recommend",
               f"hydra.run.dir={fake_run / 'evaluate'}"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line, no traceback
    assert result.stderr.startswith(f"error: {expected}") and "trainer.resume=true" in result.stderr
