"""The columnar reader's records offered to the deduplication, and its kept rows written
into the :class:`~heco_pyg.data.openalex.table.WorkTable` a part at a time.

:func:`columnar_records` yields ``(work id, updated_date, reduce)`` for every record, in
file order, like the validating reader, so :class:`~heco_pyg.data.openalex.records.LatestById`
decides which versions are kept with the same rule. For a part DuckDB read
(:func:`~heco_pyg.data.openalex.columnar.read_columnar`), ``reduce()`` does no work per
record: it returns a row reserver and the record's hashed words; the rows it reserved are
appended to the table in one vectorised step when the part ends (:class:`PartRows`), and
the concept, level and label names of the records kept are then recorded in the
reducer's tables, first seen first, as the validating reducer records them one record at
a time. A part DuckDB could not read goes through the validating reader, record by record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import heco_pyg.data.openalex.columnar as columnar
from heco_pyg.data.openalex.graph import WorkReducer
from heco_pyg.data.openalex.records import (
    DEFAULT_LIMITS,
    GZIP_SUFFIXES,
    JSON_LINES_SUFFIXES,
    ReadLimits,
    ReadStats,
    iter_works,
    normalise_id,
    updated_date,
)
from heco_pyg.data.openalex.table import FLAGS, WorkTable


def _flattened(column: pa.ChunkedArray, rows: np.ndarray) -> tuple[np.ndarray, list]:
    """``(row of each entry, entries)`` of list ``column`` over ``rows``, in order."""
    lists = column.take(pa.array(rows)).combine_chunks()
    parents = pc.list_parent_indices(lists).to_numpy()
    return parents, lists.flatten().to_pylist()


def _first(keys: list, values: list, into: dict) -> None:
    """``into.setdefault(key, value)`` for each pair, in order (vectorised)."""
    frame = pd.DataFrame({"key": pd.Series(keys, dtype=object), "value": values})
    for key, value in frame.drop_duplicates("key").itertuples(index=False):
        into.setdefault(key, value)


class PartRows:
    """The rows of one DuckDB-read part that the deduplication keeps."""

    def __init__(self, table: WorkTable, part: pa.Table) -> None:
        self.table, self.part = table, part
        self.base = len(table.titles)
        self.kept: list[int] = []

    def reserve(self, index: int) -> int:
        """Record ``index`` of the part is kept: its row in the table."""
        self.kept.append(index)
        return self.base + len(self.kept) - 1

    def flush(self, reducer: WorkReducer) -> None:
        """Appends the kept records to the table and records their names in ``reducer``."""
        rows, part = np.asarray(self.kept, np.int64), self.part
        if not len(rows):
            return
        column = lambda name: part.column(name).take(pa.array(rows)).to_pylist()  # noqa: E731
        lists: dict[str, tuple[np.ndarray, Any]] = {}
        for name, source in (("authors", "authors"), ("concepts", "concept_ids")):
            parents, values = _flattened(part.column(source), rows)
            first = ~pd.DataFrame({"p": parents, "v": values}).duplicated().to_numpy()
            lists[name] = (np.bincount(parents[first], minlength=len(rows)),
                           [v for v, keep in zip(values, first, strict=True) if keep])  # fmt: skip
        parents, references = _flattened(part.column("refs"), rows)
        lists["references"] = (np.bincount(parents, minlength=len(rows)),
                               np.asarray(references, np.int64))  # fmt: skip
        titles = column("title")
        has_abstract = np.asarray(column("has_abstract"), bool)
        bits = {
            "has_title": np.fromiter((bool(t) for t in titles), bool, len(rows)),
            "has_text": np.fromiter((bool(t.strip()) for t in titles), bool, len(rows))
            | has_abstract,
            "has_abstract": has_abstract,
            "authors_truncated": np.asarray(column("truncated"), bool),
        }
        flags = sum(bits[name].astype(np.uint8) << bit for bit, name in enumerate(FLAGS))
        authorships = np.asarray(column("num_authorships"), np.int64)
        listed = pc.list_value_length(part.column("authors").take(pa.array(rows)))
        self.table.extend(
            {"titles": [t.strip().split("\n", 1)[0] for t in titles], "dois": column("doi"),
             "labels": column("label_id"),
             "null_author_ids": authorships - listed.to_numpy(zero_copy_only=False)},
            flags, lists,
        )  # fmt: skip
        self._names(reducer, rows)

    def _names(self, reducer: WorkReducer, rows: np.ndarray) -> None:
        part = self.part
        _, ids = _flattened(part.column("concept_ids"), rows)
        _, names = _flattened(part.column("concept_names"), rows)
        _first(ids, names, reducer.concept_names)
        if reducer.concepts == "concepts":
            _, levels = _flattened(part.column("concept_levels"), rows)
            leveled = [(i, v) for i, v in zip(ids, levels, strict=True) if v is not None]
            _first([i for i, _ in leveled], [v for _, v in leveled], reducer.concept_levels)
        labels = part.column("label_id").take(pa.array(rows)).to_pylist()
        label_names = part.column("label_name").take(pa.array(rows)).to_pylist()
        labelled = [(i, n) for i, n in zip(labels, label_names, strict=True) if i is not None]
        _first([i for i, _ in labelled], [n for _, n in labelled], reducer.label_names)


def columnar_records(
    files: list[Path], reducer: WorkReducer, stats: ReadStats, on_bad_record: str,
    table: WorkTable, limits: ReadLimits = DEFAULT_LIMITS,
) -> Iterator[tuple[Any, str, Callable[[], Any]]]:  # fmt: skip
    """``(work id, updated_date, reduce)`` for every record of ``files`` in file order, for
    :meth:`LatestById.offer`: DuckDB-read where a part allows (``reduce()`` gives a row
    reserver and the hashed words), else validating (a ``Work`` and its words)."""
    for file in files:
        read = None
        if file.name.endswith((*JSON_LINES_SUFFIXES, *GZIP_SUFFIXES)):
            read = columnar.read_columnar(file, reducer, limits)
        if read is None:
            for location, work in iter_works(file, on_bad_record, stats, limits=limits):
                yield (normalise_id(work["id"]), updated_date(work),
                       functools.partial(reducer, location, work))  # fmt: skip
            continue
        part, documents = read
        stats.files += 1
        rows = PartRows(table, part)
        ids = part.column("id").to_pylist()
        updated = part.column("updated").to_pylist()
        for index, (key, date, document) in enumerate(zip(ids, updated, documents, strict=True)):
            stats.records += 1
            yield normalise_id(key), date, functools.partial(_reserved, rows, index, document)
        rows.flush(reducer)
        del read, part, rows
        pa.default_memory_pool().release_unused()  # ~250 MiB a part otherwise kept (measured)


def _reserved(rows: PartRows, index: int, document) -> tuple[Callable[[], int], Any]:
    return functools.partial(rows.reserve, index), document
