"""The one redaction helper and where the key comes from."""

from __future__ import annotations

import logging

import pytest

from heco_pyg.core.errors import DataError
from heco_pyg.core.secrets import (
    MASK,
    RedactingFilter,
    read_api_key,
    redact,
    register_secret,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://api/works?cursor=%2A&api_key=ENV999&x=1", "https://api/works?cursor=%2A&api_key=***&x=1"),
        ("{'api_key': 'SECRET123', 'mailto': 'me@x.org'}", "{'api_key': '***', 'mailto': 'me@x.org'}"),
        ('{"password": "hunter2"}', '{"password": "***"}'),
        ("data:\n  api_key: K123\n  mailto: me@x.org\n", "data:\n  api_key: ***\n  mailto: me@x.org\n"),
        ("  api_key: null", "  api_key: null"),
        ("token=abc and passwd = def", "token=*** and passwd = ***"),
        ("data.api_key_file: cannot read the key", "data.api_key_file: cannot read the key"),
    ],
)  # fmt: skip
def test_redact_text(text, expected):
    assert redact(text) == expected


def test_redact_mappings_and_registered_values():
    register_secret("REGISTERED-VALUE-42")
    config = {"data": {"api_key": "x1234", "mailto": "me@x.org", "api_key_file": None},
              "note": ["seen REGISTERED-VALUE-42 here"]}  # fmt: skip
    assert redact(config) == {
        "data": {"api_key": MASK, "mailto": "me@x.org", "api_key_file": None},
        "note": [f"seen {MASK} here"],
    }


def test_log_filter_redacts_messages_arguments_and_tracebacks(caplog):
    logger = logging.getLogger("tests.secrets")
    caplog.handler.addFilter(RedactingFilter())
    try:
        raise ConnectionError("GET /works?api_key=TRACE999 failed")
    except ConnectionError:
        logger.exception("retry %s", "url?api_key=ARG999")
    assert "TRACE999" not in caplog.text and "ARG999" not in caplog.text
    assert "api_key=***" in caplog.text


def test_the_key_comes_from_a_file_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENALEX_API_KEY", "FROM-ENV-1")
    assert read_api_key() == "FROM-ENV-1"
    (tmp_path / "key").write_text("FROM-FILE-2\n")
    assert read_api_key(tmp_path / "key") == "FROM-FILE-2"
    assert redact("x FROM-FILE-2 y FROM-ENV-1") == f"x {MASK} y {MASK}"
    (tmp_path / "empty").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_api_key(tmp_path / "empty")
    with pytest.raises(DataError, match="data.api_key_file"):
        read_api_key(tmp_path / "absent")
