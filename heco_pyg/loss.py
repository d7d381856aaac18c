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


class CrossViewLogSumExp(torch.autograd.Function):
    """Row and column log-sum-exp of ``S = a b^T / tau`` for unit-norm rows ``a``, ``b``.

    Both directions of the loss share one ``exp(S)``: since ``|S| <= 1/tau``, the shift
    ``1/tau`` bounds every exponent without a max pass, and the hand-written backward
    (``dS_ij = E_ij (g_i / r_i + h_j / c_j)``) reuses the forward's buffer instead of
    autograd's several N x N temporaries. Not differentiable twice.
    """

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, tau: float) -> tuple[Tensor, Tensor]:
        shift = 1.0 / tau
        exp = torch.mm(a, b.t()).mul_(shift).sub_(shift).exp_()
        row, column = exp.sum(dim=1), exp.sum(dim=0)
        ctx.save_for_backward(a, b, exp, row, column)
        ctx.tau = tau
        return row.log() + shift, column.log() + shift

    @staticmethod
    def backward(ctx, grad_row: Tensor, grad_column: Tensor):
        a, b, exp, row, column = ctx.saved_tensors
        by_column = exp * (grad_column / column)[None, :]
        grad = exp.mul_((grad_row / row)[:, None]).add_(by_column).div_(ctx.tau)
        return grad @ b, grad.t() @ a, None


# Below this temperature exp(-2 / tau) underflows float32: use the generic path.
SHIFTED_EXP_MIN_TAU = 0.05


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
        metapath, schema = F.normalize(metapath, dim=-1), F.normalize(schema, dim=-1)
        anchor, positive = positive_index
        if anchor.numel() * metapath.size(1) > size * size:
            # Many positives (DBLP: up to 1000 per node): gathering P rows of C channels
            # costs more than one B x B similarity, from which both directions are read.
            similarity = metapath @ schema.t() / self.tau
            positive_logit = similarity[anchor, positive]
            reverse_logit = similarity[positive, anchor]
        else:
            # s_ij for the positive pairs only: P dot products, not N x N gathers.
            positive_logit = (metapath[anchor] * schema[positive]).sum(dim=-1) / self.tau
            reverse_logit = (schema[anchor] * metapath[positive]).sum(dim=-1) / self.tau
        positive_metapath = scatter_logsumexp(positive_logit, anchor, size)
        positive_schema = scatter_logsumexp(reverse_logit, anchor, size)
        if self.tau >= SHIFTED_EXP_MIN_TAU:
            all_metapath, all_schema = CrossViewLogSumExp.apply(metapath, schema, self.tau)
        else:
            similarity = metapath @ schema.t() / self.tau
            all_metapath, all_schema = similarity.logsumexp(dim=1), similarity.logsumexp(dim=0)
        loss_metapath = (all_metapath - positive_metapath).mean()
        loss_schema = (all_schema - positive_schema).mean()
        loss = self.lam * loss_metapath + (1 - self.lam) * loss_schema
        return LossParts(loss, loss_metapath, loss_schema)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(tau={self.tau}, lam={self.lam})"


class PositiveIndex:
    """HeCo positives in CSR form (anchor -> positives), sliceable by a batch of anchors
    in ``O(B * pos_num * log B)``: no per-step work proportional to the graph."""

    def __init__(self, positive_index: Tensor, num_nodes: int) -> None:
        anchor, positive = positive_index
        order = torch.argsort(anchor, stable=True)
        self.positive = positive[order]
        self.rowptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=anchor.device)
        self.rowptr[1:] = torch.cumsum(torch.bincount(anchor, minlength=num_nodes), 0)
        self.all_pairs = torch.stack([anchor[order], self.positive])

    def to(self, device: torch.device | str) -> PositiveIndex:
        return PositiveIndex(self.all_pairs.to(device), self.rowptr.numel() - 1)

    def batch(self, index: Tensor | None) -> Tensor:
        """Batch-local (anchor, positive) pairs among the nodes ``index`` (None: all nodes)."""
        if index is None:
            return self.all_pairs
        start, degree = self.rowptr[index], self.rowptr[index + 1] - self.rowptr[index]
        local_anchor = torch.repeat_interleave(torch.arange(index.numel(), device=index.device),
                                               degree)  # fmt: skip
        offset = (
            torch.arange(local_anchor.numel(), device=index.device)
            - (torch.cumsum(degree, 0) - degree)[local_anchor]
        )
        positive = self.positive[start[local_anchor] + offset]
        # Where does each positive sit in the batch, if anywhere?
        sorted_index, order = torch.sort(index)
        slot = torch.searchsorted(sorted_index, positive).clamp(max=index.numel() - 1)
        inside = sorted_index[slot] == positive
        return torch.stack([local_anchor[inside], order[slot[inside]]])


def batch_positives(positive_index: Tensor, index: Tensor, num_nodes: int) -> Tensor:
    """The positives among the nodes ``index``, as batch-local pairs (self always kept)."""
    return PositiveIndex(positive_index, num_nodes).batch(index)
