"""What ``recommend`` searches with: the queries of the command line (ids, DOIs, rows, a
file of them) and the cold-start records, each turned into query vectors of one view
(:class:`QueryPlan`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from heco_pyg.core.errors import DataError
from heco_pyg.nn.containers import GraphInputs
from heco_pyg.nn.heco import HeCo
from heco_pyg.retrieval.catalog import Catalog, normalise_id
from heco_pyg.retrieval.coldstart import (
    ColdStartEncoder,
    neighbour_lookup,
    neighbourhood_features,
    paper_from_record,
)

log = logging.getLogger(__name__)


@dataclass
class QueryPlan:
    """Query vectors ``[Q, C]`` of one ``view``, a label for each, each query's row in the
    graph (-1: not in it, and nothing to leave out of its results) and whether it was
    encoded from its record (cold start)."""

    view: str
    vectors: Tensor
    labels: list[str]
    rows: Tensor
    encoded: Tensor


def as_list(value) -> list:
    """A config value that may be one item, a list of them or ``None``, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


def read_queries(query, query_file: str | None = None) -> list[str | int]:
    """``query`` (one or a list) and the lines of ``query_file`` (``#`` starts a comment
    line)."""
    queries: list[str | int] = as_list(query)
    if query_file:
        try:
            lines = Path(query_file).read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(
                f"query_file={query_file}: not a readable UTF-8 text file, one query per "
                f"line ({type(error).__name__})"
            ) from None
        queries += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return queries


def id_queries(
    view: str, corpus: Tensor, catalog: Catalog, queries: Sequence[str | int], rows: Sequence[int]
) -> QueryPlan:
    """The papers named by id or DOI (``queries``) or by row, as their own embeddings."""
    found = [catalog.resolve(q) for q in queries] + [catalog.row(r) for r in rows]
    index = torch.tensor(found, dtype=torch.long)
    labels = [str(q) for q in queries] + [f"row {r}" for r in rows]
    return QueryPlan(view, corpus[index], labels, index, torch.zeros(len(index), dtype=torch.bool))


def cold_start_queries(
    model: HeCo,
    data: HeteroData,
    inputs: GraphInputs,
    records: list[dict],
    seed: int,
    in_graph: Callable[[], Tensor],
    force: bool = False,
) -> QueryPlan:
    """Schema-view query vectors of the records (:class:`ColdStartEncoder`).

    A record whose id is in the graph uses its in-graph ``schema`` embedding (``in_graph()``:
    what the model learnt for it, the same vector a ``query=`` of that id gets), unless
    ``force`` encodes it from the record as if it were new; either way it is left out of
    its own results and reported as in the graph."""
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
        vectors[rows >= 0] = in_graph()[rows[rows >= 0]].to(vectors.dtype)
    labels = [p.paper_id or f"record {i}" for i, p in enumerate(papers)]
    return QueryPlan(ColdStartEncoder.view, vectors, labels, rows, (rows < 0) | force)
