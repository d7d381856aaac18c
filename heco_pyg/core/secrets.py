"""Secrets: where the OpenAlex key comes from, and the one redaction used at every boundary.

The key is read from ``OPENALEX_API_KEY`` or from the file ``data.api_key_file`` names,
never from the config (Hydra saves the config, its overrides and its errors). Every text
that leaves the process passes through :func:`redact`: exception messages shown to the
user, log records (:class:`RedactingFilter` on the handlers), the saved ``.hydra/*.yaml``
and the wandb config. It replaces

* the values of secret-looking keys in mappings (``api_key``, ``token``, ``password``,
  ``secret``, ``authorization``, ...; ``mailto`` is not a secret);
* ``key=value`` / ``'key': 'value'`` / ``"key": "value"`` pairs with such keys in text,
  e.g. a request URL inside a connection error;
* every value registered with :func:`register_secret` (the key actually in use),
  wherever it appears, in any letter case and reversed (a server may echo it so).

Text cut to a length is redacted first and cut afterwards (:func:`shorten`), so a key
straddling the cut cannot leave its prefix behind. ``api_key_file`` (and any ``*_file``
or ``*_path`` key) names a file, not a secret.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from heco_pyg.core.errors import DataError

MASK = "***"
API_KEY_ENV = "OPENALEX_API_KEY"
SECRET_WORDS = ("api_key", "apikey", "api-key", "token", "password", "passwd", "secret",
                "authorization", "credential", "private_key")  # fmt: skip
_KEY = r"[\w.-]*(?:" + "|".join(re.escape(w) for w in SECRET_WORDS) + r")[\w.-]*"
# key=value (URLs, command lines), 'key': 'value' / "key": "value" (dict reprs, JSON) and
# a YAML line `key: value` (saved configs); not `key: some words` in a sentence.
_PAIR = re.compile(
    rf"(?P<key>{_KEY})(?P<sep>\s*=\s*|['\"]\s*:\s*['\"]?)(?P<value>[^\s&'\",;}}\])]+)"
    rf"|^(?P<ykey>\s*[\w-]*(?:{'|'.join(re.escape(w) for w in SECRET_WORDS)})[\w-]*:\s+)"
    rf"(?P<yvalue>\S+)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_registered: set[str] = set()
_registered_pattern: re.Pattern | None = None
FILE_SUFFIXES = ("_file", "_path")  # `api_key_file=FILE` names where the key is


def is_secret_key(key: Any) -> bool:
    """True for a key whose value must never be shown (``api_key``, ``token``, ...); not
    for one that names a file (``api_key_file``)."""
    name = str(key).lower()
    return any(word in name for word in SECRET_WORDS) and not name.endswith(FILE_SUFFIXES)


def register_secret(value: str | None) -> None:
    """Redacts ``value`` wherever it appears from now on, in any letter case and reversed
    (values under 4 characters are not registered: they would mask ordinary text)."""
    global _registered_pattern
    if value and len(value) >= 4 and value not in _registered:
        _registered.add(value)
        forms = {form for secret in _registered for form in (secret, secret[::-1])}
        _registered_pattern = re.compile(
            "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True)),
            re.IGNORECASE,
        )


def mask_registered(text: str) -> str:
    """``text`` with the registered secrets (any case, reversed) replaced by ``***`` and
    nothing else changed: safe inside JSON, e.g. an API page before it is cached."""
    return _registered_pattern.sub(MASK, text) if _registered_pattern is not None else text


def shorten(text: Any, limit: int) -> str:
    """``str(text)`` redacted, then cut to ``limit`` characters (in this order: a secret
    straddling the cut is masked whole)."""
    return redact(str(text))[:limit]


def redact(value: Any) -> Any:
    """``value`` with every secret replaced by ``***``: mappings and sequences are copied
    (secret keys masked, other values redacted recursively), strings are scanned."""
    if isinstance(value, Mapping):
        return {k: (MASK if is_secret_key(k) and v not in (None, "") else redact(v))
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    if isinstance(value, str):
        return _PAIR.sub(_mask, mask_registered(value))
    return value


def _mask(match: re.Match) -> str:
    if match["ykey"] is not None:
        return f"{match['ykey']}{MASK}" if match["yvalue"] != "null" else match[0]
    return f"{match['key']}{match['sep']}{MASK}"


class RedactingFilter(logging.Filter):
    """A handler filter: the record's message (arguments merged) and its traceback text
    pass through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: show its template, redacted
            message = str(record.msg)
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Adds a :class:`RedactingFilter` to every handler of ``logger`` (the root logger),
    once; records from child loggers pass through these handlers."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def read_api_key(api_key_file: str | os.PathLike | None = None) -> str | None:
    """The OpenAlex key: the first line of ``api_key_file`` if given, else the
    ``OPENALEX_API_KEY`` environment variable, else None. The key is registered for
    redaction."""
    if api_key_file:
        path = Path(api_key_file).expanduser()
        try:
            key = path.read_text(encoding="utf-8").strip().splitlines()[0].strip()
        except (OSError, UnicodeDecodeError, IndexError) as error:
            problem = "empty" if isinstance(error, IndexError) else type(error).__name__
            raise DataError(
                f"{path}: cannot read the OpenAlex key ({problem}); data.api_key_file must "
                "name a text file holding the key on its first line"
            ) from None
    else:
        key = os.environ.get(API_KEY_ENV) or None
    register_secret(key)
    return key


register_secret(os.environ.get(API_KEY_ENV))
