"""Reading several record files (snapshot parts) at once, one worker process per file.

Parsing a record, reducing it to a :class:`~heco_pyg.data.openalex.table.Work` and
splitting its text into words take most of ingestion; they depend on the record alone,
so workers do them file by file. Everything that depends on the order of the records
is left to the main process, which replays each file's results in file order:
deduplication (:class:`~heco_pyg.data.openalex.records.LatestById`: the newest
``updated_date``, a tie to the later record), bad records (raised or counted where the
one-process reader would, e.g. a malformed older duplicate is never reported), the
first-seen concept and label names, and the text features. The graph and every count
are therefore those of the one-process reader (tested on the same files).

Memory: the results of the files in flight (one per worker plus the one being
replayed), i.e. the reduced records of a few parts, never the raw JSON.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heco_pyg.data.openalex.features import make_document
from heco_pyg.data.openalex.graph import WorkReducer
from heco_pyg.data.openalex.records import (
    BadRecordHandler,
    Location,
    ReadStats,
    iter_works,
    normalise_id,
    updated_date,
)


@dataclass(frozen=True)
class Settings:
    """What a worker needs to reduce records like the main process's reducer."""

    concepts: str
    min_concept_score: float
    label: str
    method: str  # the featuriser's (what document each work gives)


@dataclass(frozen=True)
class Record:
    """One work record as a worker saw it: reduced, or the reason it is bad."""

    location: Location
    key: str
    updated: str
    reduced: Any  # (Work, document), or None when the record is bad
    error: str | None
    names: tuple[dict, dict, dict]  # concept names, concept levels, label names it carried


@dataclass(frozen=True)
class BadRecord:
    location: Location
    message: str


def _reduce_file(settings: Settings, file: Path) -> tuple[list, ReadStats]:
    """Every record of ``file``, in order: a :class:`Record` or a :class:`BadRecord`."""
    stats, events = ReadStats(), []

    def bad(location: Location, message: str) -> None:
        events.append(BadRecord(location, message))

    reducer = WorkReducer(
        settings.concepts, settings.min_concept_score, settings.label,
        document=lambda title, index: make_document(settings.method, title, index),
    )  # fmt: skip
    for location, work in iter_works(file, stats=stats, on_bad=bad):
        reducer.concept_names, reducer.concept_levels, reducer.label_names = {}, {}, {}
        try:
            reduced, error = reducer.reduce(work), None
        except (TypeError, AttributeError) as failure:
            reduced, error = None, f"bad work {work.get('id')}: {failure}"
        names = (reducer.concept_names, reducer.concept_levels, reducer.label_names)
        key = normalise_id(work["id"])
        events.append(Record(location, key, updated_date(work), reduced, error, names))
    return events, stats


def _context():
    """Fork where the platform has it (workers start at once, nothing to re-import; they
    run no torch or OpenMP code), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def read_parts(
    files: list[Path],
    reducer: WorkReducer,
    method: str,
    stats: ReadStats,
    on_bad: BadRecordHandler,
    workers: int,
) -> Iterator[tuple[str, str, Callable[[], Any]]]:
    """``(work id, updated_date, reduce)`` for every record of ``files``, in file order, read
    by ``workers`` processes, for :meth:`LatestById.offer` (see the module docstring):
    ``reduce()`` records the names the record carried in ``reducer``'s tables and
    reports it to ``on_bad`` if it is bad. Bad records outside any work (malformed JSON,
    no id) go to ``on_bad`` where the one-process reader would report them."""
    settings = Settings(reducer.concepts, reducer.min_concept_score, reducer.label, method)
    tables = (reducer.concept_names, reducer.concept_levels, reducer.label_names)

    def replay(record: Record):
        for table, names in zip(tables, record.names, strict=True):
            for key, value in names.items():
                table.setdefault(key, value)
        if record.error is not None:
            on_bad(record.location, record.error)
        return record.reduced

    with _context().Pool(min(workers, len(files)), initializer=_ignore_interrupts) as pool:
        for events, file_stats in pool.imap(_Worker(settings), files):
            stats.files += file_stats.files
            stats.empty_pages += file_stats.empty_pages
            for event in events:
                if isinstance(event, BadRecord):
                    on_bad(event.location, event.message)
                    continue
                stats.records += 1
                yield event.key, event.updated, lambda record=event: replay(record)


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the main process, which stops the pool (one message, not
    one traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Worker:
    """A picklable ``file -> _reduce_file(settings, file)``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, file: Path) -> tuple[list, ReadStats]:
        return _reduce_file(self.settings, file)
