"""Fixed-size neighbour sampling, vectorised (HeCo's schema-view sampler)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import index_to_mask, mask_to_index

from heco_pyg.nn.sparse import Adjacency


def sample_neighbours(
    adjacency: Adjacency, index: Tensor, num_samples: int
) -> tuple[Tensor, Tensor]:
    """Samples ``num_samples`` neighbours of each node in ``index``.

    As in HeCo: without replacement where a node has at least ``num_samples``
    neighbours, with replacement where it has fewer. Uses the global torch RNG.

    Returns:
        neighbours: ``[B, num_samples]`` neighbour ids (0 where a node has none).
        has_neighbours: ``[B]`` bool, False for nodes without any neighbour.
    """
    if adjacency.col.numel() == 0:  # no edges at all (cold start with unknown neighbours)
        none = torch.zeros(index.numel(), dtype=torch.bool, device=index.device)
        return torch.zeros(index.numel(), num_samples, dtype=torch.long, device=index.device), none
    edges, has_neighbours = sample_edges(adjacency, index, num_samples)
    return adjacency.entries(edges)[0] * has_neighbours[:, None], has_neighbours


def sample_edges(adjacency: Adjacency, index: Tensor, num_samples: int) -> tuple[Tensor, Tensor]:
    """Like :func:`sample_neighbours`, but returns positions in ``adjacency.col``/``value``
    (``[B, num_samples]``, meaningless where a node has no neighbour) and the mask."""
    device = index.device
    start, degree = adjacency.rowptr[index], adjacency.degree[index]
    batch = index.numel()
    slots = torch.arange(num_samples, device=device)

    # With replacement: a uniform position in [0, degree) per slot.
    with_replacement = (torch.rand(batch, num_samples, device=device) * degree[:, None]).long()

    # Without replacement: shuffle each row's positions by sorting random keys offset
    # by the row number, then take the first num_samples of each row.
    offsets = torch.cumsum(degree, 0) - degree
    # The one host sync: the shuffle's length is the rows' total degree (data-dependent).
    total = int(offsets[-1] + degree[-1]) if batch else 0
    local_row = torch.repeat_interleave(torch.arange(batch, device=device), degree,
                                        output_size=total)  # fmt: skip
    position = torch.arange(total, device=device) - offsets[local_row]
    order = torch.argsort(local_row.double() + torch.rand(total, device=device, dtype=torch.double))
    shuffled = position[order]
    take = (offsets[:, None] + slots).clamp(max=max(total - 1, 0))
    without_replacement = shuffled[take] if total else torch.zeros_like(with_replacement)

    positions = torch.where(degree[:, None] >= num_samples, without_replacement, with_replacement)
    has_neighbours = degree > 0
    edges = (start[:, None] + positions).clamp(max=max(adjacency.col.numel() - 1, 0))
    return edges, has_neighbours


def unique_ids(ids: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``torch.unique(ids, return_inverse=True)`` for ids in ``[0, num_nodes)``: the sorted
    distinct ids and the position of every entry of ``ids`` among them, from a mask of the
    nodes instead of a sort (linear in the ids and the nodes)."""
    flat = ids.reshape(-1)
    mask = index_to_mask(flat, num_nodes)
    position = mask.cumsum(0) - 1
    return mask_to_index(mask), position.index_select(0, flat).view_as(ids)
