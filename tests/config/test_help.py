"""``--help`` lists every key a command's config has; ``--info`` gives each experiment's
description whole."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from heco_pyg.cli.command import CONFIG_DIR, experiments_text, help_text


@pytest.mark.parametrize("command", ["recommend", "evaluate", "prepare"])
def test_help_lists_every_key_of_the_commands_config(command):
    top = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / f"{command}.yaml"))
    keys = [k for k, v in top.items() if k not in ("defaults", "hydra") and not isinstance(v, dict)]
    listed = {line.split()[0] for line in help_text(command).splitlines() if line.startswith("  ")}
    assert set(keys) <= listed, set(keys) - listed


def test_info_gives_each_description_whole():
    text = " ".join(experiments_text().split())
    assert "unit-length rows for the paper's protocol, the same for every dataset" in text
    assert "does not grow with the graph:" not in text  # the example command is left out
    for file in sorted((CONFIG_DIR / "experiment").glob("*.yaml")):
        assert f" {file.stem} " in text
