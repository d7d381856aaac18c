"""Run folder names and the ``latest`` link."""

import os

from heco_pyg.runs.naming import MAX_NAME, link_latest, run_name


def test_run_name_joins_the_parts_and_is_a_safe_folder_name():
    assert run_name("2026-01-01_10-00-00", "synthetic", "") == "2026-01-01_10-00-00_synthetic"
    name = run_name("t", "acm", "data.path=/a/b c,loss.tau=0.5")
    assert name == "t_acm_data.path=-a-b-c,loss.tau=0.5" and "/" not in name
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
