"""HeCo: Self-supervised Heterogeneous Graph Neural Network with Co-contrastive Learning.

Wang, Liu, Han, Shi, KDD 2021 (https://arxiv.org/abs/2105.09111).

The model embeds the target nodes twice: the *network-schema view* from their own
one-hop neighbours of each type, the *meta-path view* from their meta-path-based
neighbours. A shared projection head maps both views into the space where the
cross-view contrastive loss (:class:`heco_pyg.training.loss.HeCoLoss`) is computed.

:class:`HeCo` is the paper's model; :class:`~heco_pyg.nn.heco_mean.HeCoMean`, its
variant with neighbour means, shares its blocks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from heco_pyg.nn.containers import GraphInputs, HeCoOutput, ViewStacks
from heco_pyg.nn.metapath import MetaPathEncoder
from heco_pyg.nn.projection import TypeProjection
from heco_pyg.nn.propagation import FactorisedAdjacency, SymmetricAdjacency
from heco_pyg.nn.sampling import sample_edges, sample_neighbours, unique_ids
from heco_pyg.nn.schema import SchemaEncoder
from heco_pyg.nn.sparse import Adjacency, AdjacencyStore


class HeCo(nn.Module):
    """HeCo's encoders and projection head (node-level attention in the schema view, a GCN
    per meta-path in the meta-path view).

    Args:
        target: the node type to embed.
        in_channels: feature size of each featured node type (the target included).
        num_nodes: node count of each featureless type (learnable embedding tables).
        neighbour_types: the schema view's neighbour types, in order.
        metapaths: the meta-path view's meta-paths, in order.
        sample_sizes: neighbours sampled per type in the schema view.
        hidden_channels: embedding size.
        feature_dropout: dropout on the projected features.
        attention_dropout: dropout on the attention vectors.
        factorised_metapaths: ``{meta-path: neighbour type}`` for meta-paths ``P-X-P``
            where every target node has exactly one ``X`` (ACM's PSP): applied as two
            thin products, exactly (:class:`heco_pyg.nn.propagation.FactorisedAdjacency`).
        metapath_sample_size: in mini-batch training, estimate each GCN row from this many
            sampled meta-path neighbours, so a step's cost does not grow with the graph
            (``None``: exact rows). Inference is always exact.
        sparse_embeddings: featureless types' tables get sparse gradients (mini-batch
            training on large graphs; see :class:`TypeProjection`).
        dense_metapath_density: a meta-path whose ``A_hat`` fills at least this fraction of
            the ``N x N`` entries is multiplied as a dense matrix in full-batch steps (a
            dense product is faster there, and from a third on also smaller than CSR; DBLP's
            APCPA fills 30%, APTPA 43%, ACM's PAP 0.4%). ``None``: always sparse.
    """

    def __init__(
        self,
        target: str,
        in_channels: dict[str, int],
        num_nodes: dict[str, int],
        neighbour_types: list[str],
        metapaths: list[str],
        sample_sizes: dict[str, int] | None = None,
        hidden_channels: int = 64,
        feature_dropout: float = 0.3,
        attention_dropout: float = 0.5,
        factorised_metapaths: dict[str, str] | None = None,
        metapath_sample_size: int | None = None,
        sparse_embeddings: bool = False,
        dense_metapath_density: float | None = 0.2,
    ) -> None:
        super().__init__()
        if not neighbour_types or not metapaths:
            raise ValueError("HeCo needs at least one neighbour type and one meta-path")
        self.target = target
        self.neighbour_types = list(neighbour_types)
        self.metapaths = list(metapaths)
        self.sample_sizes = dict(sample_sizes or {})
        self.hidden_channels = hidden_channels
        self.metapath_sample_size = metapath_sample_size
        self.factorised_metapaths = dict(factorised_metapaths or {})
        self.dense_metapath_density = dense_metapath_density
        missing = [t for t in self.neighbour_types if t not in self.sample_sizes]
        if self.samples_neighbours and missing:
            raise ValueError(f"sample_sizes has no entry for neighbour types {missing}")
        if metapath_sample_size is not None and self.factorised_metapaths:
            raise ValueError("metapath_sample_size cannot be combined with factorised_metapaths")

        self.projection = TypeProjection(
            self._projected_channels(in_channels), num_nodes, hidden_channels, feature_dropout,
            sparse_embeddings,
        )  # fmt: skip
        self.schema_encoder, self.metapath_encoder = self._encoders(
            in_channels, hidden_channels, feature_dropout, attention_dropout
        )
        self.head = nn.Sequential(
            nn.Linear(hidden_channels, hidden_channels),
            nn.ELU(),
            nn.Linear(hidden_channels, hidden_channels),
        )
        self.reset_parameters()

    #: The schema view samples a fixed number of neighbours per type (and reads the target
    #: node's own features in its node-level attention).
    samples_neighbours = True

    def _projected_channels(self, in_channels: dict[str, int]) -> dict[str, int]:
        return dict(in_channels)

    def _encoders(
        self,
        in_channels: dict[str, int],
        hidden_channels: int,
        feature_dropout: float,
        attention_dropout: float,
    ) -> tuple[nn.Module, nn.Module]:
        return (SchemaEncoder(self.neighbour_types, hidden_channels, attention_dropout),
                MetaPathEncoder(self.metapaths, hidden_channels, attention_dropout))  # fmt: skip

    def reset_parameters(self) -> None:
        self.projection.reset_parameters()
        self.schema_encoder.reset_parameters()
        self.metapath_encoder.reset_parameters()
        for layer in self.head:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()  # biases: torch's default, as in the official code
                nn.init.xavier_normal_(layer.weight, gain=1.414)

    @torch.no_grad()
    def prepare(
        self,
        x_dict: dict[str, Tensor],
        schema_edge_index: dict[str, Tensor],
        metapath_edge_index: dict[str, Tensor],
        num_nodes_dict: dict[str, int],
        metapath_store: dict[str, AdjacencyStore] | None = None,
    ) -> GraphInputs:
        """Normalised adjacencies, once.

        Args:
            x_dict: features per featured node type.
            schema_edge_index: per neighbour type, ``[2, E]`` (target id, neighbour id).
            metapath_edge_index: per meta-path, ``[2, E]`` target pairs without self-loops.
            num_nodes_dict: node count per node type.
            metapath_store: per meta-path whose edges are sorted by row (a graph built out
                of core), where its normalised adjacency goes: it is then built in row
                blocks (:meth:`Adjacency.gcn_normalised`), the same numbers without a
                whole-graph copy in memory.
        """
        n = num_nodes_dict[self.target]
        schema = {
            t: Adjacency.from_edges(schema_edge_index[t], n, num_nodes_dict[t])
            for t in self.neighbour_types
        }
        metapaths = {}
        for name in self.metapaths:
            if name in self.factorised_metapaths:
                via = self.factorised_metapaths[name]
                metapaths[name] = FactorisedAdjacency.from_edges(
                    schema_edge_index[via], metapath_edge_index[name], n, num_nodes_dict[via], name
                )
            else:  # meta-path edges are undirected
                edge_index = metapath_edge_index[name]
                if name in (metapath_store or {}):
                    adjacency = Adjacency.gcn_normalised(edge_index, n, metapath_store[name])
                else:
                    index, weight = gcn_norm(edge_index, None, n, add_self_loops=True)
                    adjacency = Adjacency.from_edges(index, n, n, weight)
                density = self.dense_metapath_density
                dense = density is not None and adjacency.col.numel() >= density * n * n
                metapaths[name] = SymmetricAdjacency(adjacency, dense=dense)
        return GraphInputs(n, dict(x_dict), schema, metapaths)

    def forward(self, inputs: GraphInputs, index: Tensor | None = None) -> HeCoOutput:
        """Embeds the target nodes ``index`` (all when ``None``) in both views.

        View-level attention weights are averaged over the nodes given (HeCo averages over
        the whole graph), so a mini-batch sees batch estimates of them.
        """
        full = index is None
        if full:
            index = torch.arange(inputs.num_nodes, device=inputs.x[self.target].device)
        return self.combine(self.views(inputs, index, full=full))

    def views(
        self,
        inputs: GraphInputs,
        index: Tensor,
        target_all: Tensor | None = None,
        full: bool = False,
    ) -> ViewStacks:
        """Per-type and per-meta-path embeddings of ``index`` before view-level attention.

        ``target_all``: the projected target nodes, when already computed (batched
        inference); ``full``: ``index`` is every node in order (whole-matrix products).
        """
        return self._attention_views(inputs, index, target_all, full)

    def combine(self, stacks: ViewStacks) -> HeCoOutput:
        """Type-level and semantic attention over the stacked views."""
        schema, type_weight = self.schema_encoder(stacks.schema)
        semantic, semantic_weight = self.metapath_encoder(stacks.semantic)
        return HeCoOutput(
            schema,
            semantic,
            dict(zip(self.neighbour_types, type_weight.detach(), strict=True)),
            dict(zip(self.metapaths, semantic_weight.detach(), strict=True)),
            stacks.node_attention,
        )

    @torch.no_grad()
    def embed(self, inputs: GraphInputs, batch_size: int | None = None) -> HeCoOutput:
        """Both views of every target node, ``batch_size`` nodes at a time (exact: equals the
        full-graph forward, with view-level attention over all nodes). Call in eval mode."""
        index = torch.arange(inputs.num_nodes, device=inputs.x[self.target].device)
        if batch_size is None or batch_size >= inputs.num_nodes:
            return self(inputs)
        chunks = index.split(batch_size)
        target_all = self._project_target_in_chunks(inputs, chunks)
        stacks = [self.views(inputs, chunk, target_all) for chunk in chunks]
        return self.combine(ViewStacks(
            torch.cat([s.schema for s in stacks], dim=1),
            torch.cat([s.semantic for s in stacks], dim=1),
        ))  # fmt: skip

    def _project_target_in_chunks(self, inputs: GraphInputs, chunks: tuple[Tensor, ...]) -> Tensor:
        x = inputs.x[self.target]
        return torch.cat([self.projection(self.target, x[c]) for c in chunks])

    @torch.no_grad()
    def schema_of_new_nodes(self, inputs: GraphInputs, neighbours: dict[str, Adjacency],
                            x: Tensor | None) -> Tensor:  # fmt: skip
        """Per-type schema-view embeddings ``[T, B, C]`` of ``B`` target nodes outside the
        graph (cold start), before type-level attention.

        Args:
            inputs: the training graph's inputs (neighbour features and tables).
            neighbours: per neighbour type, a ``[B, N_type]`` adjacency into the graph.
            x: the new nodes' features ``[B, F]`` (node-level attention reads them).
        """
        if x is None:
            raise ValueError("HeCo's node-level attention needs the new nodes' features")
        target = self.projection(self.target, x)
        per_type = []
        for node_type in self.neighbour_types:
            adjacency = neighbours[node_type]
            index = torch.arange(adjacency.num_rows, device=x.device)
            ids, has_neighbours = sample_neighbours(adjacency, index, self.sample_sizes[node_type])
            features = inputs.x[node_type][ids] if node_type in inputs.x else ids
            projected = self.projection(node_type, features)
            z, _ = self.schema_encoder.node_attention[node_type](target, projected)
            per_type.append(F.elu(z) * has_neighbours[:, None])
        return torch.stack(per_type)

    def _attention_views(
        self, inputs: GraphInputs, index: Tensor, target_all: Tensor | None, full: bool
    ) -> ViewStacks:
        x = inputs.x[self.target]
        sampled = self.metapath_sample_size is not None and self.training
        if target_all is None and not sampled:
            # The exact GCN reads every meta-path neighbour: project all target nodes.
            target_all = self.projection(self.target, x)
        if target_all is None:
            target = self.projection(self.target, x[index])
        elif full:
            target = target_all
        else:
            target = target_all.index_select(0, index)  # see NodeAttention.forward

        # Schema view: project only the sampled neighbours.
        neighbours, slots, has_neighbours = {}, {}, {}
        for t in self.neighbour_types:
            ids, has_neighbours[t] = sample_neighbours(
                inputs.schema[t], index, self.sample_sizes[t]
            )
            neighbours[t], slots[t] = self._project_distinct(inputs, t, ids)
        schema, node_weights = self.schema_encoder.per_type(
            target, neighbours, has_neighbours, slots
        )

        # Meta-path view: exact rows of A_hat, or a fixed-size sample of them (mini-batch
        # training whose cost does not grow with the graph).
        if sampled:
            aggregated = {
                m: self.sampled_aggregate(inputs, inputs.metapaths[m].adjacency, index)
                for m in self.metapaths
            }
            metapath = self.metapath_encoder.per_metapath_aggregated(aggregated)
        else:
            rows = None if full else index  # all rows: no slicing, symmetric backward
            adjacency = {m: inputs.metapaths[m].rows(rows) for m in self.metapaths}
            metapath = self.metapath_encoder.per_metapath(target_all, adjacency)
        return ViewStacks(schema, metapath, {t: w.detach() for t, w in node_weights.items()})

    def _project_distinct(
        self, inputs: GraphInputs, node_type: str, ids: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The distinct nodes of ``ids`` projected, ``[U, C]``, and where each entry of
        ``ids`` (any shape) is among them. Each node is projected once and shared by every
        slot that sampled it: as HeCo projects the whole table once per step, a node gets
        one dropout mask per step, and the work is per distinct node."""
        table = inputs.x.get(node_type)
        num_nodes = (table.size(0) if table is not None
                     else self.projection.embeddings[node_type].num_embeddings)  # fmt: skip
        distinct, position = unique_ids(ids, num_nodes)
        x = table.index_select(0, distinct) if table is not None else distinct
        return self.projection(node_type, x), position

    def sampled_aggregate(self, inputs: GraphInputs, adjacency: Adjacency, index: Tensor) -> Tensor:
        """Unbiased estimate of ``(A_hat h)[index]`` from ``metapath_sample_size`` sampled
        entries of each row (each weighted by ``A_hat_ij * degree / samples``)."""
        size = self.metapath_sample_size
        edges, _ = sample_edges(adjacency, index, size)
        col, value = adjacency.entries(edges)
        weight = value * (adjacency.degree[index][:, None] / size)
        projected, position = self._project_distinct(inputs, self.target, col)
        return F.embedding_bag(position, projected, mode="sum", per_sample_weights=weight)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(target={self.target!r}, "
            f"neighbour_types={self.neighbour_types}, metapaths={self.metapaths}, "
            f"hidden_channels={self.hidden_channels})"
        )
