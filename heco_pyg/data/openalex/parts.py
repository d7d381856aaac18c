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

Memory: a worker writes its results to a spool file in a temporary folder, a chunk of
:data:`CHUNK` records at a time, and the main process replays them chunk by chunk, so
neither holds more than a chunk of reduced records, never a whole part nor the raw
JSON. At most ``workers + 1`` files are handed out ahead of the one being replayed, which
bounds the spool on disk to a few parts' reduced records.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heco_pyg.data.openalex.features import make_document
from heco_pyg.data.openalex.graph import WorkReducer
from heco_pyg.data.openalex.records import (
    DEFAULT_LIMITS,
    BadRecordHandler,
    Location,
    ReadLimits,
    ReadStats,
    iter_works,
    normalise_id,
    updated_date,
)

#: Records per pickled chunk of a spool file: small enough that a chunk is a few MiB,
#: large enough that pickling is not per record.
CHUNK = 2000


@dataclass(frozen=True)
class Settings:
    """What a worker needs to reduce records like the main process's reducer."""

    concepts: str
    min_concept_score: float
    label: str
    method: str  # the featuriser's (what document each work gives)
    limits: ReadLimits = DEFAULT_LIMITS


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


def _reduce_file(settings: Settings, file: Path, spool: Path) -> tuple[Path, ReadStats]:
    """Every record of ``file``, in order, a :class:`Record` or a :class:`BadRecord`, pickled
    into ``spool`` in lists of at most :data:`CHUNK` (read back by :func:`_replayed`)."""
    stats, events = ReadStats(), []

    def bad(location: Location, message: str) -> None:
        events.append(BadRecord(location, message))

    reducer = WorkReducer(
        settings.concepts, settings.min_concept_score, settings.label,
        document=lambda title, index: make_document(settings.method, title, index),
    )  # fmt: skip
    with spool.open("wb") as output:
        for location, work in iter_works(file, stats=stats, on_bad=bad, limits=settings.limits):
            reducer.concept_names, reducer.concept_levels, reducer.label_names = {}, {}, {}
            try:
                reduced, error = reducer.reduce(work), None
            except (TypeError, AttributeError) as failure:
                reduced, error = None, f"bad work {work.get('id')}: {failure}"
            names = (reducer.concept_names, reducer.concept_levels, reducer.label_names)
            key = normalise_id(work["id"])
            events.append(Record(location, key, updated_date(work), reduced, error, names))
            if len(events) >= CHUNK:
                pickle.dump(events, output, protocol=pickle.HIGHEST_PROTOCOL)
                events = []
        pickle.dump(events, output, protocol=pickle.HIGHEST_PROTOCOL)
    return spool, stats


def _replayed(spool: Path) -> Iterator[Record | BadRecord]:
    """The events :func:`_reduce_file` wrote to ``spool``, one chunk in memory at a time;
    the file is removed once read."""
    with spool.open("rb") as source:
        while True:
            try:
                chunk = pickle.load(source)
            except EOFError:
                break
            yield from chunk
            del chunk
    spool.unlink()


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
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Iterator[tuple[str, str, Callable[[], Any]]]:
    """``(work id, updated_date, reduce)`` for every record of ``files``, in file order, read
    by ``workers`` processes, for :meth:`LatestById.offer` (see the module docstring):
    ``reduce()`` records the names the record carried in ``reducer``'s tables and
    reports it to ``on_bad`` if it is bad. Bad records outside any work (malformed JSON,
    no id) go to ``on_bad`` where the one-process reader would report them."""
    settings = Settings(reducer.concepts, reducer.min_concept_score, reducer.label, method, limits)
    tables = (reducer.concept_names, reducer.concept_levels, reducer.label_names)

    def replay(record: Record):
        for table, names in zip(tables, record.names, strict=True):
            for key, value in names.items():
                table.setdefault(key, value)
        if record.error is not None:
            on_bad(record.location, record.error)
        return record.reduced

    with (
        tempfile.TemporaryDirectory(prefix="heco_pyg_parts_") as folder,
        _context().Pool(min(workers, len(files)), initializer=_ignore_interrupts) as pool,
    ):
        work, handed_out = _Worker(settings), deque()
        queue = iter(enumerate(files))

        def hand_out() -> None:
            item = next(queue, None)
            if item is not None:
                index, file = item
                handed_out.append(pool.apply_async(work, (file, Path(folder) / f"{index}.pickle")))

        for _ in range(workers + 1):
            hand_out()
        while handed_out:
            spool, file_stats = handed_out.popleft().get()
            hand_out()
            stats.files += file_stats.files
            stats.empty_pages += file_stats.empty_pages
            for event in _replayed(spool):
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
    """A picklable ``(file, spool) -> _reduce_file(settings, file, spool)``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, file: Path, spool: Path) -> tuple[Path, ReadStats]:
        return _reduce_file(self.settings, file, spool)
