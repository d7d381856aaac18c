"""Stream OpenAlex work records from files, one record at a time.

Accepted, mixed freely in one folder (walked recursively, in sorted path order):

* ``*.json``: one API response: a list page ``{"meta": ..., "results": [...]}``, a
  single work ``{"id": "https://openalex.org/W...", ...}`` or a JSON array of works
  (a ``.json`` file that turns out to hold several documents is read as JSON Lines);
* ``*.jsonl`` / ``*.ndjson``: JSON Lines, one work per line;
* ``*.gz``: gzip'd JSON Lines, e.g. snapshot parts
  ``data/works/updated_date=YYYY-MM-DD/part_NNN.gz`` (``manifest`` files are skipped).

Bounds (:class:`ReadLimits`, ``data.max_line_bytes`` and ``data.max_part_bytes``): a
line longer than the limit is a bad record (skipped without being held in memory), and
a file whose (decompressed) bytes pass the limit stops there, a bad record too, so a
gzip bomb costs at most the limits. Work ids are canonical: ``W0123`` is ``W123``, and a
number beyond int64 (what the graph stores) is no work id.

JSON Lines are split on ``\\n`` only (titles may hold U+2028, which
``str.splitlines`` would split on); lines are read as bytes, so memory is one line, and
decoded with orjson (1.8x the standard library's speed on snapshot records; it also
refuses ``NaN`` and integers beyond 64 bits, which no OpenAlex field holds: such a line
is a bad record).
A JSON file is one API response, at most one page (200 works) at a time.

Deduplication (:func:`latest_by_id`) is a single pass with a bounded accumulator:
it keeps one *reduced* record per work id (whatever ``reduce`` returns, e.g. ids and
text, never the raw JSON) and replaces it when a record with a newer
``updated_date`` comes (a tie goes to the later record, as a later snapshot part
would). Memory is therefore O(unique works x reduced size), the size of the graph
being built, and constant in the raw records read.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from heco_pyg.core.errors import DataError
from heco_pyg.core.secrets import shorten

WORK_URL = "https://openalex.org/"
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
GZIP_SUFFIXES = (".gz",)
ON_BAD_RECORD = ("raise", "skip")
ASCII_ID = re.compile(r"[A-Za-z][0-9]+", re.ASCII)  # W + ASCII digits: "W١٢٣" is no id
# What a malformed file can raise while being decoded (a corrupt gzip block, invalid
# UTF-8, a document nested too deep for the parser).
DECODE_ERRORS = (ValueError, UnicodeDecodeError, RecursionError, zlib.error, OSError, EOFError)
INT64_DIGITS = len(str(2**63 - 1))
CHUNK_BYTES = 2**20


@dataclass(frozen=True)
class ReadLimits:
    """The most one line, and one file once decompressed, may hold (bytes)."""

    max_line_bytes: int = 64 * 2**20
    max_part_bytes: int = 64 * 2**30


DEFAULT_LIMITS = ReadLimits()


@dataclass(frozen=True)
class Location:
    """Where a record was read: the file and its line (JSON Lines) or position in a page."""

    file: str
    line: int | None = None
    index: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.index is not None:
            return f"{self.file}: results[{self.index}]"
        return self.file


@dataclass
class ReadStats:
    """What the reader saw: files, records, bad records skipped, empty pages."""

    files: int = 0
    records: int = 0
    bad_records: int = 0
    empty_pages: int = 0
    duplicates: int = 0
    bad_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "records": self.records,
            "bad_records": self.bad_records,
            "empty_pages": self.empty_pages,
            "duplicate_records": self.duplicates,
            "bad_record_examples": list(self.bad_examples),
        }


class BadRecordHandler:
    """Raises a :class:`DataError` naming the location, or counts and skips it."""

    def __init__(self, on_bad_record: str = "raise", stats: ReadStats | None = None) -> None:
        if on_bad_record not in ON_BAD_RECORD:
            raise DataError(
                f"data.on_bad_record={on_bad_record!r}; expected one of {ON_BAD_RECORD}"
            )
        self.on_bad_record = on_bad_record
        self.stats = stats if stats is not None else ReadStats()

    def __call__(self, location: Location | str, message: str) -> None:
        text = shorten(f"{location}: {message}", 2000)
        if self.on_bad_record == "raise":
            raise DataError(f"{text} (set data.on_bad_record=skip to skip bad records)")
        self.stats.bad_records += 1
        if len(self.stats.bad_examples) < 10:
            self.stats.bad_examples.append(text)


def normalise_id(value: Any, prefix: str = "W") -> str | None:
    """``"W123"`` or ``"https://openalex.org/W123"`` -> the URL form, leading zeros dropped
    (``W0123`` is ``W123``); anything else, or a number beyond int64, -> None."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith(WORK_URL):
        key = value[len(WORK_URL) :]
    else:
        key = value
    if not ASCII_ID.fullmatch(key) or key[0].upper() != prefix:
        return None
    digits = key[1:].lstrip("0") or "0"
    if len(digits) >= INT64_DIGITS and int(digits) >= 2**63:
        return None
    return WORK_URL + prefix + digits


def find_files(path: str | os.PathLike) -> list[Path]:
    """The record files under ``path`` (a file or a folder), sorted."""
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError(f"{root}: no such file or folder (data.path)")
    suffixes = (".json", *JSON_LINES_SUFFIXES, *GZIP_SUFFIXES)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(suffixes))
    if not files:
        raise DataError(f"{root}: no .json, .jsonl, .ndjson or .gz files of OpenAlex works")
    return files


def _bounded_lines(handle: Any, file: str, limits: ReadLimits, on_bad: BadRecordHandler
                   ) -> Iterator[tuple[int, bytes]]:  # fmt: skip
    """``(line number, line)`` of a binary file, within ``limits``: an overlong line is
    reported and skipped a chunk at a time; past ``max_part_bytes`` the file stops."""
    total, number = 0, 0
    while True:
        line = handle.readline(limits.max_line_bytes + 1)
        if not line:
            return
        number += 1
        total += len(line)
        overlong = len(line) > limits.max_line_bytes and not line.endswith(b"\n")
        while overlong and line and not line.endswith(b"\n") and total <= limits.max_part_bytes:
            line = handle.readline(CHUNK_BYTES)
            total += len(line)
        if total > limits.max_part_bytes:
            limit = limits.max_part_bytes
            on_bad(Location(file, line=number),
                   f"more than data.max_part_bytes={limit} bytes; the rest is skipped")  # fmt: skip
            return
        if overlong:
            on_bad(Location(file, line=number),
                   f"a line longer than data.max_line_bytes={limits.max_line_bytes}")  # fmt: skip
            continue
        yield number, line


def _json_lines(
    lines: Iterable[tuple[int, bytes]], file: str, on_bad: BadRecordHandler
) -> Iterator[tuple[Location, Any]]:
    for number, line in lines:
        if not line.strip():
            continue
        location = Location(file, line=number)
        try:
            value = orjson.loads(line)
        except DECODE_ERRORS as error:
            on_bad(location, f"malformed JSON ({type(error).__name__}: {shorten(error, 200)})")
            continue
        yield location, value


def _documents(file: Path, on_bad: BadRecordHandler, limits: ReadLimits = DEFAULT_LIMITS
               ) -> Iterator[tuple[Location, Any]]:  # fmt: skip
    """(location, decoded JSON value) for every document in one file."""
    name = str(file)
    if file.name.endswith(GZIP_SUFFIXES):
        try:
            with gzip.open(file, "rb") as handle:
                yield from _json_lines(_bounded_lines(handle, name, limits, on_bad), name, on_bad)
        except (OSError, EOFError, zlib.error) as error:  # not gzip, truncated, corrupt block
            on_bad(Location(name), f"unreadable gzip file ({type(error).__name__}: {error})")
        return
    if file.name.endswith(JSON_LINES_SUFFIXES):
        with open(file, "rb") as handle:
            yield from _json_lines(_bounded_lines(handle, name, limits, on_bad), name, on_bad)
        return
    if file.stat().st_size > min(limits.max_part_bytes, limits.max_line_bytes):
        on_bad(Location(name), "a .json file larger than data.max_line_bytes (one API "
               "page is a few MiB); JSON Lines belong in .jsonl/.ndjson/.gz files")  # fmt: skip
        return
    raw = file.read_bytes()
    if not raw.strip():
        return
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data":  # several documents: JSON Lines named .json
            yield from _json_lines(enumerate(raw.split(b"\n"), start=1), name, on_bad)
        else:
            on_bad(Location(name, line=error.lineno), f"malformed JSON ({error.msg})")
        return
    except DECODE_ERRORS as error:  # invalid UTF-8, nesting too deep, NaN
        on_bad(Location(name), f"malformed JSON ({type(error).__name__}: {shorten(error, 200)})")
        return
    yield Location(name), value


def _refuse_constant(name: str) -> None:
    """``NaN``/``Infinity`` are not JSON (orjson refuses them in JSON Lines too)."""
    raise ValueError(f"{name} is not JSON")


def _works_in(
    location: Location, value: Any, stats: ReadStats, on_bad: BadRecordHandler
) -> Iterator[tuple[Location, dict]]:
    """The work objects inside one decoded document (a page, a work, or a list of works)."""
    if isinstance(value, dict) and "results" in value:
        results = value["results"]
        if not isinstance(results, list):
            on_bad(location, f"'results' must be a list, got {type(results).__name__}")
            return
        if not results:
            stats.empty_pages += 1
        for index, work in enumerate(results):
            where = (
                Location(location.file, location.line, index) if location.line is None else location
            )
            yield where, work
    elif isinstance(value, list):
        for index, work in enumerate(value):
            yield Location(location.file, location.line, index), work
    else:
        yield location, value


def iter_works(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    on_bad_record: str = "raise",
    stats: ReadStats | None = None,
    on_bad: Callable[[Location, str], None] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Iterator[tuple[Location, dict]]:
    """Streams ``(location, work)`` for every work record under ``path``, not deduplicated.

    A work must be a JSON object whose ``id`` is an OpenAlex work id; anything else is a
    bad record (raised as a :class:`DataError` naming the file and line, or skipped and
    counted in ``stats.bad_records`` when ``on_bad_record="skip"``; ``on_bad``, if given,
    is called instead). ``limits`` bound lines and files (:class:`ReadLimits`).
    """
    stats = stats if stats is not None else ReadStats()
    on_bad = on_bad or BadRecordHandler(on_bad_record, stats)
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    for root in paths:
        for file in find_files(root):
            stats.files += 1
            for location, value in _documents(file, on_bad, limits):
                for where, work in _works_in(location, value, stats, on_bad):
                    if not isinstance(work, dict):
                        on_bad(where, f"a work must be a JSON object, got {type(work).__name__}")
                        continue
                    if normalise_id(work.get("id")) is None:
                        shown = shorten(repr(work.get("id")), 100)
                        on_bad(where, f"'id' is not an OpenAlex work id: {shown}")
                        continue
                    stats.records += 1
                    yield where, work


def updated_date(work: dict) -> str:
    """The record's ``updated_date`` as a string (``""`` when absent): what orders versions."""
    updated = work.get("updated_date") or ""
    return updated if isinstance(updated, str) else str(updated)


class LatestById:
    """The newest version of each work id, offered one record at a time (in file order).

    ``offer(key, updated, reduce)`` calls ``reduce()`` only when the record is newer than
    (or as new as: a tie goes to the later record, as a later snapshot part would) the
    version kept so far; ``reduce`` may return None to drop it (a bad record, already
    counted). ``keep``, if given, is called as ``keep(slot, reduced)`` for every record
    kept, ``slot`` being the work's position in :meth:`result` (a newer version keeps
    its work's slot), and its return value is stored instead.
    """

    def __init__(
        self, stats: ReadStats | None = None, keep: Callable[[int, Any], Any] | None = None
    ) -> None:
        self.stats, self.keep = stats, keep
        self._kept: dict[str, tuple[str, Any, int]] = {}

    def offer(self, key: str, updated: str, reduce: Callable[[], Any]) -> None:
        previous = self._kept.get(key)
        if previous is not None:
            if self.stats is not None:
                self.stats.duplicates += 1
            if updated < previous[0]:
                return
        reduced = reduce()
        if reduced is not None:
            slot = previous[2] if previous is not None else len(self._kept)
            self._kept[key] = (updated, self.keep(slot, reduced) if self.keep else reduced, slot)

    def result(self) -> dict[str, Any]:
        return {key: value for key, (_, value, _) in self._kept.items()}


def latest_by_id(
    works: Iterable[tuple[Location, dict]],
    reduce: Callable[[Location, dict], Any],
    stats: ReadStats | None = None,
    keep: Callable[[int, Any], Any] | None = None,
) -> dict[str, Any]:
    """``{work id: reduce(location, work)}`` keeping the newest ``updated_date`` per id
    (:class:`LatestById`). Single pass; only reduced records are kept (see the module
    docstring)."""
    latest = LatestById(stats, keep)
    for location, work in works:
        latest.offer(normalise_id(work["id"]), updated_date(work), partial(reduce, location, work))
    return latest.result()
