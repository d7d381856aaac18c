"""HeCo's attention layers.

* :class:`SemanticAttention` weighs whole views (HAN's semantic attention, HeCo's
  type-level attention in the schema view and semantic attention in the meta-path
  view): ``w_m = 1/|V| sum_i q^T tanh(W h_i^m + b)``, ``beta = softmax(w)``,
  ``z_i = sum_m beta_m h_i^m``.
* :class:`NodeAttention` weighs the sampled neighbours of one type (HeCo eq. 3):
  ``alpha_ij = softmax_j(LeakyReLU(a^T [h_i || h_j]))``, ``z_i = sum_j alpha_ij h_j``.

Both follow the official code: xavier-normal init with gain 1.414 and dropout on
the attention vector.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SemanticAttention(nn.Module):
    """Attention over ``M`` views of the same nodes, one weight per view."""

    def __init__(self, channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.channels = channels
        self.lin = nn.Linear(channels, channels)
        self.query = nn.Parameter(torch.empty(1, channels))
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()  # the bias keeps torch's default, as in the official code
        nn.init.xavier_normal_(self.lin.weight, gain=1.414)
        nn.init.xavier_normal_(self.query, gain=1.414)

    def forward(self, views: Tensor) -> tuple[Tensor, Tensor]:
        """``views``: ``[M, N, channels]`` -> (``[N, channels]``, weights ``[M]`` summing to 1)."""
        score = torch.tanh(self.lin(views)).mean(dim=1) @ self.dropout(self.query).t()
        weight = torch.softmax(score.view(-1), dim=0)
        return torch.einsum("m,mnc->nc", weight, views), weight

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels})"


class NodeAttention(nn.Module):
    """Attention of each target node over its ``S`` sampled neighbours of one type."""

    def __init__(self, channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.channels = channels
        self.attention = nn.Parameter(torch.empty(1, 2 * channels))
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_normal_(self.attention, gain=1.414)

    def forward(
        self, target: Tensor, neighbours: Tensor, index: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``target`` ``[B, C]``; ``neighbours`` ``[B, S, C]``, or with ``index`` ``[B, S]``
        the distinct neighbours ``[U, C]`` that ``index`` picks from -> ``[B, C]``, weights
        ``[B, S]``."""
        if index is None:
            slots = neighbours.shape[:2]
            index = torch.arange(slots.numel(), device=neighbours.device).view(slots)
            neighbours = neighbours.reshape(-1, self.channels)
        attention = self.dropout(self.attention).view(2, self.channels)
        neighbour_score = (neighbours @ attention[1]).index_select(0, index.reshape(-1))
        score = (target @ attention[0])[:, None] + neighbour_score.view_as(index)
        weight = torch.softmax(F.leaky_relu(score), dim=1)
        # A weighted bag of rows: no [B, S, C] copy of the neighbours, nor its scatter in
        # the backward (on the CPU half the cost of the gather, product and sum).
        return F.embedding_bag(index, neighbours, mode="sum", per_sample_weights=weight), weight

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels})"
