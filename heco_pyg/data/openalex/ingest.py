"""The OpenAlex ingestion pipeline: works (saved API pages, snapshot parts, or the live API)
to a HeCo graph.

:func:`ingest_works` is the whole chain: find the input files (or fetch the API pages),
stream and deduplicate the records (:mod:`.records`), reduce them to graph fields and
assemble the graph (:mod:`.graph`), featurise the text (:mod:`.features`), and cache
the result (:mod:`.cache`). Meta-paths and positives are added afterwards by
:func:`heco_pyg.data.prepare_paper_graph`.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from torch_geometric.data import HeteroData

from heco_pyg.core.errors import DataError
from heco_pyg.core.progress import phase_bar
from heco_pyg.core.secrets import read_api_key
from heco_pyg.data.openalex.api import API_URL, OpenAlexClient, query_hash, query_parameters
from heco_pyg.data.openalex.cache import GraphCache, cache_key, fingerprint_files
from heco_pyg.data.openalex.features import TextFeaturiser
from heco_pyg.data.openalex.graph import WorkReducer, assemble_graph
from heco_pyg.data.openalex.parts import read_parts
from heco_pyg.data.openalex.records import (
    DEFAULT_LIMITS,
    BadRecordHandler,
    LatestById,
    ReadLimits,
    ReadStats,
    find_files,
    iter_works,
    normalise_id,
    updated_date,
)
from heco_pyg.data.openalex.table import WorkTable

log = logging.getLogger(__name__)

#: Off a terminal, reading logs a line this often (seconds), checking the clock every
#: REPORT_EVERY records.
REPORT_SECONDS, REPORT_EVERY = 30.0, 1000


def read_works(
    files: list[Path],
    reducer: WorkReducer,
    stats: ReadStats,
    featuriser: TextFeaturiser,
    on_bad_record: str = "raise",
    max_works: int | None = None,
    workers: int = 1,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> WorkTable:
    """The reduced works of ``files``, the newest version of each selected (in order of
    first appearance: the papers); each work's text goes to ``featuriser`` (row = the
    work's position) as it is read. With ``workers > 1`` and several files, files are
    parsed and reduced in parallel (:mod:`heco_pyg.data.openalex.parts`), with the same
    result."""
    table = WorkTable()

    def keep(slot: int, reduced: tuple) -> int:
        work, document = reduced
        featuriser.add(slot, document)
        return table.add(work)

    latest = LatestById(stats, keep)
    if workers > 1 and len(files) > 1 and max_works is None:
        records = read_parts(
            files, reducer, featuriser.method, stats, reducer.on_bad, workers, limits
        )
    else:
        works = iter_works(files, on_bad_record, stats, limits=limits)
        if max_works is not None:
            works = itertools.islice(works, max_works)
        records = (
            (
                normalise_id(work["id"]),
                updated_date(work),
                functools.partial(reducer, location, work),
            )
            for location, work in works
        )
    for key, updated, reduce in _reported(records, stats, len(files)):
        latest.offer(key, updated, reduce)
    table.select(latest.result())
    return table


def _workers(read_workers: int | str, num_files: int) -> int:
    if read_workers == "auto":
        from heco_pyg.core.runtime import auto_threads

        read_workers = auto_threads()
    workers = max(1, min(int(read_workers), num_files))
    if workers > 1:
        log.info("reading %d files with %d processes", num_files, workers)
    return workers


def _reported(works: Iterable, stats: ReadStats, num_files: int) -> Iterator:
    """``works`` with the graph build's bar (:func:`~heco_pyg.core.phases.phase_bar`, on a
    terminal), else a log line every :data:`REPORT_SECONDS`: records read, files, works
    per second."""
    start = last = time.perf_counter()
    with phase_bar(None, "read", unit="records") as bar:
        for count, item in enumerate(works, start=1):
            bar.update()
            if not count % REPORT_EVERY and time.perf_counter() - last > REPORT_SECONDS:
                last = time.perf_counter()
                if bar.disable:
                    log.info("read: %s records, file %d of %d, %.0f records/s", f"{count:,}",
                             stats.files, num_files, count / (last - start))  # fmt: skip
            yield item


def _ingestion_stats(works: WorkTable, stats: ReadStats) -> dict[str, Any]:
    return {
        **stats.as_dict(),
        "unique_works": len(works),
        "null_author_ids": int(works.null_authors().sum()),
        "authors_truncated": int(works.flag("authors_truncated").sum()),
        "papers_without_authors": int((works.lengths("authors") == 0).sum()),
        "papers_without_concepts": int((works.lengths("concepts") == 0).sum()),
        "papers_without_abstract": int((~works.flag("has_abstract")).sum()),
        "papers_without_title": int((~works.flag("has_title")).sum()),
        "papers_without_text": int((~works.flag("has_text")).sum()),
    }


def ingest_works(
    source: str,
    path: str | os.PathLike | None = None,
    query: Mapping[str, Any] | None = None,
    concepts: str = "concepts",
    min_concept_score: float = 0.1,
    label: str = "field",
    text_features: str = "tfidf",
    text_dim: int = 128,
    text_fit_size: int = 20_000,
    concept_features: str = "text",
    read_workers: int | str = 1,
    on_bad_record: str = "raise",
    max_line_bytes: int = ReadLimits.max_line_bytes,
    max_part_bytes: int = ReadLimits.max_part_bytes,
    data_dir: str | os.PathLike | None = None,
    mailto: str | None = None,
    api_key: str | None = None,
    api_key_file: str | os.PathLike | None = None,
    api_url: str | None = None,
    api_timeout: float = 30.0,
    api_deadline: float = 600.0,
    api_retries: int = 5,
    api_backoff: float = 1.0,
    seed: int = 0,
) -> tuple[HeteroData, dict]:
    """Builds (or loads from the cache) the OpenAlex graph; returns ``(graph, cache entry)``.

    ``source="works"`` reads ``path``; ``source="api"`` fetches ``query`` into
    ``data_dir/openalex/<query hash>/`` first. The cache lives in ``data_dir/processed``
    (no cache when ``data_dir`` is None). The key is ``api_key`` when a caller passes
    one, else :func:`~heco_pyg.core.secrets.read_api_key` (``api_key_file`` or
    ``OPENALEX_API_KEY``); it never enters the cache key or any saved file.
    ``read_workers``: processes parsing files at once (``"auto"``: the CPUs other jobs
    leave free); the graph does not depend on it.
    """
    if concept_features not in ("text", "learnable"):
        raise DataError(f"data.concept_features={concept_features!r}; expected text|learnable")
    query = dict(query or {})
    max_works = query.get("max_works")
    if source == "works":
        if not path:
            raise DataError("data.source=works needs data.path=FILE_OR_DIR of OpenAlex works")
        files = find_files(path)
        where = str(path)
        source_print = {"kind": "works", "files": fingerprint_files(files)}
        max_works = None
    elif source == "api":
        if data_dir is None:
            raise DataError("data.source=api needs paths.data_dir for its page cache")
        client = OpenAlexClient(
            Path(data_dir) / "openalex", mailto, api_key or read_api_key(api_key_file),
            api_url or API_URL, max_retries=api_retries, backoff=api_backoff, timeout=api_timeout,
            deadline=api_deadline,
        )  # fmt: skip
        files = client.fetch(query)
        where = str(client.folder(query))
        source_print = {
            "kind": "api",
            "query": query_hash(client.base_url, query_parameters(query)),
            "max_works": max_works,
            "files": fingerprint_files(files),
        }
    else:
        raise DataError(f"unknown OpenAlex source {source!r}; expected works|api")
    settings = {
        "concepts": concepts, "min_concept_score": min_concept_score, "label": label,
        "text_features": text_features, "text_dim": text_dim, "text_fit_size": text_fit_size,
        "concept_features": concept_features, "on_bad_record": on_bad_record, "seed": seed,
        "max_line_bytes": max_line_bytes, "max_part_bytes": max_part_bytes,
    }  # fmt: skip

    def build() -> dict:
        stats = ReadStats()
        featuriser = TextFeaturiser(text_features, text_dim, seed, text_fit_size)
        reducer = WorkReducer(
            concepts, min_concept_score, label, BadRecordHandler(on_bad_record, stats),
            featuriser.document,
        )  # fmt: skip
        start = time.perf_counter()
        workers = _workers(read_workers, len(files))
        limits = ReadLimits(max_line_bytes, max_part_bytes)
        works = read_works(
            files, reducer, stats, featuriser, on_bad_record, max_works, workers, limits
        )
        if not works:
            raise DataError(f"{where}: no OpenAlex works found")
        read = time.perf_counter() - start
        names = [reducer.concept_names.get(c, "") for c in works.factorize("concepts")[1]]
        paper_x, concept_x = featuriser.finish(names if concept_features == "text" else None)
        features = time.perf_counter() - start - read
        data = assemble_graph(works, reducer, paper_x, concept_x, where)
        seconds = {
            "read_and_reduce": read - featuriser.seconds_during_read,
            "text_features": features + featuriser.seconds_during_read,
            "assemble_graph": time.perf_counter() - start - read - features,
        }
        data.ingest_stats = {**_ingestion_stats(works, stats), "seconds": seconds}
        log.info(
            "ingested %s records (%s works) from %d files in %.1f s (%.0f records/s): read and "
            "reduce %.1f s, text features %.1f s, graph %.1f s", f"{stats.records:,}",
            f"{len(works):,}", stats.files, sum(seconds.values()),
            stats.records / max(sum(seconds.values()), 1e-9), *seconds.values(),
        )  # fmt: skip
        return {"data": data, "ids": {"paper": works.ids, **data.node_ids_by_type}}

    cache = GraphCache(Path(data_dir) / "processed" if data_dir is not None else None)
    entry, hit = cache.get_or_build(cache_key(source_print, settings), build)
    entry["cache_hit"], entry["cache_path"] = hit, cache.path(entry["key"])
    entry["data"].cache_info = {"path": str(entry["cache_path"]), "hit": hit}
    return entry["data"], entry
