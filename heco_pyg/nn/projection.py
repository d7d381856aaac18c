"""Per-type input projection: HeCo's ``fc_list``, with embedding tables for featureless types."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class TypeProjection(nn.Module):
    """Maps every node type to ``hidden_channels``: ``ELU(dropout(W x + b))``.

    A featureless type (HeCo's one-hot identity features) gets an embedding table: a
    one-hot row times ``W`` *is* a column of ``W``, so nothing N x N is ever built.
    Initialised as the official code initialises ``Linear(num_nodes, hidden)``.

    ``sparse=True`` gives the tables sparse gradients: a mini-batch step then touches only
    the rows it read, instead of a dense gradient and update of the whole table (which
    grows with the graph). The trainer updates such tables with ``SparseAdam``.
    """

    def __init__(
        self,
        in_channels: dict[str, int],
        num_nodes: dict[str, int],
        hidden_channels: int,
        dropout: float = 0.0,
        sparse: bool = False,
    ) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.sparse = sparse
        self.lins = nn.ModuleDict(
            {t: nn.Linear(c, hidden_channels) for t, c in in_channels.items()}
        )
        self.embeddings = nn.ModuleDict(
            {t: nn.Embedding(n, hidden_channels, sparse=sparse) for t, n in num_nodes.items()}
        )
        self.biases = nn.ParameterDict(
            {t: nn.Parameter(torch.empty(hidden_channels)) for t in num_nodes}
        )
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.lins.values():
            nn.init.xavier_normal_(lin.weight, gain=1.414)
            bound = 1 / math.sqrt(lin.in_features)
            nn.init.uniform_(lin.bias, -bound, bound)
        for node_type, embedding in self.embeddings.items():
            nn.init.xavier_normal_(embedding.weight, gain=1.414)
            bound = 1 / math.sqrt(embedding.num_embeddings)
            nn.init.uniform_(self.biases[node_type], -bound, bound)

    def linear(self, node_type: str, x: Tensor) -> Tensor:
        """``W x + b`` for featured types, or the mean-aggregation of rows for featureless
        ones when ``x`` is a sparse ``[B, num_nodes]`` matrix (``W`` commutes with means)."""
        if node_type in self.lins:
            return self.lins[node_type](x)
        weight = self.embeddings[node_type].weight
        if x.layout != torch.strided and self.sparse:  # a weighted bag: sparse gradient
            offsets, ids = x.crow_indices(), x.col_indices()
            bag = F.embedding_bag(ids, weight, offsets[:-1], mode="sum", sparse=True,
                                  per_sample_weights=x.values())  # fmt: skip
            return bag + self.biases[node_type]
        if x.layout != torch.strided:
            return torch.sparse.mm(x, weight) + self.biases[node_type]
        return self.embeddings[node_type](x) + self.biases[node_type]

    def forward(self, node_type: str, x: Tensor) -> Tensor:
        """``x``: features ``[B, F]`` (featured type) or node ids (featureless type)."""
        return F.elu(self.dropout(self.linear(node_type, x)))

    def __repr__(self) -> str:
        types = [*self.lins, *self.embeddings]
        return f"{self.__class__.__name__}({types}, hidden_channels={self.hidden_channels})"
