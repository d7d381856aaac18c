"""Meta-path view: a target node from its meta-path-based neighbours (PAP, PCP, ...)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from heco_pyg.nn.attention import SemanticAttention
from heco_pyg.nn.propagation import propagate


class GraphConvolution(nn.Module):
    """HeCo's one-layer GCN: ``PReLU(A_hat (X W) + b)`` with a normalised sparse ``A_hat``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.lin = nn.Linear(channels, channels, bias=False)
        self.bias = nn.Parameter(torch.empty(channels))
        self.activation = nn.PReLU()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_normal_(self.lin.weight, gain=1.414)
        nn.init.zeros_(self.bias)
        self.activation.reset_parameters()

    def forward(self, x: Tensor, adjacency: Tensor) -> Tensor:
        """``x``: ``[N, C]`` all nodes; ``adjacency``: sparse ``[B, N]`` rows of ``A_hat`` (or an
        operator from :mod:`heco_pyg.nn.propagation`)."""
        return self.activation(propagate(adjacency, self.lin(x)) + self.bias)

    def from_aggregated(self, aggregated: Tensor) -> Tensor:
        """The same layer given ``A_hat x`` rows (or an estimate from sampled neighbours):
        ``W`` is linear, so ``A_hat (x W) = (A_hat x) W``."""
        return self.activation(self.lin(aggregated) + self.bias)


class MetaPathEncoder(nn.Module):
    """HeCo's meta-path view: one GCN per meta-path, then semantic attention."""

    def __init__(self, metapaths: list[str], channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.metapaths = list(metapaths)
        self.convs = nn.ModuleDict({m: GraphConvolution(channels) for m in metapaths})
        self.semantic_attention = SemanticAttention(channels, dropout)

    def reset_parameters(self) -> None:
        for conv in self.convs.values():
            conv.reset_parameters()
        self.semantic_attention.reset_parameters()

    def per_metapath(self, x: Tensor, adjacency: dict[str, Tensor]) -> Tensor:
        """``x`` ``[N, C]``; ``adjacency`` per meta-path sparse ``[B, N]`` -> ``[M, B, C]``."""
        return torch.stack([self.convs[m](x, adjacency[m]) for m in self.metapaths])

    def per_metapath_aggregated(self, aggregated: dict[str, Tensor]) -> Tensor:
        """Per meta-path ``[B, C]`` neighbourhood aggregates (``A_hat x`` rows) -> ``[M, B, C]``."""
        return torch.stack([self.convs[m].from_aggregated(aggregated[m]) for m in self.metapaths])

    def forward(self, per_metapath: Tensor) -> tuple[Tensor, Tensor]:
        """``[M, B, C]`` -> (``[B, C]``, semantic weights ``[M]``)."""
        return self.semantic_attention(per_metapath)


class MeanMetaPathEncoder(nn.Module):
    """The notebook's meta-path view, fixed: per meta-path the mean of the neighbours'
    features *including the node itself* (given, already aggregated), a per-meta-path
    ``ELU(dropout(Linear))``, then semantic attention."""

    def __init__(
        self, metapaths: list[str], in_channels: int, channels: int, dropout: float = 0.0,
        attention_dropout: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__()
        self.metapaths = list(metapaths)
        self.lins = nn.ModuleDict({m: nn.Linear(in_channels, channels) for m in metapaths})
        self.dropout = nn.Dropout(dropout)
        self.semantic_attention = SemanticAttention(channels, attention_dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.lins.values():
            nn.init.xavier_normal_(lin.weight, gain=1.414)
            nn.init.zeros_(lin.bias)
        self.semantic_attention.reset_parameters()

    def per_metapath(self, neighbour_means: dict[str, Tensor]) -> Tensor:
        """``neighbour_means``: per meta-path ``[B, F]`` raw-feature means -> ``[M, B, C]``."""
        views = [self.dropout(self.lins[m](neighbour_means[m])) for m in self.metapaths]
        return nn.functional.elu(torch.stack(views))

    def forward(self, per_metapath: Tensor) -> tuple[Tensor, Tensor]:
        """``[M, B, C]`` -> (``[B, C]``, semantic weights ``[M]``)."""
        return self.semantic_attention(per_metapath)
