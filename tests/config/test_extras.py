"""A choice whose optional extra is absent: one line naming the ``pip install``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from heco_pyg.cli.command import preflight
from heco_pyg.config import extras
from heco_pyg.core.errors import ConfigError
from tests.conftest import ROOT


@pytest.mark.parametrize(("command", "argument", "extra"), [
    ("recommend", "index=faiss", "faiss"),
    ("train", "hparams_search=optuna", "optuna"),
])  # fmt: skip
def test_a_missing_extra_names_its_pip_install(monkeypatch, command, argument, extra):
    monkeypatch.setattr(extras, "installed", lambda module: False)
    with pytest.raises(
        ConfigError, match=rf"^{argument} needs .*: pip install 'heco_pyg\[{extra}\]'$"
    ):
        preflight([argument], command)
    monkeypatch.setattr(extras, "installed", lambda module: True)
    assert preflight([argument], command) == [argument]


def test_installed_answers_for_absent_parent_packages():
    assert extras.installed("json") and not extras.installed("no_such_parent.plugin")


@pytest.mark.skipif(extras.installed("hydra_plugins.hydra_optuna_sweeper"),
                    reason="the optuna extra is installed here")  # fmt: skip
def test_the_command_line_answers_in_one_line():
    result = subprocess.run([sys.executable, "-m", "heco_pyg.train", "hparams_search=optuna"],
                            cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: hparams_search=optuna needs the optional extra: pip install 'heco_pyg[optuna]'"
    )
