"""The reduced works of an ingestion: one :class:`Work` as the reducer makes it, and
:class:`WorkTable`, the columns they are kept in until the graph is assembled.

A :class:`Work` is a Python object per work with a tuple of id strings per list (~0.8
KB a work beside its title and DOI); at field scale those
objects are most of the ingestion's memory, and, freed among the strings that stay,
they leave the allocator's pages fragmented. :class:`WorkTable` appends each reduced
work to flat arrays instead: author and concept ids as int32 codes (each id string is
stored once, in the code table), references as int64 work numbers, flags as one byte,
one row per record kept (a newer version of a work gets a new row; the deduplication
says which rows the graph uses, :meth:`WorkTable.select`). The graph built from it is
the one built from the :class:`Work` objects (tested).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True)
class Work:
    """The fields of one work the graph needs."""

    title: str  # its first line, stripped (papers.csv); the text itself goes to the featuriser
    has_title: bool
    has_text: bool
    doi: str  # as OpenAlex gives it (https://doi.org/...), or ""
    has_abstract: bool
    authors: tuple[str, ...]
    null_author_ids: int
    authors_truncated: bool
    concepts: tuple[str, ...]
    label: str | None
    references: np.ndarray  # int64 work numbers (W123 -> 123): 8 bytes each, not a URL string


#: The boolean fields of a work, one bit each of :attr:`WorkTable.flags`.
FLAGS = ("has_title", "has_text", "has_abstract", "authors_truncated")
#: The list fields: (value type code of :mod:`array`, numpy dtype).
LISTS = {"authors": ("i", np.int32), "concepts": ("i", np.int32), "references": ("q", np.int64)}


class WorkTable:
    """Reduced works as columns; :meth:`add` a work, get its row; :meth:`select` the rows
    of the graph (in paper order), then read them (:meth:`entries`, :meth:`flag`, ...)."""

    def __init__(self) -> None:
        self.titles: list[str] = []
        self.dois: list[str] = []
        self.labels: list[str | None] = []
        self.flags = array("B")
        self.null_author_ids = array("i")
        self.codes: dict[str, dict[str, int]] = {"authors": {}, "concepts": {}}
        self._values = {name: array(code) for name, (code, _) in LISTS.items()}
        self._ends = {name: array("q") for name in LISTS}
        self.ids: list[str] = []
        self.rows = np.zeros(0, np.int64)

    def add(self, work: Work) -> int:
        """Appends ``work``; returns its row."""
        self.titles.append(work.title)
        self.dois.append(work.doi)
        self.labels.append(sys.intern(work.label) if work.label is not None else None)
        self.flags.append(sum(1 << bit for bit, name in enumerate(FLAGS) if getattr(work, name)))
        self.null_author_ids.append(work.null_author_ids)
        for name, codes in self.codes.items():
            self._values[name].extend(codes.setdefault(key, len(codes)) for key in
                                      getattr(work, name))  # fmt: skip
        self._values["references"].frombytes(np.asarray(work.references, np.int64).tobytes())
        for name, ends in self._ends.items():
            ends.append(len(self._values[name]))
        return len(self.titles) - 1

    def extend(
        self,
        columns: Mapping[str, Sequence],
        flags: np.ndarray,
        lists: Mapping[str, tuple[np.ndarray, Sequence]],
    ) -> None:
        """Appends many works at once, as :meth:`add` would one by one: ``columns`` holds
        ``titles``, ``dois``, ``labels`` and ``null_author_ids``, ``flags`` one byte per
        work (bits in :data:`FLAGS` order), ``lists`` each list field as ``(entries per
        work, the entries in order)``: id strings for authors and concepts (each work's
        once), work numbers for references."""
        self.titles.extend(columns["titles"])
        self.dois.extend(columns["dois"])
        self.labels.extend(sys.intern(x) if x is not None else None for x in columns["labels"])
        self.flags.frombytes(np.asarray(flags, np.uint8).tobytes())
        self.null_author_ids.frombytes(np.asarray(columns["null_author_ids"], np.int32).tobytes())
        for name, (lengths, values) in lists.items():
            if name in self.codes:
                codes = self.codes[name]
                index, uniques = pd.factorize(pd.Series(values, dtype=object))
                numbers = [codes.setdefault(key, len(codes)) for key in uniques]
                values = np.asarray(numbers, np.int64)[index]
            end = self._ends[name][-1] if len(self._ends[name]) else 0
            self._values[name].frombytes(np.asarray(values, LISTS[name][1]).tobytes())
            ends = end + np.cumsum(np.asarray(lengths, np.int64))
            self._ends[name].frombytes(ends.astype(np.int64).tobytes())

    def select(self, kept: Mapping[str, int]) -> None:
        """The graph's papers: ``{work id: row}``, in paper order."""
        self.ids = list(kept)
        self.rows = np.fromiter(kept.values(), np.int64, len(kept))

    def __len__(self) -> int:
        """Papers selected."""
        return len(self.ids)

    def lengths(self, name: str) -> np.ndarray:
        """Entries of list ``name`` per selected paper."""
        ends = np.frombuffer(self._ends[name], np.int64)
        return np.diff(ends, prepend=0)[self.rows]

    def entries(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(paper, value)`` per entry of list ``name`` over the selected papers, in order:
        codes for authors and concepts (see :meth:`ids_of`), work numbers for references."""
        values = np.frombuffer(self._values[name], LISTS[name][1])
        ends = np.frombuffer(self._ends[name], np.int64)
        lengths = self.lengths(name)
        papers = np.repeat(np.arange(len(self.rows)), lengths)
        # entry k of paper p sits at (start of p's row) + k
        starts = (ends[self.rows] - lengths) - (np.cumsum(lengths) - lengths)
        return papers, values[np.repeat(starts, lengths) + np.arange(len(papers))]

    def factorize(self, name: str) -> tuple[np.ndarray, list[str]]:
        """``(paper, node index)`` pairs of ``authors`` or ``concepts`` and the node ids,
        numbered in order of first appearance over the selected papers."""
        papers, codes = self.entries(name)
        index, uniques = pd.factorize(codes)
        names = np.array(list(self.codes[name]), dtype=object)
        return np.stack([papers, index]).T, names[uniques].tolist()

    def flag(self, name: str) -> np.ndarray:
        """Boolean field ``name`` (one of :data:`FLAGS`) of the selected papers."""
        bits = np.frombuffer(self.flags, np.uint8)[self.rows]
        return (bits >> FLAGS.index(name)) & 1 == 1

    def column(self, name: str) -> list:
        """``titles``, ``dois`` or ``labels`` of the selected papers."""
        values = getattr(self, name)
        return [values[row] for row in self.rows.tolist()]

    def null_authors(self) -> np.ndarray:
        return np.frombuffer(self.null_author_ids, np.int32)[self.rows]
