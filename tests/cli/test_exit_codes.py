"""Commands end on bad input and on Ctrl-C with one line and an exit status, no traceback."""

from __future__ import annotations

import pytest

from heco_pyg.cli.command import command_errors
from heco_pyg.core.errors import DataError
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
