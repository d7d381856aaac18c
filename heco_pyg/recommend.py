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
tags). ``scorer=fusion`` ranks in-graph queries by the baselines' fusion (text and
neighbour-type TF-IDF cosines); ``scorer=fusion+embedding`` adds the view's cosine to it,
``scorer=fusion+sgc`` the training-free SGC cosine instead
(:mod:`heco_pyg.retrieval.fusion`; exact search, the graph rebuilt from the run's config).
``record=`` embeds papers that are not in the graph with
:mod:`heco_pyg.retrieval.coldstart` and searches the schema view; a record without
``features`` takes those of the papers sharing its neighbours (the attention model needs
them).
"""

from __future__ import annotations

import heco_pyg.cli.openmp  # noqa: F401  (first: before torch loads OpenMP)

# isort: split
import logging
from functools import cache

from omegaconf import DictConfig
from torch import Tensor

from heco_pyg.cli.command import command
from heco_pyg.cli.restore import load_run_graph, load_trained_model
from heco_pyg.core.errors import DataError
from heco_pyg.core.runtime import configure_threads
from heco_pyg.retrieval.catalog import Catalog
from heco_pyg.retrieval.coldstart import ColdStartEncoder, read_records
from heco_pyg.retrieval.fusion import fusion_search
from heco_pyg.retrieval.queries import as_list, cold_start_queries, id_queries, read_queries
from heco_pyg.retrieval.results import format_results, ranked_results
from heco_pyg.retrieval.search import load_or_build_index, search
from heco_pyg.runs.naming import find_run
from heco_pyg.runs.run_dir import RunDir

log = logging.getLogger(__name__)


def recommend(cfg: DictConfig) -> list[dict]:
    """Resolves the queries, searches, returns one result dict per query."""
    run = RunDir(find_run(cfg.run_dir))
    if cfg.index not in ("exact", "faiss"):
        raise ValueError(f"index must be exact or faiss, got {cfg.index!r}")
    configure_threads(cfg.get("threads"))
    queries, rows = read_queries(cfg.query, cfg.query_file), as_list(cfg.get("row"))
    records = read_records(cfg.record) if cfg.record else []
    if not queries and not records and not rows:
        raise DataError(
            "no query: give query=ID, query=[...], query_file=FILE, row=N or record=FILE"
        )
    metadata = cfg.metadata if cfg.metadata is not None else run.papers()

    @cache
    def view_corpus(view: str) -> tuple[Tensor, Catalog]:  # each view read once
        corpus, ids = run.embeddings(view)
        return corpus, Catalog.load(ids, metadata)

    plans = []
    if queries or rows:
        plans.append(id_queries(cfg.view, *view_corpus(cfg.view), queries, rows))
    if records:
        model, data, inputs = load_trained_model(run)
        in_graph = lambda: run.embeddings(ColdStartEncoder.view)[0]  # noqa: E731
        plans.append(cold_start_queries(model, data, inputs, records, int(cfg.seed), in_graph,
                                        bool(cfg.get("force_cold_start", False))))  # fmt: skip
    results = []
    scorer = cfg.get("scorer", "embedding")
    for plan in plans:
        corpus, catalog = view_corpus(plan.view)
        if scorer != "embedding" and not plan.encoded.any():  # in-graph: the baselines' fusion
            plan, scores, found = fusion_search(load_run_graph(run), corpus, plan, scorer, cfg.k,
                                                cfg.batch_size)  # fmt: skip
            results += ranked_results(plan, catalog, scores, found, "exact")
            continue
        index = None
        if cfg.index == "faiss":
            index = load_or_build_index(run.embedding_path(plan.view), run.index_dir,
                                        cfg.nlist, cfg.nprobe)  # fmt: skip
        scores, found = search(corpus, plan.vectors, cfg.k, plan.rows, index, cfg.batch_size)
        results += ranked_results(plan, catalog, scores, found, cfg.index)
    return results


@command("recommend")
def main(cfg: DictConfig) -> None:
    print(format_results(recommend(cfg), cfg.format))


if __name__ == "__main__":
    main()
