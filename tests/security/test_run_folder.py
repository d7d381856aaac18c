"""Issue 25: a run folder from someone else is data, not code. A saved config naming a
foreign ``_target_`` (``torch.load`` of a planted pickle, ``numpy.load`` with pickles,
``pandas.read_pickle``, ``os.system``), anywhere in it, is refused before anything is
built; ``${oc.env:...}`` is never resolved; an ``api_url`` elsewhere is refused."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from omegaconf import OmegaConf

from heco_pyg.core.errors import RunError
from heco_pyg.data import build_data
from heco_pyg.evaluate import recommendation_task
from heco_pyg.recommend import recommend
from heco_pyg.runs.manifest import manifest_digest
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.runs.saved_config import CONFIG_DIR, checked_config, project_targets
from heco_pyg.runs.session import RunSession
from tests.conftest import TINY_SYNTHETIC, compose_config


class Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory):
    """A complete run (raw features as embeddings): enough for evaluate and recommend."""
    root = tmp_path_factory.mktemp("foreign")
    cfg = compose_config([*TINY_SYNTHETIC, "logger=none", f"paths.data_dir={root / 'data'}"])
    data = build_data(cfg.data)
    x = torch.nn.functional.normalize(data["paper"].x, dim=1).numpy()
    run = RunDir(root / "run")
    RunSession(run, OmegaConf.to_container(cfg, resolve=False)).start()
    run.write_embeddings({"schema": x, "semantic": x, "fused": x}, data["paper"].node_ids)
    RunSession(run).finish("complete")
    return root / "run"


def planted(run_dir, tmp_path, where: str, payload_kind: str):
    """A copy of the run whose ``config.<where>`` calls a payload; returns (run, marker)."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    marker = tmp_path / "payload_ran"
    pickled = tmp_path / "payload.pkl"
    pickled.write_bytes(pickle.dumps(Payload(marker)))
    node = {
        "torch.load": {"_target_": "torch.load", "f": str(pickled), "weights_only": False},
        "numpy.load": {"_target_": "numpy.load", "file": str(pickled), "allow_pickle": True},
        "pandas.read_pickle": {
            "_target_": "pandas.read_pickle",
            "filepath_or_buffer": str(pickled),
        },
        "os.system": {"_target_": "os.system", "_args_": [f"touch {marker}"]},
    }[payload_kind]
    manifest = json.loads((copy / "run.json").read_text())
    config = manifest["config"]
    if where == "data":
        config["data"] = node
    elif where == "nested":  # deep inside an allowed target, in a list
        config["data"]["preparation"] = {"steps": [node]}
    else:
        config["model"] = node
    manifest["digest"] = manifest_digest(manifest)  # an attacker seals it again
    (copy / "run.json").write_text(json.dumps(manifest))
    return copy, marker


@pytest.mark.parametrize(
    "payload_kind", ["torch.load", "numpy.load", "pandas.read_pickle", "os.system"]
)
@pytest.mark.parametrize("where", ["data", "nested", "model"])
def test_a_foreign_target_in_run_json_never_runs(complete_run, tmp_path, where, payload_kind):
    copy, marker = planted(complete_run, tmp_path, where, payload_kind)
    cfg = compose_config([f"run_dir={copy}", "task=recommend"], name="evaluate")
    with pytest.raises(
        RunError, match=r"run.json: config\..* is not one of heco_pyg's own targets"
    ):
        recommendation_task(cfg)
    assert not marker.exists()


def test_recommend_record_never_runs_a_planted_target(complete_run, tmp_path):
    copy, marker = planted(complete_run, tmp_path, "data", "torch.load")
    record = tmp_path / "new.json"
    record.write_text(json.dumps({"id": "W999", "authorships": [], "concepts": []}))
    cfg = compose_config([f"run_dir={copy}", f"record={record}"], name="recommend")
    with pytest.raises(RunError, match="is not one of heco_pyg's own targets"):
        recommend(cfg)
    assert not marker.exists()


def test_an_env_interpolation_in_a_saved_config_is_never_resolved(monkeypatch):
    monkeypatch.setenv("HECO_TEST_SECRET", "s3cr3t-value")
    config = {
        "data": {"_target_": "heco_pyg.data.load_synthetic", "name": "${oc.env:HECO_TEST_SECRET}"}
    }
    with pytest.raises(
        RunError, match=r"run.json: config.data.name calls the resolver 'oc.env'"
    ) as error:
        checked_config(config, "run.json")
    assert "s3cr3t" not in str(error.value)
    nested = {"paths": {"x": "a/${ oc.decode : ${oc.env:HECO_TEST_SECRET} }"}}
    with pytest.raises(RunError, match="calls the resolver"):
        checked_config(nested, "run.json")


def test_the_project_config_passes_and_its_interpolations_still_resolve():
    saved = OmegaConf.to_container(compose_config(TINY_SYNTHETIC), resolve=False)
    restored = checked_config(saved, "run.json")
    assert restored.data._target_ in project_targets() and "${" in saved["paths"]["data_dir"]
    assert {"heco_pyg.nn.HeCo", "heco_pyg.data.load_openalex"} <= project_targets()
    assert not any(t.startswith(("torch", "numpy", "os.", "optuna")) for t in project_targets())


@pytest.mark.parametrize(
    "override",
    [f"data={p.stem}" for p in sorted((CONFIG_DIR / "data").glob("*.yaml"))]
    + [f"experiment={p.stem}" for p in sorted((CONFIG_DIR / "experiment").glob("*.yaml"))],
)
def test_every_packaged_choice_saves_a_config_its_readers_accept(override):
    """A run of any packaged data source or experiment can be evaluated: its saved config
    (interpolations kept) passes the saved-config check (no ``oc.env`` in a default)."""
    saved = OmegaConf.to_container(compose_config([override]), resolve=False)
    checked_config(saved, "run.json")


@pytest.mark.parametrize(
    "url, allowed",
    [("https://api.openalex.org", True), ("http://127.0.0.1:8000", True), (None, True),
     ("https://collector.example.net", False), ("http://api.openalex.org.example.net", False)],
)  # fmt: skip
def test_a_saved_api_url_elsewhere_is_refused(url, allowed):
    config = {"data": {"_target_": "heco_pyg.data.load_openalex", "api_url": url}}
    if allowed:
        checked_config(config, "run.json")
    else:
        with pytest.raises(RunError, match="neither the OpenAlex API nor this machine"):
            checked_config(config, "run.json")


@pytest.mark.parametrize("config", [[1, 2], "text", {1: "a"}])
def test_a_config_that_is_not_a_mapping_of_strings_is_one_line(config):
    with pytest.raises(RunError, match="run.json: "):
        checked_config(config, "run.json")


def copied(run_dir, tmp_path):
    import shutil

    shutil.copytree(run_dir, tmp_path / "copy")
    return RunDir(tmp_path / "copy")


def resealed(run: RunDir, name: str) -> None:
    """Records ``name``'s new size and SHA-256 in run.json and seals it again, as someone
    rehashing a run they changed would."""
    from heco_pyg.core.atomic import file_stamp

    manifest = run.manifest()
    manifest["files"][name] = file_stamp(run.path / name).as_dict()
    run.write_manifest(manifest)


def test_a_rehashed_fused_npy_with_a_huge_row_is_refused(complete_run, tmp_path):
    import numpy as np

    run = copied(complete_run, tmp_path)
    path = run.embedding_path("fused")
    z = np.load(path)
    z[5] *= 1e30
    np.save(path, z)
    resealed(run, "embeddings/fused.npy")
    with pytest.raises(RunError, match=r"fused.npy: rows \[5\] are not finite unit vectors"):
        run.embeddings("fused")


@pytest.mark.parametrize(
    "name, content, message",
    [("embeddings/ids.csv", b"\x00\xff\xfe\x81binary", "ids.csv: not a readable CSV table"),
     ("embeddings/ids.csv", b'row,paper_id\n0,"W1\n', "ids.csv: not a readable CSV table"),
     ("history.csv", b'epoch,loss\n1,"0.5\n', "history.csv: not a readable CSV table")],
)  # fmt: skip
def test_unreadable_run_tables_are_one_line(complete_run, tmp_path, name, content, message):
    run = copied(complete_run, tmp_path)
    (run.path / name).write_bytes(content)
    resealed(run, name)
    with pytest.raises(RunError, match=message):
        run.ids() if name.endswith("ids.csv") else run.history(required=True)


def test_overrides_yaml_with_a_python_tag_is_one_line(complete_run, tmp_path):
    run = copied(complete_run, tmp_path)
    run.overrides_path.parent.mkdir(exist_ok=True)
    run.overrides_path.write_text("- !!python/object/apply:os.system ['touch x']\n")
    with pytest.raises(RunError, match=r"overrides.yaml: not a YAML list of overrides"):
        run.overrides()
    assert not (tmp_path / "x").exists()


def test_evaluate_never_resolves_an_env_interpolation_of_a_copied_run(
    complete_run, tmp_path, monkeypatch
):
    monkeypatch.setenv("OPENALEX_API_KEY", "EnvKey0123456789")
    copy, _ = planted(complete_run, tmp_path, "data", "torch.load")
    manifest = json.loads((copy / "run.json").read_text())
    manifest["config"]["data"] = {**manifest["config"]["data"], "_target_": "heco_pyg.data.load_synthetic",
                                  "name": "${oc.env:OPENALEX_API_KEY}"}  # fmt: skip
    manifest["digest"] = manifest_digest(manifest)
    (copy / "run.json").write_text(json.dumps(manifest))
    cfg = compose_config([f"run_dir={copy}", "task=recommend"], name="evaluate")
    with pytest.raises(RunError, match="calls the resolver 'oc.env'") as error:
        recommendation_task(cfg)
    assert "EnvKey" not in str(error.value) and not list(copy.glob("recommend_eval*"))
