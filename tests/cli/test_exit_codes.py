"""Commands end on bad input and on Ctrl-C with one line and an exit status, no traceback."""

from __future__ import annotations

import pytest
from hydra.errors import InstantiationException

from heco_pyg.cli.command import command_errors
from heco_pyg.core.errors import ConfigError, DataError
from heco_pyg.training.interrupt import Interrupted


@pytest.mark.parametrize(
    ("raised", "status", "line"),
    [
        (DataError("works.jsonl:2: malformed JSON"), 1, "error: works.jsonl:2: malformed JSON"),
        (Interrupted(15, "SIGTERM: stopped after epoch 3"), 143, "SIGTERM: stopped after epoch 3"),
        (KeyboardInterrupt(), 130, "interrupted by SIGINT"),  # e.g. while reading the data
    ],
)
def test_one_line_and_the_exit_status(raised, status, line, capsys):
    with pytest.raises(SystemExit) as exit_:
        with command_errors():
            raise raised
    assert exit_.value.code == status
    assert capsys.readouterr().err.strip() == line


def test_an_error_hydra_wrapped_is_still_one_line(capsys):
    """``instantiate`` wraps what a ``_target_``'s constructor raises; the user sees the
    error itself (a UserError exits 1, a ConfigError goes on to the config rule: exit 2)."""
    with pytest.raises(SystemExit) as exit_:
        with command_errors():
            raise InstantiationException("Error in call to target ...") from DataError("bad file")
    assert exit_.value.code == 1
    assert capsys.readouterr().err.strip() == "error: bad file"
    with pytest.raises(ConfigError, match="trainer.device"):
        with command_errors():
            raise InstantiationException("wrapped") from ConfigError("trainer.device=cuda: ...")
    with pytest.raises(InstantiationException):  # anything else keeps Hydra's message
        with command_errors():
            raise InstantiationException("wrapped") from RuntimeError("a bug")
