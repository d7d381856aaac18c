"""Cold start: embed papers that were not in the training graph, without retraining.

**View: the network-schema view.** It reads only a paper's own features and its one-hop
neighbours (authors and concepts, users and tags, ...), whose representations the trained
model already holds (an embedding table, or the type's feature projection). So a new
paper is embedded *inductively* from its record alone:

* :class:`~heco_pyg.nn.HeCoMean`: per neighbour type ``t``,
  ``h_t = ELU(W_t mean_j x_j + b_t)`` (for a featureless type the mean of embedding rows),
  then ``z = sum_t beta_t h_t``; deterministic.
* :class:`~heco_pyg.nn.HeCo`: per type, node-level attention of the projected paper over a
  fixed-size sample of its neighbours, ``ELU``, then ``z = sum_t beta_t h_t``. The sample
  is random (as in training and in :func:`heco_pyg.training.embedding.embed`); it is exact
  when a paper has exactly ``sample_size`` neighbours of a type; seeded by the encoder's
  ``seed``, so the same call gives the same vectors.

The per-type vectors are the model's :meth:`~heco_pyg.nn.HeCo.schema_of_new_nodes`.

The type-level weights ``beta`` are a mean over the batch in :class:`SemanticAttention`,
so they are taken once from the trained model over the *training* graph (eval mode) and
held fixed: a new paper does not change them. The meta-path view is not used: it would
need the new paper's meta-path neighbours and, for the GCN, renormalising their rows.
Search the ``schema`` embeddings with the result (same space).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from heco_pyg.core.errors import DataError
from heco_pyg.nn.containers import GraphInputs
from heco_pyg.nn.heco import HeCo
from heco_pyg.nn.sparse import Adjacency
from heco_pyg.retrieval.catalog import normalise_id

log = logging.getLogger(__name__)

#: Where an OpenAlex-like record lists each neighbour type's ids (tried in order); any
#: other type ``t`` from a plain list ``ts`` (CiteULike: ``users``, ``tags``).
RECORD_FIELDS = {
    "author": ("authorships.author.id", "authors"),
    "concept": ("concepts.id", "topics.id", "concepts", "topics"),
}


def _field_values(record: Mapping, path: str) -> list | None:
    """The values at a dotted path through dicts and lists (``authorships.author.id``)."""
    values = [record]
    for key in path.split("."):
        found = []
        for value in values:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, Mapping) and item.get(key) is not None:
                    found.append(item[key])
        if not found:
            return None
        values = found
    flat = []
    for value in values:
        flat.extend(value if isinstance(value, list) else [value])
    return [v for v in flat if not isinstance(v, Mapping)]


@dataclass
class NewPaper:
    """A paper outside the training graph: features ``[F]`` and, per neighbour type, the
    training-graph rows of its neighbours; ``unknown`` counts ids the graph lacks. ``x``
    may be ``None`` for :class:`~heco_pyg.nn.HeCoMean`, whose schema view never reads it."""

    x: Tensor | None
    neighbours: dict[str, Tensor]
    unknown: dict[str, int] = field(default_factory=dict)
    paper_id: str | None = None


def neighbour_lookup(data: HeteroData) -> dict[str, dict[str, int]]:
    """Per neighbour type, external id -> row: ``data.node_ids_by_type[type]`` or
    ``data[type].node_ids`` when the graph has them, else the row number as a string;
    and, for a type with ``names`` (CiteULike's tags), each name too (a name wins over a
    row number that reads the same)."""
    lookup, by_type = {}, getattr(data, "node_ids_by_type", None) or {}
    for node_type in data.neighbour_types:
        ids = by_type.get(node_type, getattr(data[node_type], "node_ids", None))
        if ids is None:
            ids = range(data[node_type].num_nodes)
        lookup[node_type] = {normalise_id(i): row for row, i in enumerate(ids)}
        names = getattr(data[node_type], "names", None) or []
        lookup[node_type] |= {normalise_id(name): row for row, name in enumerate(names)}
    return lookup


def neighbourhood_features(data: HeteroData, paper: NewPaper) -> Tensor | None:
    """Features for a new paper whose record has none: the mean features of the graph's
    papers that share a neighbour with it, each weighted by how many it shares (its
    meta-path neighbours' path counts, unpruned); ``None`` when it has no known neighbour.
    """
    target, total, weight = data.target, torch.zeros(data[data.target].x.size(1)), 0
    for node_type, rows in paper.neighbours.items():
        if not rows.numel():
            continue
        source, papers = data[node_type, "rev_to", target].edge_index
        reached = papers[torch.isin(source, rows)]
        total += data[target].x[reached].sum(0)
        weight += reached.numel()
    return total / weight if weight else None


def paper_from_record(
    record: Mapping,
    lookup: Mapping[str, Mapping[str, int]],
    featurise: Callable[[Mapping], np.ndarray] | None = None,
    require_features: bool = True,
) -> NewPaper:
    """A :class:`NewPaper` from an OpenAlex-like record.

    Neighbour ids are read from :data:`RECORD_FIELDS` (``authorships[].author.id``,
    ``concepts[].id``, ``topics[].id`` or plain id lists ``authors`` / ``concepts``);
    ids unknown to the training graph are dropped and counted. Features come from the
    record's ``features`` (a vector) or from ``featurise(record)``; without either they
    are ``None``, an error when ``require_features``.
    """
    x = None
    if record.get("features") is not None:
        x = torch.from_numpy(np.asarray(record["features"], dtype=np.float32)).view(-1)
    elif featurise is not None:
        x = torch.from_numpy(np.asarray(featurise(record), dtype=np.float32)).view(-1)
    elif require_features:
        raise DataError(
            f"record {record.get('id', '?')}: no 'features' and no featuriser for its text"
        )
    neighbours, unknown = {}, {}
    for node_type, rows_of in lookup.items():
        ids = []
        for path in RECORD_FIELDS.get(node_type, (f"{node_type}s",)):
            ids += _field_values(record, path) or []
        ids = list(dict.fromkeys(normalise_id(i) for i in ids))
        rows = [rows_of[i] for i in ids if i in rows_of]
        neighbours[node_type] = torch.tensor(rows, dtype=torch.long)
        unknown[node_type] = len(ids) - len(rows)
    paper_id = normalise_id(record["id"]) if record.get("id") else None
    return NewPaper(x, neighbours, unknown, paper_id)


class ColdStartEncoder:
    """Embeds new papers with a trained :class:`HeCo` in the schema view.

    Args:
        model: the trained model (put in eval mode).
        inputs: the training graph's :class:`GraphInputs` (neighbour features).
        type_weights: ``[T]`` type-level weights in ``model.neighbour_types`` order;
            ``None`` computes them from one eval forward over the training graph.
        seed: seeds every neighbour sample (that forward's and each call's, for the
            attention model): the same seed gives the same embeddings.
    """

    view = "schema"

    def __init__(
        self,
        model: HeCo,
        inputs: GraphInputs,
        type_weights: Tensor | Mapping[str, Tensor] | None = None,
        seed: int = 0,
    ) -> None:
        self.model = model.eval()
        self.inputs = inputs
        self.seed = seed
        if type_weights is None:
            with torch.no_grad(), torch.random.fork_rng():
                torch.manual_seed(seed)
                type_weights = model(inputs).type_attention
        if isinstance(type_weights, Mapping):
            type_weights = torch.stack([type_weights[t] for t in model.neighbour_types])
        self.type_weights = type_weights.detach().float()

    @torch.no_grad()
    def __call__(self, papers: Iterable[NewPaper]) -> Tensor:
        """``[B, C]`` schema-view embeddings (not normalised) of the papers, in order."""
        papers = list(papers)
        model, batch = self.model, len(papers)
        if batch == 0:
            return torch.empty(0, model.hidden_channels)
        x = None
        if model.samples_neighbours:  # node attention reads the paper's own features
            if any(p.x is None for p in papers):
                raise DataError(f"{type(model).__name__} needs each new paper's features")
            x = torch.stack([p.x for p in papers])
            expected = self.inputs.x[model.target].size(1)
            if x.size(1) != expected:
                raise DataError(f"new paper features have {x.size(1)} columns, not {expected}")
        index = torch.arange(batch)
        neighbours = {}
        for node_type in model.neighbour_types:
            rows = [p.neighbours.get(node_type, torch.empty(0, dtype=torch.long)) for p in papers]
            edge_index = torch.stack([
                torch.repeat_interleave(index, torch.tensor([r.numel() for r in rows])),
                torch.cat(rows).long(),
            ])  # fmt: skip
            neighbours[node_type] = Adjacency.from_edges(
                edge_index, batch, self.inputs.schema[node_type].num_cols
            )
        with torch.random.fork_rng():  # the neighbour samples, seeded; the caller's RNG kept
            torch.manual_seed(self.seed)
            per_type = model.schema_of_new_nodes(self.inputs, neighbours, x)
        vectors = torch.einsum("t,tbc->bc", self.type_weights, per_type)
        return self._without_neighbours(papers, vectors, x)

    def _without_neighbours(
        self, papers: list[NewPaper], vectors: Tensor, x: Tensor | None
    ) -> Tensor:
        """A paper none of whose neighbours the graph knows has no schema view: it falls
        back to its own projected features, ``ELU(W x + b)`` (the space node attention
        averages in), with a warning; without features it is an error."""
        alone = [
            i for i, p in enumerate(papers) if not any(r.numel() for r in p.neighbours.values())
        ]
        if not alone:
            return vectors
        names = ", ".join(papers[i].paper_id or f"record {i}" for i in alone[:5])
        types = self.model.neighbour_types
        if x is None or not self.model.samples_neighbours:
            raise DataError(
                f"{names}: none of its {' or '.join(f'{t}s' for t in types)} are in the graph "
                f"and {type(self.model).__name__} cannot embed it from features alone; give "
                f"records with at least one known {' or '.join(types)}"
            )
        log.warning("cold start %s: no %s known to the graph; embedded from its features "
                    "alone (a weaker match)", names, " or ".join(types))  # fmt: skip
        rows = torch.tensor(alone)
        vectors[rows] = F.elu(self.model.projection(self.model.target, x[rows]))
        return vectors


def read_records(path: str | os.PathLike) -> list[dict]:
    """Work records from a JSON object, a list, an API page (``results``) or JSON Lines.

    Anything malformed (not UTF-8, not JSON, a record that is not an object, features that
    are not finite numbers) is a :class:`DataError` naming the file (and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the records ({type(error).__name__})") from None
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError:
        loaded = []
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                try:
                    loaded.append(json.loads(line))
                except (ValueError, RecursionError) as error:
                    raise DataError(f"{path}:{number}: not JSON ({type(error).__name__})") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deep") from None
    if isinstance(loaded, dict):
        loaded = loaded.get("results", [loaded])
    if not isinstance(loaded, list) or not loaded:
        raise DataError(f"{path}: expected work records (an object, a list, or JSON Lines)")
    for number, record in enumerate(loaded):
        if not isinstance(record, dict):
            raise DataError(f"{path}: record {number} is a {type(record).__name__}, not an object")
        features = record.get("features")
        if features is not None:
            try:
                vector = np.asarray(features, dtype=np.float32)
            except (TypeError, ValueError):
                vector = np.array([np.nan])
            if vector.ndim != 1 or not np.isfinite(vector).all():
                raise DataError(f"{path}: record {number}: 'features' must be finite numbers")
    return loaded
