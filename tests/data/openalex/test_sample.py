"""``data=openalex data.source=sample``: real OpenAlex works inside the package train on any
machine, and the live API's offline error points to them."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from fnmatch import fnmatch

import pytest
from omegaconf import OmegaConf, open_dict

from heco_pyg.data import OPENALEX_SAMPLE
from heco_pyg.recommend import recommend
from heco_pyg.train import train
from tests.conftest import ROOT, TINY_SYNTHETIC, compose_config


def test_the_sample_is_real_openalex_works_shipped_as_package_data():
    lines = gzip.decompress(OPENALEX_SAMPLE.read_bytes()).decode().split("\n")
    works = [json.loads(line) for line in lines if line]
    assert len(works) == len({w["id"] for w in works}) == 201
    assert all(w["id"].startswith("https://openalex.org/W") for w in works)
    assert "https://openalex.org/W2741809807" in {w["id"] for w in works}  # README's query
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["heco_pyg"]  # fmt: skip
    inside = OPENALEX_SAMPLE.relative_to(ROOT / "heco_pyg").as_posix()
    assert any(fnmatch(inside, pattern) for pattern in globs)  # the wheel ships it


def test_the_sample_source_trains_offline_and_cold_starts_a_new_record(tmp_path):
    """The default model (``model=heco``) on the sample; then a new work (a sample record
    under an id the graph does not have, without features) is embedded by cold start
    (features: the mean of the papers sharing its neighbours) and finds its twin."""
    tiny = [o for o in TINY_SYNTHETIC if not o.startswith("data.")]
    cfg = compose_config([*tiny, "data=openalex", "data.source=sample", "logger=none",
                          "data.api_url=http://127.0.0.1:9"])  # fmt: skip
    assert cfg.model._target_.endswith(".HeCo")  # the default model
    run = tmp_path / "run"
    with open_dict(cfg):
        cfg.paths.data_dir = str(tmp_path / "data")
        cfg.paths.output_dir = str(run)
    (run / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    metrics = train(cfg, run)
    assert metrics["epochs"] == 3 and "features/micro_f1" in metrics
    ids = (run / "embeddings" / "ids.csv").read_text()
    assert "W2741809807" in ids and len(ids.splitlines()) == 1 + 201

    lines = gzip.decompress(OPENALEX_SAMPLE.read_bytes()).decode().split("\n")
    twin = json.loads(lines[5])
    record = twin | {"id": "https://openalex.org/W9999999999", "doi": None}
    (tmp_path / "new.json").write_text(json.dumps(record))
    query = compose_config([f"run_dir={run}", f"record={tmp_path / 'new.json'}", "k=3"],
                           name="recommend")  # fmt: skip
    (result,) = recommend(query)
    assert result["view"] == "schema (cold start)" and result["row"] is None
    assert result["results"][0]["paper_id"] == twin["id"]


def test_an_unreachable_api_names_the_sample(tmp_path):
    command = [sys.executable, "-m", "heco_pyg.train", "data=openalex", "logger=none",
               "data.api_url=http://127.0.0.1:9", "data.api_timeout=2",
               f"paths.data_dir={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, WANDB_MODE="disabled"))  # fmt: skip
    assert result.returncode != 0
    error = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(error) == 1 and "data.source=sample" in error[0], result.stderr[-2000:]
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())  # not a bare folder
    assert manifest["status"] == "failed" and "data.source=sample" in manifest["error"]
