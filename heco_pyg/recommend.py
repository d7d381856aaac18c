"""Recommend similar papers from a run's embeddings.

    python -m heco_pyg.recommend run_dir=DIR query=W2741809807 k=10 view=fused
    python -m heco_pyg.recommend run_dir=DIR query=[W1,10.1000/xyz,17] format=json
    python -m heco_pyg.recommend run_dir=DIR query_file=queries.txt index=faiss
    python -m heco_pyg.recommend run_dir=DIR record=new_works.json   # cold start

A query is an OpenAlex id (``W...`` or its URL), a DOI (when the run has a ``papers.csv``
with a ``doi`` column) or another paper id (CiteULike: the article's index in the release,
``query=123``); an embedding row is asked for explicitly with
``row=17`` (or ``row=[1,2]``), never guessed from a numeric query. The query paper itself
is left out of its results.
Titles are shown when the run dir holds ``papers.csv`` (``paper_id``, ``title``, ``doi``;
optional, written by data sources that know them; CiteULike's are each article's most used
tags). ``record=`` embeds papers that are not in the graph with
:mod:`heco_pyg.retrieval.coldstart` and searches the schema view; a record without
``features`` takes those of the papers sharing its neighbours (the attention model needs
them).
"""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, ListConfig
from torch import Tensor

from heco_pyg.config.command import command
from heco_pyg.data.graph import DataError
from heco_pyg.retrieval.catalog import Catalog, normalise_id
from heco_pyg.retrieval.coldstart import (
    ColdStartEncoder,
    neighbour_lookup,
    neighbourhood_features,
    paper_from_record,
    read_records,
)
from heco_pyg.retrieval.search import exact_topk, load_or_build_index
from heco_pyg.runs.errors import command_errors
from heco_pyg.runs.restore import load_trained_model
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.training.distributed import configure_threads

log = logging.getLogger(__name__)


def search(
    corpus: Tensor, queries: Tensor, k: int, exclude: Tensor, index=None, batch_size: int = 1024
) -> tuple[Tensor, Tensor]:
    """Top-k by the faiss ``index`` when given, else exact (batched matmul)."""
    if index is not None:
        return index.search(queries, k, exclude)
    return exact_topk(corpus, queries, k, exclude, batch_size)


def read_queries(cfg: DictConfig) -> list[str | int]:
    queries: list[str | int] = []
    if cfg.query is not None:
        queries += list(cfg.query) if isinstance(cfg.query, ListConfig) else [cfg.query]
    if cfg.query_file:
        lines = Path(cfg.query_file).read_text().split("\n")
        queries += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return queries


def cold_start_queries(
    run: RunDir, records: list[dict], seed: int, force: bool = False
) -> tuple[Tensor, list[str], Tensor]:
    """Schema-view query vectors of the records, a label for each, and each record's row
    in the graph (-1 when it is not in the graph).

    A record whose id is in the graph uses its in-graph ``schema`` embedding (what the
    model learnt for it, the same vector a ``query=`` of that id gets), unless ``force``
    encodes it from the record as if it were new; either way it is left out of its own
    results and reported as in the graph."""
    model, data, inputs = load_trained_model(run)
    lookup = neighbour_lookup(data)
    known = {normalise_id(i): r for r, i in enumerate(getattr(data[data.target], "node_ids", []))}
    rows = torch.tensor([known.get(normalise_id(r.get("id", "")), -1) for r in records])
    papers = []
    for record, row in zip(records, rows.tolist(), strict=True):
        if record.get("features") is None and row >= 0:  # known paper: its features
            record = {**record, "features": data[data.target].x[row].tolist()}
        paper = paper_from_record(record, lookup, require_features=False)
        if paper.x is None and model.samples_neighbours:  # node attention reads features
            paper.x = neighbourhood_features(data, paper)
            if paper.x is None:
                raise DataError(f"record {paper.paper_id or len(papers)}: no 'features' and "
                                "no neighbour in the graph to take them from")  # fmt: skip
            log.info("record %s: features = the mean of the papers sharing its neighbours",
                     paper.paper_id)  # fmt: skip
        where = f"in the graph (row {row})" if row >= 0 else "not in the graph"
        log.info("record %s: %s; neighbours unknown to the graph: %s", paper.paper_id, where,
                 paper.unknown)  # fmt: skip
        papers.append(paper)
    vectors = F.normalize(ColdStartEncoder(model, inputs, seed=seed)(papers), dim=1)
    if not force and bool((rows >= 0).any()):
        in_graph, _ = run.embeddings(ColdStartEncoder.view)
        vectors[rows >= 0] = in_graph[rows[rows >= 0]].to(vectors.dtype)
    return vectors, [p.paper_id or f"record {i}" for i, p in enumerate(papers)], rows


def format_results(results: list[dict], output: str) -> str:
    if output == "json":
        return json.dumps(results, indent=2)
    if output != "table":
        raise ValueError(f"format must be table or json, got {output!r}")
    blocks = []
    for result in results:
        width = max([len("paper_id"), *(len(r["paper_id"]) for r in result["results"])])
        where = (
            "not in the graph" if result["row"] is None else f"in the graph, row {result['row']}"
        )
        lines = [
            f"query {result['query']} ({where}) - view {result['view']}, {result['index']} search",
            f"{'rank':>4}  {'paper_id':<{width}}  {'score':>7}  title",
        ]
        for r in result["results"]:
            title = r["title"] or ""
            lines.append(f"{r['rank']:>4}  {r['paper_id']:<{width}}  {r['score']:7.4f}  {title}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def recommend(cfg: DictConfig) -> list[dict]:
    """Resolves the queries, searches, returns one result dict per query."""
    run = RunDir(cfg.run_dir)
    if cfg.index not in ("exact", "faiss"):
        raise ValueError(f"index must be exact or faiss, got {cfg.index!r}")
    configure_threads(cfg.get("threads"))
    queries, records = read_queries(cfg), read_records(cfg.record) if cfg.record else []
    explicit_rows = cfg.get("row")
    explicit_rows = list(explicit_rows) if isinstance(explicit_rows, ListConfig) else (
        [] if explicit_rows is None else [explicit_rows])  # fmt: skip
    if not queries and not records and not explicit_rows:
        raise DataError(
            "no query: give query=ID, query=[...], query_file=FILE, row=N or record=FILE"
        )
    metadata = cfg.metadata if cfg.metadata is not None else run.papers()

    @cache
    def view_corpus(view: str) -> tuple[Tensor, Catalog]:  # each view read once
        corpus, ids = run.embeddings(view)
        return corpus, Catalog.load(ids, metadata)

    plan = []  # (view, query vectors, labels, rows or -1, encoded from the record)
    if queries or explicit_rows:
        corpus, catalog = view_corpus(cfg.view)
        found = [catalog.resolve(q) for q in queries] + [catalog.row(r) for r in explicit_rows]
        rows = torch.tensor(found, dtype=torch.long)
        labels = [str(q) for q in queries] + [f"row {r}" for r in explicit_rows]
        plan.append((cfg.view, corpus[rows], labels, rows,
                     torch.zeros(len(rows), dtype=torch.bool)))  # fmt: skip
    if records:
        force = bool(cfg.get("force_cold_start", False))
        vectors, labels, rows = cold_start_queries(run, records, int(cfg.seed), force)
        plan.append((ColdStartEncoder.view, vectors, labels, rows, (rows < 0) | force))

    results = []
    for view, vectors, labels, rows, encoded in plan:
        corpus, catalog = view_corpus(view)
        index = None
        if cfg.index == "faiss":
            index = load_or_build_index(run.embedding_path(view), run.index_dir, cfg.nlist,
                                        cfg.nprobe)  # fmt: skip
        scores, found = search(corpus, vectors, cfg.k, rows, index, cfg.batch_size)
        columns = (labels, rows.tolist(), encoded.tolist(), scores.tolist(), found.tolist())
        for label, row, cold, score, hits in zip(*columns, strict=True):
            results.append({
                "query": label,
                "row": row if row >= 0 else None,
                "paper_id": catalog.ids[row] if row >= 0 else label,
                "view": f"{view} (cold start)" if cold else view,
                "index": cfg.index,
                "results": [
                    {"rank": rank, "row": hit, "paper_id": catalog.ids[hit],
                     "title": catalog.titles[hit], "score": value}
                    for rank, (hit, value) in enumerate(zip(hits, score, strict=True), start=1)
                    if hit >= 0  # faiss pads with -1 when a probe finds fewer than k
                ],
            })  # fmt: skip
    return results


@command("recommend")
def main(cfg: DictConfig) -> None:
    with command_errors():  # a bad query or an unfinished run: one line, exit 1
        print(format_results(recommend(cfg), cfg.format))


if __name__ == "__main__":
    main()
