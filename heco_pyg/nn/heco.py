"""HeCo: Self-supervised Heterogeneous Graph Neural Network with Co-contrastive Learning.

Wang, Liu, Han, Shi, KDD 2021 (https://arxiv.org/abs/2105.09111).

The model embeds the target nodes twice: the *network-schema view* from their own
one-hop neighbours of each type, the *meta-path view* from their meta-path-based
neighbours. A shared projection head maps both views into the space where the
cross-view contrastive loss (:class:`heco_pyg.loss.HeCoLoss`) is computed.

``aggregation="attention"`` is the paper's model; ``aggregation="mean"`` replaces the
node-level attention and the GCN by neighbour means (the research notebook's design,
fixed): raw-feature means are constant, so they are computed once in :meth:`prepare`
and each step only projects them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from heco_pyg.nn.metapath import MeanMetaPathEncoder, MetaPathEncoder
from heco_pyg.nn.projection import TypeProjection
from heco_pyg.nn.propagation import FactorisedAdjacency, SymmetricAdjacency
from heco_pyg.nn.sampling import sample_neighbours
from heco_pyg.nn.schema import MeanSchemaEncoder, SchemaEncoder
from heco_pyg.nn.sparse import Adjacency


@dataclass
class GraphInputs:
    """What the encoders read, prepared once from a graph by :meth:`HeCo.prepare`."""

    num_nodes: int
    x: dict[str, Tensor]
    schema: dict[str, Adjacency]
    metapaths: dict[str, Adjacency]
    aggregated: dict[str, Tensor] = field(default_factory=dict)

    def to(self, device: torch.device | str) -> GraphInputs:
        return GraphInputs(
            self.num_nodes,
            {k: v.to(device) for k, v in self.x.items()},
            {k: v.to(device) for k, v in self.schema.items()},
            {k: v.to(device) for k, v in self.metapaths.items()},
            {k: v.to(device) for k, v in self.aggregated.items()},
        )


@dataclass
class HeCoOutput:
    """Embeddings of the two views (``[B, C]``, before the projection head) and the
    attention weights, detached, for logging."""

    schema: Tensor
    semantic: Tensor
    type_attention: dict[str, Tensor]
    semantic_attention: dict[str, Tensor]
    node_attention: dict[str, Tensor] = field(default_factory=dict)


class HeCo(nn.Module):
    """HeCo's encoders and projection head.

    Args:
        target: the node type to embed.
        in_channels: feature size of each featured node type (the target included).
        num_nodes: node count of each featureless type (learnable embedding tables).
        neighbour_types: the schema view's neighbour types, in order.
        metapaths: the meta-path view's meta-paths, in order.
        sample_sizes: neighbours sampled per type in the schema view (``attention`` only).
        hidden_channels: embedding size.
        feature_dropout: dropout on the projected features.
        attention_dropout: dropout on the attention vectors.
        aggregation: ``"attention"`` (HeCo) or ``"mean"`` (neighbour means).
        factorised_metapaths: ``{meta-path: neighbour type}`` for meta-paths ``P-X-P``
            where every target node has exactly one ``X`` (ACM's PSP): applied as two
            thin products, exactly (:class:`heco_pyg.nn.propagation.FactorisedAdjacency`).
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
        aggregation: str = "attention",
        factorised_metapaths: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        if aggregation not in ("attention", "mean"):
            raise ValueError(f"aggregation must be 'attention' or 'mean', got {aggregation!r}")
        if not neighbour_types or not metapaths:
            raise ValueError("HeCo needs at least one neighbour type and one meta-path")
        self.target = target
        self.neighbour_types = list(neighbour_types)
        self.metapaths = list(metapaths)
        self.sample_sizes = dict(sample_sizes or {})
        self.hidden_channels = hidden_channels
        self.aggregation = aggregation
        self.factorised_metapaths = dict(factorised_metapaths or {})
        missing = [t for t in self.neighbour_types if t not in self.sample_sizes]
        if aggregation == "attention" and missing:
            raise ValueError(f"sample_sizes has no entry for neighbour types {missing}")

        self.projection = TypeProjection(in_channels, num_nodes, hidden_channels, feature_dropout)
        if aggregation == "attention":
            self.schema_encoder = SchemaEncoder(neighbour_types, hidden_channels, attention_dropout)
            self.metapath_encoder = MetaPathEncoder(metapaths, hidden_channels, attention_dropout)
        else:
            self.schema_encoder = MeanSchemaEncoder(
                neighbour_types, hidden_channels, attention_dropout
            )
            self.metapath_encoder = MeanMetaPathEncoder(
                metapaths, in_channels[target], hidden_channels, feature_dropout, attention_dropout
            )
        self.head = nn.Sequential(
            nn.Linear(hidden_channels, hidden_channels),
            nn.ELU(),
            nn.Linear(hidden_channels, hidden_channels),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.projection.reset_parameters()
        self.schema_encoder.reset_parameters()
        self.metapath_encoder.reset_parameters()
        for layer in self.head:
            if isinstance(layer, nn.Linear):
                nn.init.xavier_normal_(layer.weight, gain=1.414)
                nn.init.zeros_(layer.bias)

    @torch.no_grad()
    def prepare(
        self,
        x_dict: dict[str, Tensor],
        schema_edge_index: dict[str, Tensor],
        metapath_edge_index: dict[str, Tensor],
        num_nodes_dict: dict[str, int],
    ) -> GraphInputs:
        """Normalised adjacencies (and, for ``mean``, constant feature means), once.

        Args:
            x_dict: features per featured node type.
            schema_edge_index: per neighbour type, ``[2, E]`` (target id, neighbour id).
            metapath_edge_index: per meta-path, ``[2, E]`` target pairs without self-loops.
            num_nodes_dict: node count per node type.
        """
        n = num_nodes_dict[self.target]
        schema = {
            t: Adjacency.from_edges(schema_edge_index[t], n, num_nodes_dict[t])
            for t in self.neighbour_types
        }
        metapaths = {}
        for name in self.metapaths:
            if self.aggregation == "attention" and name in self.factorised_metapaths:
                via = self.factorised_metapaths[name]
                metapaths[name] = FactorisedAdjacency.from_edges(
                    schema_edge_index[via], metapath_edge_index[name], n, num_nodes_dict[via], name
                )
            elif self.aggregation == "attention":  # meta-path edges are undirected
                index, weight = gcn_norm(metapath_edge_index[name], None, n, add_self_loops=True)
                metapaths[name] = SymmetricAdjacency(Adjacency.from_edges(index, n, n, weight))
            else:  # mean over the neighbours and the node itself
                index = _with_self_loops(metapath_edge_index[name], n)
                metapaths[name] = Adjacency.from_edges(index, n, n).row_normalised()
        if self.aggregation == "attention":
            return GraphInputs(n, dict(x_dict), schema, metapaths)

        schema = {t: adjacency.row_normalised() for t, adjacency in schema.items()}
        aggregated = {m: _product(a, x_dict[self.target]) for m, a in metapaths.items()}
        aggregated |= {t: _product(a, x_dict[t]) for t, a in schema.items() if t in x_dict}
        return GraphInputs(n, dict(x_dict), schema, metapaths, aggregated)

    def forward(self, inputs: GraphInputs, index: Tensor | None = None) -> HeCoOutput:
        """Embeds the target nodes ``index`` (all when ``None``) in both views."""
        full_batch = index is None
        if index is None:
            index = torch.arange(inputs.num_nodes, device=inputs.x[self.target].device)
        if self.aggregation == "attention":
            return self._attention_forward(inputs, index, full_batch)
        return self._mean_forward(inputs, index)

    def _attention_forward(self, inputs: GraphInputs, index: Tensor, full_batch: bool = False
                           ) -> HeCoOutput:  # fmt: skip
        # Every target node is projected: the GCN reads all meta-path neighbours.
        target_all = self.projection(self.target, inputs.x[self.target])
        target = target_all[index]

        # Schema view: project only the sampled neighbours.
        neighbours, has_neighbours = {}, {}
        for t in self.neighbour_types:
            ids, has_neighbours[t] = sample_neighbours(
                inputs.schema[t], index, self.sample_sizes[t]
            )
            features = inputs.x[t][ids] if t in inputs.x else ids
            neighbours[t] = self.projection(t, features)
        schema, type_weight, node_weights = self.schema_encoder(target, neighbours, has_neighbours)

        # Meta-path view: the rows of each normalised adjacency that the batch needs.
        rows = None if full_batch else index  # all rows: no slicing, symmetric backward
        adjacency = {m: inputs.metapaths[m].rows(rows) for m in self.metapaths}
        semantic, semantic_weight = self.metapath_encoder(target_all, adjacency)
        return HeCoOutput(
            schema,
            semantic,
            dict(zip(self.neighbour_types, type_weight.detach())),
            dict(zip(self.metapaths, semantic_weight.detach())),
            {t: w.detach() for t, w in node_weights.items()},
        )

    def _mean_forward(self, inputs: GraphInputs, index: Tensor) -> HeCoOutput:
        means = {}
        for t in self.neighbour_types:
            if t in inputs.aggregated:
                aggregated = inputs.aggregated[t][index]
            else:  # featureless: mean of embedding rows, as a sparse product
                aggregated = inputs.schema[t].rows(index)
            means[t] = self.projection(t, aggregated)
        schema, type_weight = self.schema_encoder(means)
        semantic, semantic_weight = self.metapath_encoder(
            {m: inputs.aggregated[m][index] for m in self.metapaths}
        )
        return HeCoOutput(
            schema,
            semantic,
            dict(zip(self.neighbour_types, type_weight.detach())),
            dict(zip(self.metapaths, semantic_weight.detach())),
        )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(target={self.target!r}, "
            f"neighbour_types={self.neighbour_types}, metapaths={self.metapaths}, "
            f"hidden_channels={self.hidden_channels}, aggregation={self.aggregation!r})"
        )


def _with_self_loops(edge_index: Tensor, num_nodes: int) -> Tensor:
    loops = torch.arange(num_nodes, device=edge_index.device).repeat(2, 1)
    return torch.cat([edge_index[:, edge_index[0] != edge_index[1]], loops], dim=1)


def _product(adjacency: Adjacency, x: Tensor) -> Tensor:
    return torch.sparse.mm(adjacency.rows(), x)
