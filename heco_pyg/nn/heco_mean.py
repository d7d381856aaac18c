"""HeCoMean: HeCo's blocks (type projection, type-level and semantic attention, projection
head, :class:`~heco_pyg.nn.heco.HeCo`) with the node-level attention and the GCN replaced by
neighbour means (the research notebook's design, fixed): raw-feature means are constant, so
they are computed once in :meth:`HeCoMean.prepare` and each step only projects them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from heco_pyg.nn.containers import GraphInputs, ViewStacks
from heco_pyg.nn.heco import HeCo
from heco_pyg.nn.metapath import MeanMetaPathEncoder
from heco_pyg.nn.schema import MeanSchemaEncoder
from heco_pyg.nn.sparse import Adjacency, AdjacencyStore


class HeCoMean(HeCo):
    """HeCo with neighbour means in both views (the research notebook's design, fixed):
    per neighbour type ``h_t = ELU(W_t mean_j x_j + b_t)`` and per meta-path the mean of the
    neighbours' and the node's own raw features, projected; then the same type-level and
    semantic attention and projection head as :class:`HeCo`. The means of raw features are
    constant, so :meth:`prepare` computes them once and a step only projects them; the
    schema view needs no neighbour sample and is deterministic.

    Args: as :class:`HeCo` (``sample_sizes`` is not used).
    """

    samples_neighbours = False

    def _projected_channels(self, in_channels: dict[str, int]) -> dict[str, int]:
        # The target's features are read only through the meta-path means.
        return {t: c for t, c in in_channels.items() if t != self.target}

    def _encoders(
        self,
        in_channels: dict[str, int],
        hidden_channels: int,
        feature_dropout: float,
        attention_dropout: float,
    ) -> tuple[nn.Module, nn.Module]:
        return (
            MeanSchemaEncoder(self.neighbour_types, hidden_channels, attention_dropout),
            MeanMetaPathEncoder(self.metapaths, in_channels[self.target], hidden_channels,
                                feature_dropout, attention_dropout),
        )  # fmt: skip

    @torch.no_grad()
    def prepare(
        self,
        x_dict: dict[str, Tensor],
        schema_edge_index: dict[str, Tensor],
        metapath_edge_index: dict[str, Tensor],
        num_nodes_dict: dict[str, int],
        metapath_store: dict[str, AdjacencyStore] | None = None,
    ) -> GraphInputs:
        """Row-normalised adjacencies and the constant feature means, once (arguments as
        :meth:`HeCo.prepare`; ``metapath_store`` is not used: the means are computed over
        whole adjacencies in memory)."""
        n = num_nodes_dict[self.target]
        schema = {
            t: Adjacency.from_edges(schema_edge_index[t], n, num_nodes_dict[t]).row_normalised()
            for t in self.neighbour_types
        }
        metapaths = {  # mean over the neighbours and the node itself
            name: Adjacency.from_edges(
                _with_self_loops(metapath_edge_index[name], n), n, n
            ).row_normalised()
            for name in self.metapaths
        }
        aggregated = {m: _product(a, x_dict[self.target]) for m, a in metapaths.items()}
        aggregated |= {t: _product(a, x_dict[t]) for t, a in schema.items() if t in x_dict}
        return GraphInputs(n, dict(x_dict), schema, metapaths, aggregated)

    def views(
        self,
        inputs: GraphInputs,
        index: Tensor,
        target_all: Tensor | None = None,
        full: bool = False,
    ) -> ViewStacks:
        """Per-type and per-meta-path means of ``index``, projected (see :meth:`HeCo.views`)."""
        return self._mean_views(inputs, index)

    def _project_target_in_chunks(self, inputs: GraphInputs, chunks: tuple[Tensor, ...]) -> None:
        return None  # the mean views never project the target's own features

    @torch.no_grad()
    def schema_of_new_nodes(self, inputs: GraphInputs, neighbours: dict[str, Adjacency],
                            x: Tensor | None = None) -> Tensor:  # fmt: skip
        """As :meth:`HeCo.schema_of_new_nodes`; the means never read the nodes' own
        features (``x`` may be ``None``), and the result is deterministic."""
        per_type = []
        for node_type in self.neighbour_types:
            mean = neighbours[node_type].row_normalised().rows()
            if node_type in inputs.x:
                mean = torch.sparse.mm(mean, inputs.x[node_type])
            per_type.append(self.projection(node_type, mean))
        return torch.stack(per_type)

    def _mean_views(self, inputs: GraphInputs, index: Tensor) -> ViewStacks:
        means = {}
        for t in self.neighbour_types:
            if t in inputs.aggregated:
                aggregated = inputs.aggregated[t][index]
            else:  # featureless: mean of embedding rows, as a sparse product
                aggregated = inputs.schema[t].rows(index)
            means[t] = self.projection(t, aggregated)
        return ViewStacks(
            self.schema_encoder.per_type(means),
            self.metapath_encoder.per_metapath(
                {m: inputs.aggregated[m][index] for m in self.metapaths}
            ),
        )


def _with_self_loops(edge_index: Tensor, num_nodes: int) -> Tensor:
    loops = torch.arange(num_nodes, device=edge_index.device).repeat(2, 1)
    return torch.cat([edge_index[:, edge_index[0] != edge_index[1]], loops], dim=1)


def _product(adjacency: Adjacency, x: Tensor) -> Tensor:
    return torch.sparse.mm(adjacency.rows(), x)
