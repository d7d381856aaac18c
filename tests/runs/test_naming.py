"""Run folder names and the ``latest`` link."""

import os
from pathlib import Path

import pytest

from heco_pyg.runs.naming import MAX_NAME, find_run, link_latest, run_name


def test_run_name_joins_the_parts_and_is_a_safe_folder_name():
    assert run_name("2026-01-01_10-00-00", "synthetic", "") == "2026-01-01_10-00-00_synthetic"
    name = run_name("t", "acm", "data.path=/a/b c,loss.tau=0.5")
    assert name == "t_acm_data.path-a-b-c-loss.tau-0.5" and "/" not in name
    assert len(run_name("t", "x" * 500)) == MAX_NAME


def test_link_latest_points_to_the_newest_run_and_replaces_the_old_link(tmp_path):
    tmp_path = tmp_path / "outputs"
    first, second = tmp_path / "train" / "run1", tmp_path / "train" / "run2"
    first.mkdir(parents=True)
    second.mkdir()
    assert link_latest(first) == tmp_path / "latest"
    assert (tmp_path / "latest").resolve() == first.resolve()
    link_latest(second)
    assert (tmp_path / "latest").resolve() == second.resolve()
    assert os.readlink(tmp_path / "latest") == os.path.join("train", "run2")  # relative
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_link_latest_leaves_a_real_folder_and_other_layouts_alone(tmp_path):
    (tmp_path / "elsewhere" / "run").mkdir(parents=True)
    assert link_latest(tmp_path / "elsewhere" / "run") is None  # hydra.run.dir=/tmp/x/run
    tmp_path = tmp_path / "outputs"
    (tmp_path / "latest").mkdir(parents=True)
    (tmp_path / "train" / "run").mkdir(parents=True)
    assert link_latest(tmp_path / "train" / "run") is None
    assert (tmp_path / "latest").is_dir() and not (tmp_path / "latest").is_symlink()


def test_run_folder_names_round_trip_through_hydras_override_parser(tmp_path, monkeypatch):
    """The folder name Hydra builds from awkward overrides parses back, unquoted, as
    ``run_dir=<name>`` and ``find_run`` finds the folder by its name and its start."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from tests.conftest import CONFIG_DIR

    overrides = ["model=heco", "loss.tau=0.5", "++protocol.repeats=5",
                 "data.preparation.workdir='a b,c=d\"e'"]  # fmt: skip
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    folder = OmegaConf.to_container(cfg.hydra.run, resolve=True)["dir"]
    name = folder.split("/")[-1]
    assert "model-heco" in name and "loss.tau-0.5" in name and "_data.preparation.workdir-" in name
    assert not set(name) & set("=, '\"~")
    parsed = OverridesParser.create().parse_override(f"run_dir={folder}")
    assert parsed.value() == folder
    monkeypatch.chdir(tmp_path)
    (tmp_path / folder).mkdir(parents=True)
    assert find_run(name) == Path(folder) and find_run(name[:12]) == Path(folder)
    assert find_run(folder) == Path(folder)


def test_find_run_names_what_it_tried_and_asks_for_more_of_an_ambiguous_name(tmp_path):
    for name in ("2026-01-01_10-00-00_synthetic", "2026-01-01_11-00-00_synthetic"):
        (tmp_path / "outputs" / "train" / name).mkdir(parents=True)
    outputs = tmp_path / "outputs"
    assert find_run("2026-01-01_11", outputs).name == "2026-01-01_11-00-00_synthetic"
    with pytest.raises(FileNotFoundError, match="2 runs .* give more of the name"):
        find_run("2026-01-01", outputs)
    with pytest.raises(FileNotFoundError, match="no such folder.*latest"):
        find_run("2027", outputs)
