"""The one graph shape every data source returns.

A HeCo graph is a PyG :class:`~torch_geometric.data.HeteroData` with

* a *target* node type (``data.target``, e.g. ``"paper"``) whose nodes are embedded,
  with features ``data[target].x``, optional labels ``data[target].y`` (``-1`` =
  unlabelled) and optional split masks ``train_mask_20`` / ``val_mask_20`` / ...;
* neighbour node types (``author``, ``concept``, ...) with features ``x`` or only
  ``num_nodes`` (featureless types get a learnable embedding table in the model);
* schema edges ``(target, "to", neighbour)`` and their reverses ``(neighbour, "rev_to",
  target)``;
* meta-path edges ``(target, "PAP", target)`` with ``edge_weight`` = number of path
  instances (see :mod:`heco_pyg.data.metapaths`).

The edge stores hold only relations a model may pass messages over, so
``data.to_homogeneous()`` and PyG's loaders see the graph and nothing else. Training
labels and evaluation targets are graph-level attributes, outside every edge store:

* ``data.positive_index``: ``[2, P]`` HeCo positives (anchor, positive) of the target
  nodes, self included, sorted by anchor (see :mod:`heco_pyg.data.positives`); read it
  with :func:`positive_index`;
* ``data.citation_index``: ``[2, E]`` (citing, cited) target-node citations inside the
  set, for the recommendation evaluation only (sources that have citations); read it
  with :func:`citation_index`;
* ``data.word_index`` ``[2, W]`` (paper row, word id) and ``data.word_count`` ``[W]``
  (float32), with ``data.vocabulary_size``: the papers' bag of words, for text
  baselines (sources that ship one: CiteULike's ``mult.dat``); read them with
  :func:`bag_of_words`.

Python-side metadata lives on the graph as plain attributes: ``data.target``,
``data.neighbour_types`` (schema neighbour types in order), ``data.metapaths``
(meta-path names in order) and ``data[target].node_ids`` (external ids, one per row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from heco_pyg.core.errors import DataError
from heco_pyg.data.edge_files import store_adjacency

SCHEMA_RELATION = "to"
REVERSE_RELATION = "rev_to"


def schema_edge_type(target: str, neighbour: str) -> tuple[str, str, str]:
    return (target, SCHEMA_RELATION, neighbour)


def metapath_edge_type(target: str, metapath: str) -> tuple[str, str, str]:
    return (target, metapath, target)


def _graph_index(data: HeteroData, name: str, what: str, remedy: str) -> Tensor:
    index = getattr(data, name, None)
    if index is None:
        raise DataError(f"{getattr(data, 'name', 'graph')}: no {what} (data.{name}); {remedy}")
    return index


def positive_index(data: HeteroData) -> Tensor:
    """The graph's HeCo positives ``[2, P]`` (anchor, positive), self included."""
    return _graph_index(data, "positive_index", "positives", "build the graph with "
                        "heco_pyg.data.pipeline.prepare_paper_graph or AddPositives")  # fmt: skip


def citation_index(data: HeteroData) -> Tensor:
    """The graph's within-set citations ``[2, E]`` (citing, cited), evaluation only."""
    return _graph_index(data, "citation_index", "citations", "task=recommend needs a data "
                        "source that keeps within-set citations")  # fmt: skip


def bag_of_words(data: HeteroData) -> tuple[Tensor, Tensor, int] | None:
    """``(word_index [2, W], word_count [W], vocabulary_size)``: the target nodes' bag of
    words (row, word id) and counts; ``None`` when the source has none. Evaluation and
    baselines only, outside every edge store."""
    index = getattr(data, "word_index", None)
    if index is None:
        return None
    return index, data.word_count, int(data.vocabulary_size)


def _check_features(x: np.ndarray | Tensor, rows: int, where: str) -> Tensor:
    x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, Tensor) else x)
    x = x.float()
    if x.dim() != 2:
        raise DataError(f"{where}: features must be a 2-d matrix, got shape {tuple(x.shape)}")
    if x.size(0) != rows:
        raise DataError(f"{where}: features have {x.size(0)} rows, expected {rows}")
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).any(dim=1).sum())
        raise DataError(f"{where}: features contain NaN or inf in {bad} rows")
    return x


def _check_edges(edges: np.ndarray | Tensor, num_src: int, num_dst: int, where: str) -> Tensor:
    edges = torch.as_tensor(np.asarray(edges)) if not isinstance(edges, Tensor) else edges
    if edges.dim() != 2 or edges.size(1) != 2:
        raise DataError(f"{where}: edges must have shape [E, 2], got {tuple(edges.shape)}")
    if edges.dtype.is_floating_point or edges.dtype == torch.bool:
        raise DataError(f"{where}: edge ids must be integers, got {edges.dtype}")
    edges = edges.long()
    if edges.numel() and int(edges.min()) < 0:
        raise DataError(f"{where}: negative node ids in edges")
    for column, bound, name in ((0, num_src, "source"), (1, num_dst, "destination")):
        if edges.numel() and int(edges[:, column].max()) >= bound:
            raise DataError(
                f"{where}: {name} id {int(edges[:, column].max())} out of range "
                f"(there are {bound} {name} nodes)"
            )
    return edges.t().contiguous()


def is_identity_features(x) -> bool:
    """True for a one-hot identity matrix: the same thing as a learnable embedding table."""
    if x is None or x.ndim != 2 or x.shape[0] != x.shape[1]:
        return False
    n = x.shape[0]
    if hasattr(x, "tocoo"):  # scipy sparse
        coo = x.tocoo()
        return coo.nnz == n and bool((coo.row == coo.col).all()) and bool((coo.data == 1).all())
    # Dense: check the diagonal and the row sums without building anything N x N.
    diagonal = np.einsum("ii->i", x)
    return bool((diagonal == 1).all()) and bool((np.abs(x).sum(axis=1) == 1).all())


def _without_duplicates(edge_index: Tensor, num_neighbours: int) -> tuple[Tensor, int]:
    """``edge_index`` with repeated (target, neighbour) pairs dropped, the first of each
    kept in place (an input without repeats is returned as is); and how many went."""
    key = edge_index[0] * max(num_neighbours, 1) + edge_index[1]
    unique = torch.unique(key)
    if unique.numel() == key.numel():
        return edge_index, 0
    _, first = np.unique(key.numpy(), return_index=True)
    keep = torch.from_numpy(np.sort(first))
    return edge_index[:, keep], int(key.numel() - keep.numel())


def build_graph(
    target: str,
    num_nodes: Mapping[str, int],
    schema_edges: Mapping[str, np.ndarray | Tensor],
    features: Mapping[str, np.ndarray | Tensor | None],
    source: str,
    labels: np.ndarray | Tensor | None = None,
    node_ids: Sequence[str] | None = None,
    extra_node_attributes: Mapping[str, Tensor] | None = None,
) -> HeteroData:
    """Assemble and validate a HeCo graph.

    Args:
        target: the node type to embed.
        num_nodes: node count per node type.
        schema_edges: ``{neighbour_type: int array [E, 2]}`` of (target id, neighbour id).
        features: ``{node_type: [num_nodes, F] or None}``; the target type needs features.
        source: what the data came from, used in error messages.
        labels: optional int label per target node (``-1`` = unlabelled).
        node_ids: optional external id per target node.
        extra_node_attributes: more target-node tensors (e.g. split masks).
    """
    if num_nodes.get(target, 0) <= 0:
        raise DataError(f"{source}: empty graph, no {target} nodes")
    if features.get(target) is None:
        raise DataError(f"{source}: the target type {target!r} needs features")
    if not schema_edges:
        raise DataError(f"{source}: no neighbour types for {target!r}")
    data = HeteroData()
    data.target = target
    data.neighbour_types = list(schema_edges)
    data.metapaths = []
    for node_type, count in num_nodes.items():
        x = features.get(node_type)
        if x is not None:
            data[node_type].x = _check_features(x, count, f"{source}: {node_type} features")
        else:
            data[node_type].num_nodes = int(count)
    for neighbour, edges in schema_edges.items():
        edge_index = _check_edges(
            edges, num_nodes[target], num_nodes[neighbour], f"{source}: {target}->{neighbour} edges"
        )
        if edge_index.size(1) == 0:
            raise DataError(f"{source}: no {target}->{neighbour} edges")
        edge_index, duplicates = _without_duplicates(edge_index, num_nodes[neighbour])
        data.duplicate_edges = {**getattr(data, "duplicate_edges", {}), neighbour: duplicates}
        data[schema_edge_type(target, neighbour)].edge_index = edge_index
        data[neighbour, REVERSE_RELATION, target].edge_index = edge_index.flip(0)
    if labels is not None:
        y = torch.as_tensor(np.asarray(labels)).long().view(-1)
        if y.numel() != num_nodes[target]:
            raise DataError(f"{source}: {y.numel()} labels for {num_nodes[target]} {target} nodes")
        data[target].y = y
    if node_ids is not None:
        node_ids = [str(i) for i in node_ids]
        if len(node_ids) != num_nodes[target]:
            raise DataError(f"{source}: {len(node_ids)} ids for {num_nodes[target]} {target} nodes")
        data[target].node_ids = node_ids
    for key, value in (extra_node_attributes or {}).items():
        data[target][key] = value
    return data


def metapath_edges(data: HeteroData) -> dict[str, tuple[Tensor, Tensor]]:
    """``{metapath: (edge_index, edge_weight)}`` of the graph's meta-paths, in order."""
    out = {}
    for name in data.metapaths:
        store = data[metapath_edge_type(data.target, name)]
        out[name] = (store.edge_index, store.edge_weight)
    return out


def model_arguments(data: HeteroData) -> dict:
    """The facts a HeCo model is built from: types, sizes, meta-paths, sample sizes."""
    types = [data.target, *data.neighbour_types]
    return {
        "target": data.target,
        "in_channels": {t: data[t].x.size(1) for t in types if "x" in data[t]},
        "num_nodes": {t: data[t].num_nodes for t in types if "x" not in data[t]},
        "neighbour_types": list(data.neighbour_types),
        "metapaths": list(data.metapaths),
        "sample_sizes": dict(getattr(data, "sample_sizes", {}) or {}),
    }


def model_inputs(data: HeteroData, device: torch.device | str | None = None) -> dict:
    """The tensors :meth:`heco_pyg.nn.HeCo.prepare` reads, on ``device`` (``None``: where
    they are); ``prepare`` then builds everything on that device. A graph built out of
    core on the CPU also gets ``metapath_store``: its normalised meta-path adjacencies go
    to files beside the edges (:func:`~heco_pyg.data.edge_files.store_adjacency`)."""
    types = [data.target, *data.neighbour_types]
    move = (lambda t: t) if device is None else (lambda t: t.to(device))
    inputs = {
        "x_dict": {t: move(data[t].x) for t in types if "x" in data[t]},
        "schema_edge_index": {
            t: move(data[schema_edge_type(data.target, t)].edge_index) for t in data.neighbour_types
        },
        "metapath_edge_index": {m: move(e) for m, (e, _) in metapath_edges(data).items()},
        "num_nodes_dict": {t: data[t].num_nodes for t in types},
    }
    workdir = getattr(data, "metapath_workdir", None)
    edges = inputs["metapath_edge_index"].values()
    if workdir is not None and all(e.device.type == "cpu" for e in edges):
        inputs["metapath_store"] = {m: partial(store_adjacency, workdir, m) for m in data.metapaths}
    return inputs


def input_tensors(inputs: Mapping) -> list[Tensor]:
    """Every tensor of :func:`model_inputs` (to size them)."""
    return [t for group in inputs.values() if isinstance(group, Mapping) for t in group.values()
            if isinstance(t, Tensor)]  # fmt: skip
