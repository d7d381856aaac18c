"""The columnar reader: JSON Lines / gzip parts parsed and projected by DuckDB.

``data.reader=columnar`` (and ``auto`` when DuckDB is installed and the text features
are ``tfidf``) reads each ``.jsonl`` / ``.ndjson`` / ``.gz`` file with one DuckDB
``read_json`` query on one thread: an explicit column list (only the fields
:class:`~heco_pyg.data.openalex.graph.WorkReducer` reads; the abstract's inverted index
typed as ``JSON``, never inferred) and SQL that computes, per record, what the reducer
would: author ids and null ids, the concept entries kept by score, the label, the
references as work numbers, the abstract's words with their counts. Python then only
builds each :class:`~heco_pyg.data.openalex.table.Work` from those columns and offers it
to the same :class:`~heco_pyg.data.openalex.records.LatestById` as the validating reader
(:func:`columnar_records`), so deduplication (the newest ``updated_date``), the first-seen
names and the text features go through the very same code.

Each record is also checked to be *plain*: every field the reducer reads has the JSON
type of the common case (strings or null where the reducer wants text, numbers for
scores, a well-formed inverted index with non-negative integer positions, a work id).
A part with one record that is not plain, or that DuckDB cannot parse (malformed JSON,
a list where an object belongs, a truncated gzip), is read again by the validating
reader (:func:`heco_pyg.data.openalex.records.iter_works`), which names the file and
line of a bad record or counts it under ``data.on_bad_record=skip`` exactly as it
always does; the graph is the same either way (tested). API pages (``.json``) always
go to the validating reader.
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
from pathlib import Path
from typing import Any

from heco_pyg.core.errors import DataError
from heco_pyg.data.openalex.features import HashedWords
from heco_pyg.data.openalex.graph import WorkReducer
from heco_pyg.data.openalex.hashed_text import part_documents
from heco_pyg.data.openalex.records import (
    DECODE_ERRORS,
    DEFAULT_LIMITS,
    GZIP_SUFFIXES,
    ReadLimits,
    normalise_id,
)

log = logging.getLogger(__name__)

READERS = ("auto", "columnar", "validating")
#: A well-formed inverted index as DuckDB re-serialises JSON (no spaces): keys mapped to
#: lists of non-negative integers.
INDEX = r'\{\}|\{(?:"(?:[^"\\]|\\.)*":\[(?:[0-9]+(?:,[0-9]+)*)?\][,}])+'
PAIR = r'"(?:[^"\\]|\\.)*":\[([0-9,]*)\]'
WORK_ID = r"(https://openalex\.org/)?[Ww][0-9]+"


def resolve_reader(reader: str, method: str) -> str:
    """``columnar`` or ``validating`` for ``data.reader`` with text features ``method``."""
    if reader not in READERS:
        raise DataError(f"data.reader={reader!r}; expected one of {READERS}")
    available = importlib.util.find_spec("duckdb") is not None
    if reader == "columnar":
        if not available:
            raise DataError("data.reader=columnar needs duckdb: pip install duckdb "
                            "(or data.reader=validating)")  # fmt: skip
        if method != "tfidf":
            raise DataError(f"data.reader=columnar reads tfidf text only, not {method!r} "
                            "(data.reader=auto picks the validating reader for it)")  # fmt: skip
    if reader == "auto":
        reader = "columnar" if available and method == "tfidf" else "validating"
    return reader


def _is(value: str, *types: str) -> str:
    """SQL: the JSON value's type is one of ``types`` (``NULL``: JSON null or missing)."""
    names = ", ".join(f"'{t}'" for t in types)
    return f"coalesce(json_type({value}), 'NULL') IN ({names})"


def _text(value: str) -> str:
    return f"CASE WHEN json_type({value}) = 'VARCHAR' THEN {value} ->> '$' END"


def _columns(concepts: str, label: str) -> dict[str, str]:
    named = "STRUCT(id JSON, display_name JSON)"
    columns = {
        "id": "VARCHAR", "updated_date": "JSON", "title": "JSON", "display_name": "JSON",
        "doi": "JSON", "is_authors_truncated": "JSON",
        "authorships": "STRUCT(author STRUCT(id JSON))[]",
        "referenced_works": "VARCHAR[]", "abstract_inverted_index": "JSON",
    }  # fmt: skip
    if concepts == "concepts":
        columns["concepts"] = "STRUCT(id JSON, display_name JSON, level JSON, score JSON)[]"
    if concepts == "keywords":
        columns["keywords"] = "STRUCT(id JSON, display_name JSON, score JSON)[]"
    if concepts in ("topics", "subfields") or label != "none":
        columns["topics"] = (f"STRUCT(id JSON, display_name JSON, score JSON, "
                             f"field {named}, subfield {named})[]")  # fmt: skip
    if label != "none":
        columns["primary_topic"] = "JSON"
    return columns


def _concept_sql(concepts: str, min_score: float) -> tuple[str, str, str, str]:
    """``(plain, ids, names, levels)`` SQL over the kept entries of the concept source."""
    source = "topics" if concepts == "subfields" else concepts
    item = "e.subfield" if concepts == "subfields" else "e"
    entries = f"coalesce({source}, [])"
    score_ok = f"""CASE WHEN {_is("e.score", "NULL")} THEN {min_score <= 0}
                   ELSE e.score::DOUBLE >= {min_score!r} END"""
    plain = f"""list_bool_and(list_transform({entries}, lambda e: e IS NOT NULL
        AND {_is("e.score", "NULL", "BIGINT", "UBIGINT", "DOUBLE")}
        AND {_is(f"{item}.display_name", "VARCHAR", "NULL")}
        {
        "AND " + _is("e.level", "NULL", "BIGINT", "UBIGINT", "DOUBLE", "VARCHAR", "OBJECT", "ARRAY")
        if concepts == "concepts"
        else ""
    }))"""
    kept = f"""list_filter({entries}, lambda e: e IS NOT NULL AND ({score_ok})
        AND json_type({item}.id) = 'VARCHAR')"""
    ids = f"list_transform({kept}, lambda e: {item}.id ->> '$')"
    names = f"list_transform({kept}, lambda e: coalesce({_text(f'{item}.display_name')}, ''))"
    levels = "NULL"
    if concepts == "concepts":
        levels = f"""list_transform({kept}, lambda e:
            CASE WHEN json_type(e.level) IN ('BIGINT', 'UBIGINT') THEN e.level::BIGINT END)"""
    return f"coalesce({plain}, true)", ids, names, levels


def _label_sql(label: str) -> tuple[str, str, str]:
    """``(plain, id, name)`` SQL of the label (``primary_topic``, else the first topic)."""
    if label == "none":
        return "true", "NULL", "NULL"
    primary = f"primary_topic -> '$.{label}'"
    first = f"to_json(topics[1].{label})"
    level = f"""CASE WHEN json_type(primary_topic) = 'OBJECT' AND primary_topic::VARCHAR <> '{{}}'
                THEN {primary} ELSE {first} END"""
    ident = "CASE WHEN json_type(level, '$.id') = 'VARCHAR' THEN level ->> '$.id' END"
    plain = f"""{_is("primary_topic", "NULL", "OBJECT")} AND (label_id IS NULL
                OR {_is("level -> '$.display_name'", "VARCHAR", "NULL")})"""
    return plain, f"{level} AS level, {ident}", "coalesce(level ->> '$.display_name', '')"


def query(file: Path, concepts: str, min_score: float, label: str) -> str:
    """The SQL that reads ``file`` into one row per record (see the module docstring)."""
    concept_plain, concept_ids, concept_names, concept_levels = _concept_sql(concepts, min_score)
    label_plain, label_level_and_id, label_name = _label_sql(label)
    index = "abstract_inverted_index"
    path = str(file).replace("'", "''")
    return f"""
    WITH raw AS (
      SELECT * FROM read_json('{path}', format = 'newline_delimited', records = true,
        columns = {_columns(concepts, label)!r})
    ), projected AS (
      SELECT id,
        coalesce({_text("updated_date")}, '') AS updated,
        coalesce(nullif({_text("title")}, ''), {_text("display_name")}, '') AS title,
        coalesce({_text("doi")}, '') AS doi,
        coalesce(is_authors_truncated::VARCHAR = 'true', false) AS truncated,
        list_transform(coalesce(authorships, []), lambda a:
          CASE WHEN json_type(a.author.id) = 'VARCHAR' THEN a.author.id ->> '$' END)
          AS all_authors,
        list_transform(list_filter(coalesce(referenced_works, []), lambda r:
          regexp_full_match(r, '{WORK_ID}')), lambda r:
          TRY_CAST(regexp_extract(r, '[0-9]+$') AS BIGINT)) AS refs,
        CASE WHEN json_type({index}) = 'OBJECT' THEN json_keys({index}) END AS keys,
        CASE WHEN json_type({index}) = 'OBJECT' THEN list_transform(
          regexp_extract_all({index}::VARCHAR, '{PAIR}', 1), lambda s:
          CASE WHEN s = '' THEN 0 ELSE length(s) - length(replace(s, ',', '')) + 1 END)
          END AS counts,
        {_is(index, "NULL", "OBJECT")} AND (json_type({index}) IS DISTINCT FROM 'OBJECT'
          OR (regexp_full_match({index}::VARCHAR, '{INDEX}')
              AND len(keys) = len(list_distinct(keys)))) AS index_plain,
        {_is("updated_date", "VARCHAR", "NULL")} AND {_is("title", "VARCHAR", "NULL")}
          AND {_is("display_name", "VARCHAR", "NULL")}
          AND {_is("is_authors_truncated", "NULL", "BOOLEAN")} AND {concept_plain}
          AS fields_plain,
        {concept_ids} AS concept_ids, {concept_names} AS concept_names,
        {concept_levels} AS concept_levels,
        {label_level_and_id} AS label_id,
        {label_plain} AS label_plain
      FROM raw
    )
    SELECT id, updated, title, doi, truncated,
      list_filter(all_authors, lambda x: coalesce(x, '') <> '') AS authors,
      len(all_authors) AS num_authorships, refs,
      coalesce(list_sum(counts), 0) > 0 AND coalesce(list_bool_or(
        list_transform(keys, lambda k: k <> '')), false) AS has_abstract,
      CASE WHEN has_abstract THEN keys END AS keys,
      CASE WHEN has_abstract THEN counts END AS counts,
      concept_ids, concept_names, concept_levels, label_id, {label_name} AS label_name,
      fields_plain AND index_plain AND label_plain
        AND len(list_filter(refs, lambda r: r IS NULL)) = 0 AS plain
    FROM projected
    """


def read_columnar(
    file: Path, reducer: WorkReducer, limits: ReadLimits = DEFAULT_LIMITS
) -> tuple[Any, list[HashedWords]] | None:
    """``(Arrow table, hashed words)`` of ``file``'s records, in file order, or None when
    the part must go to the validating reader (see the module docstring). ``limits``
    (``data.max_line_bytes``, ``data.max_part_bytes``): a part that holds more than
    ``max_part_bytes`` once decompressed or a line longer than ``max_line_bytes``
    (:func:`within_limits`) goes to the validating reader, which reports it as always."""
    import duckdb
    import pyarrow.compute as pc

    if not within_limits(file, limits):
        log.info("%s: the validating reader reads it (data.max_line_bytes or "
                 "data.max_part_bytes, or unreadable)", file)  # fmt: skip
        return None
    sql = query(file, reducer.concepts, reducer.min_concept_score, reducer.label)
    try:
        with _connection() as connection:
            table = connection.sql(sql).to_arrow_table()
    except duckdb.Error as error:
        log.info("%s: the validating reader reads it (DuckDB: %s)", file,
                 str(error).split("\n", 1)[0][:300])  # fmt: skip
        return None
    if not pc.all(table.column("plain")).as_py() or any(
        normalise_id(key) is None for key in table.column("id").to_pylist()
    ):
        log.info("%s: the validating reader reads it (a record of an uncommon shape)", file)
        return None
    documents = part_documents(table.column("title").to_pylist(), table.column("keys"),
                               table.column("counts"))  # fmt: skip
    return table.drop_columns(["plain", "keys", "counts"]), documents


def within_limits(file: Path, limits: ReadLimits) -> bool:
    """Whether every line of ``file`` (decompressed) is at most ``max_line_bytes`` and the
    whole at most ``max_part_bytes``, read through once, a MiB at a time (DuckDB's own
    object size limit is not enforced on JSON Lines); an unreadable file is not."""
    opener = gzip.open if file.name.endswith(GZIP_SUFFIXES) else open
    total = longest = current = 0
    try:
        with opener(file, "rb") as handle:
            while chunk := handle.read(2**20):
                total += len(chunk)
                pieces = chunk.split(b"\n")
                if len(pieces) == 1:
                    current += len(chunk)
                else:
                    inner = max(map(len, pieces[1:-1]), default=0)
                    longest = max(longest, current + len(pieces[0]), inner)
                    current = len(pieces[-1])
                if total > limits.max_part_bytes or max(longest, current) > limits.max_line_bytes:
                    return False
    except DECODE_ERRORS:
        return False
    return True


def _connection():
    """A fresh DuckDB connection on one thread, for one part: closing it after the part
    gives back the ~270 MiB its buffers would otherwise keep between parts (measured)."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET threads = 1")  # one core: the others are the graph's
    connection.execute("SET preserve_insertion_order = true")
    return connection
