"""HeCo's cross-view multi-positive contrastive objective.

With ``s_ij = cos(g(z_i^mp), g(z_j^sc)) / tau`` (``g`` the shared projection head) and
``P_i`` the positives of node ``i`` (``i`` itself included), HeCo (eq. 9-11) minimises

    L_mp = -1/N sum_i log( sum_{j in P_i} exp(s_ij) / sum_k exp(s_ik) )
    L_sc = -1/N sum_i log( sum_{j in P_i} exp(s_ji) / sum_k exp(s_ki) )
    L    = lam * L_mp + (1 - lam) * L_sc

i.e. ``-log`` of the *summed* positive probability (not SupCon's average of logs).
Both terms are computed with log-sum-exp; positives are sparse (anchor, positive) pairs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import scatter


class LossParts(NamedTuple):
    loss: Tensor
    metapath: Tensor  # L_mp: meta-path view anchors, schema view candidates
    schema: Tensor  # L_sc: schema view anchors, meta-path view candidates


def scatter_logsumexp(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    """``out[i] = log sum_{e: index[e] = i} exp(src[e])``, stable."""
    maximum = scatter(src.detach(), index, dim=0, dim_size=dim_size, reduce="max")
    total = scatter((src - maximum[index]).exp(), index, dim=0, dim_size=dim_size, reduce="sum")
    return maximum + total.log()


class HeCoLoss(nn.Module):
    """``lam * L_mp + (1 - lam) * L_sc`` over the nodes of one (full or mini) batch.

    Args:
        tau: temperature.
        lam: weight of the meta-path-anchored term ``L_mp``.
    """

    def __init__(self, tau: float = 0.8, lam: float = 0.5) -> None:
        super().__init__()
        if tau <= 0:
            raise ValueError(f"tau must be positive, got {tau}")
        if not 0 <= lam <= 1:
            raise ValueError(f"lam must be in [0, 1], got {lam}")
        self.tau = tau
        self.lam = lam

    def forward(self, metapath: Tensor, schema: Tensor, positive_index: Tensor) -> LossParts:
        """
        Args:
            metapath: ``[B, C]`` projected meta-path-view embeddings.
            schema: ``[B, C]`` projected schema-view embeddings of the same nodes.
            positive_index: ``[2, P]`` (anchor, positive) pairs of batch-local indices;
                every anchor must have itself among its positives.
        """
        size = metapath.size(0)
        similarity = F.normalize(metapath, dim=-1) @ F.normalize(schema, dim=-1).t() / self.tau
        anchor, positive = positive_index
        positive_metapath = scatter_logsumexp(similarity[anchor, positive], anchor, size)
        positive_schema = scatter_logsumexp(similarity[positive, anchor], anchor, size)
        loss_metapath = (similarity.logsumexp(dim=1) - positive_metapath).mean()
        loss_schema = (similarity.logsumexp(dim=0) - positive_schema).mean()
        loss = self.lam * loss_metapath + (1 - self.lam) * loss_schema
        return LossParts(loss, loss_metapath, loss_schema)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(tau={self.tau}, lam={self.lam})"


def batch_positives(positive_index: Tensor, index: Tensor, num_nodes: int) -> Tensor:
    """The positives among the nodes ``index``, as batch-local pairs (self always kept)."""
    local = torch.full((num_nodes,), -1, dtype=torch.long, device=index.device)
    local[index] = torch.arange(index.numel(), device=index.device)
    pairs = local[positive_index]
    return pairs[:, (pairs >= 0).all(dim=0)]
