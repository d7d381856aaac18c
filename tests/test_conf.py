"""The configs ship inside the package; a user's own config folder joins them through
Hydra's search path (``hydra.searchpath=[file:///abs/dir]``) without copying any."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

import heco_pyg

CONF = str(Path(heco_pyg.__file__).parent / "conf")


def test_configs_are_package_data():
    conf = Path(heco_pyg.__file__).parent / "conf"
    for name in ("train", "prepare", "evaluate", "recommend"):
        assert (conf / f"{name}.yaml").is_file()


def test_a_user_config_folder_adds_choices_through_the_search_path(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "my_synthetic.yaml").write_text(
        "defaults:\n  - synthetic\n  - _self_\nnum_papers: 123\nname: mine\n"
    )
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "quick.yaml").write_text(
        "# @package _global_\ntrainer:\n  max_epochs: 7\n"
    )
    with initialize_config_dir(CONF, version_base="1.3"):
        cfg = compose("train", overrides=[f"hydra.searchpath=[file://{tmp_path}]",
                                          "data=my_synthetic", "experiment=quick"])  # fmt: skip
    assert cfg.data.num_papers == 123 and cfg.data.name == "mine"
    assert cfg.data.num_authors == 6000  # the packaged synthetic.yaml underneath
    assert cfg.trainer.max_epochs == 7


def test_root_dir_follows_the_working_directory_not_the_package(tmp_path, monkeypatch):
    from hydra.core.hydra_config import HydraConfig

    monkeypatch.chdir(tmp_path)
    with initialize_config_dir(CONF, version_base="1.3"):
        cfg = compose("train", return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    assert Path(cfg.paths.root_dir) == tmp_path
    assert Path(cfg.paths.data_dir) == tmp_path / "data"
