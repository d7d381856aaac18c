"""The papers of a run by row: their ids, titles and DOIs, and one normaliser for each
kind of identifier, so a query, a record and a stored id are compared the same way.

An id or a DOI names one row: two rows with the same (normalised) id in a run's ids, or
two papers with the same DOI in ``metadata=``, are errors, never a silent last-wins."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from heco_pyg.core.errors import DataError

OPENALEX_PREFIX = "https://openalex.org/"


def normalise_id(value) -> str:
    """``https://openalex.org/W123`` / ``w123`` / ``W0123`` -> ``W123``; other ids as
    strings."""
    text = str(value).strip()
    if text.lower().startswith(OPENALEX_PREFIX):
        text = text[len(OPENALEX_PREFIX) :]
    if text[:1].isascii() and text[:1].isalpha() and text[1:].isascii() and text[1:].isdigit():
        return text[0].upper() + (text[1:].lstrip("0") or "0")
    return text


DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:")


def normalise_doi(value: str) -> str | None:
    """``https://doi.org/10.1/X`` / ``doi:10.1/x`` / ``10.1/x`` -> ``10.1/x``; else None."""
    text = str(value).strip().lower()
    for prefix in DOI_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text if text.startswith("10.") and "/" in text else None


@dataclass
class Catalog:
    """The run's papers by row: ids, optional titles, and lookups by id and DOI."""

    ids: list[str]
    titles: list[str | None]
    by_id: dict[str, int]
    by_doi: dict[str, int]

    @classmethod
    def load(cls, ids: list[str], metadata: str | os.PathLike | None = None) -> Catalog:
        titles: list[str | None] = [None] * len(ids)
        by_id: dict[str, int] = {}
        for row, paper in enumerate(ids):
            first = by_id.setdefault(normalise_id(paper), row)
            if first != row:
                raise DataError(
                    f"the run's paper ids name {str(paper)[:80]!r} twice (rows {first} and "
                    f"{row}); an id must name one embedding row (retrain, or restore the file)"
                )
        by_doi: dict[str, int] = {}
        if metadata is not None:
            table = _read_metadata(metadata)
            if "paper_id" not in table.columns:
                columns = list(table.columns)
                raise DataError(f"{metadata}: missing column 'paper_id' (has {columns})")
            rows = [by_id.get(normalise_id(i), -1) for i in table["paper_id"]]
            for column in ("title", "doi"):
                if column not in table.columns:
                    continue
                for row, value in zip(rows, table[column], strict=True):
                    if row < 0 or not value:
                        continue
                    if column == "title":
                        titles[row] = value
                    elif (doi := normalise_doi(value)) is not None:
                        if by_doi.setdefault(doi, row) != row:
                            other = ids[by_doi[doi]]
                            raise DataError(
                                f"{metadata}: DOI {doi[:80]!r} is given to two papers "
                                f"({other!r} and {ids[row]!r}); a DOI names one paper"
                            )
        return cls(list(ids), titles, by_id, by_doi)

    def row(self, row: int | str) -> int:
        """An embedding row given explicitly (``row=``), checked against the run's size."""
        if isinstance(row, bool) or not str(row).strip().isdigit():
            raise DataError(f"row={row!r}: a row is a non-negative integer")
        if not 0 <= int(row) < len(self.ids):
            raise DataError(f"row={row}: out of range [0, {len(self.ids)})")
        return int(row)

    def resolve(self, query: str | int) -> int:
        """The row of a query: a DOI or a paper id (a number is an id, never a row:
        rows are asked for with ``row=``)."""
        if (doi := normalise_doi(query)) is not None:
            if not self.by_doi:
                raise DataError(f"query {query!r}: this run has no DOIs (papers.csv 'doi' column)")
            if doi not in self.by_doi:
                raise DataError(f"query {query!r}: DOI not among the run's papers")
            return self.by_doi[doi]
        row = self.by_id.get(normalise_id(query))
        if row is None:
            raise DataError(f"query {query!r}: not among the run's {len(self.ids)} paper ids")
        return row


def _read_metadata(path: str | os.PathLike) -> pd.DataFrame:
    """``metadata=``: a CSV with a header (``paper_id``, optional ``title`` and ``doi``)."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as error:
        problem = "empty" if isinstance(error, pd.errors.EmptyDataError) else type(error).__name__
        raise DataError(
            f"{path}: metadata= must be a UTF-8 CSV file with a paper_id column ({problem})"
        ) from None
