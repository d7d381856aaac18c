"""Network-schema view: a target node from its own one-hop neighbours of each type."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from heco_pyg.nn.attention import NodeAttention, SemanticAttention


class SchemaEncoder(nn.Module):
    """HeCo's schema view: node-level attention over a fixed-size sample of each
    neighbour type, ``ELU``, then type-level attention across the types."""

    def __init__(self, neighbour_types: list[str], channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.neighbour_types = list(neighbour_types)
        self.node_attention = nn.ModuleDict(
            {t: NodeAttention(channels, dropout) for t in neighbour_types}
        )
        self.type_attention = SemanticAttention(channels, dropout)

    def reset_parameters(self) -> None:
        for attention in self.node_attention.values():
            attention.reset_parameters()
        self.type_attention.reset_parameters()

    def per_type(
        self, target: Tensor, neighbours: dict[str, Tensor], has_neighbours: dict[str, Tensor],
        index: dict[str, Tensor] | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:  # fmt: skip
        """
        Args:
            target: ``[B, C]`` projected target nodes.
            neighbours: per type, ``[B, S_t, C]`` projected sampled neighbours, or with
                ``index`` the distinct ones ``[U_t, C]``.
            has_neighbours: per type, ``[B]`` bool; nodes without any get a zero vector.
            index: per type, ``[B, S_t]``: the sampled neighbours' rows in ``neighbours``.

        Returns:
            ``[T, B, C]`` one embedding per type, per-type node weights ``[B, S_t]``.
        """
        per_type, node_weights = [], {}
        for node_type in self.neighbour_types:
            rows = None if index is None else index[node_type]
            z, weight = self.node_attention[node_type](target, neighbours[node_type], rows)
            per_type.append(F.elu(z) * has_neighbours[node_type][:, None])
            node_weights[node_type] = weight
        return torch.stack(per_type), node_weights

    def forward(self, per_type: Tensor) -> tuple[Tensor, Tensor]:
        """``[T, B, C]`` -> (``[B, C]``, type weights ``[T]``)."""
        return self.type_attention(per_type)


class MeanSchemaEncoder(nn.Module):
    """The notebook's schema view, fixed: per type the mean of the projected neighbours
    (given, already aggregated), then type-level attention."""

    def __init__(self, neighbour_types: list[str], channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.neighbour_types = list(neighbour_types)
        self.type_attention = SemanticAttention(channels, dropout)

    def reset_parameters(self) -> None:
        self.type_attention.reset_parameters()

    def per_type(self, neighbour_means: dict[str, Tensor]) -> Tensor:
        """``neighbour_means``: per type ``[B, C]`` -> ``[T, B, C]``."""
        return torch.stack([neighbour_means[t] for t in self.neighbour_types])

    def forward(self, per_type: Tensor) -> tuple[Tensor, Tensor]:
        """``[T, B, C]`` -> (``[B, C]``, type weights ``[T]``)."""
        return self.type_attention(per_type)
