"""What the models read and return: the prepared graph inputs, the per-type and
per-meta-path stacks before the view-level attention, and the two views' output."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

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
class ViewStacks:
    """Per-type (``[T, B, C]``, schema view) and per-meta-path (``[M, B, C]``, meta-path
    view, ``semantic`` as in :class:`HeCoOutput`) embeddings, before the view-level
    attention combines them."""

    schema: Tensor
    semantic: Tensor
    node_attention: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class HeCoOutput:
    """Embeddings of the two views (``[B, C]``, before the projection head) and the
    attention weights, detached, for logging."""

    schema: Tensor
    semantic: Tensor
    type_attention: dict[str, Tensor]
    semantic_attention: dict[str, Tensor]
    node_attention: dict[str, Tensor] = field(default_factory=dict)
