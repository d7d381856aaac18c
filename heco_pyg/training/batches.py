"""The global order of target-node batches for one epoch of mini-batch training.

Both samplers draw from a seeded generator, so every data-parallel rank computes the same
global order and takes its share of it.

* :func:`random_batches`: a random permutation cut into batches of ``batch_size``.
* :func:`positive_batches`: HeCo's loss needs each anchor's positives among the batch's
  candidates; a random batch of ``B`` out of ``N`` nodes holds only about ``B / N`` of
  them (a third at 1,024 of 3,000 papers, almost none at a million), so the loss sees
  little beyond self-positives. Here a batch is ``B / (1 + k)`` seed nodes plus up to
  ``k`` positives of each seed from the sparse positive index, deduplicated: every seed
  keeps ``k`` of its positive pairs. Every node is a seed once per epoch, so an epoch has
  about ``1 + k`` times more (at most ``B``-node) steps; a step costs ``O(B)``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def random_batches(num_nodes: int, batch_size: int, generator: torch.Generator) -> list[Tensor]:
    """A random permutation of ``range(num_nodes)`` split into ``batch_size`` chunks."""
    return list(
        torch.randperm(num_nodes, generator=generator, device=generator.device).split(batch_size)
    )


def positive_batches(
    positives: PositiveIndex,
    batch_size: int,
    positives_per_seed: int,
    generator: torch.Generator,
) -> list[Tensor]:
    """Seed nodes in a random order, ``batch_size // (1 + positives_per_seed)`` per batch,
    each batch completed with up to ``positives_per_seed`` positives of each of its seeds
    (a uniform sample where a seed has more; all where it has fewer), deduplicated.

    Args:
        positives: the (CPU) positive index; self pairs are skipped.
        batch_size: the most nodes in a batch.
        positives_per_seed: ``k``; 0 gives :func:`random_batches`.
        generator: seeds the order and the samples.

    Returns:
        the batches, each a sorted 1-D tensor of distinct node ids, ``<= batch_size`` long.
    """
    num_nodes = positives.rowptr.numel() - 1
    seeds_per_batch = max(1, batch_size // (1 + positives_per_seed))
    order = torch.randperm(num_nodes, generator=generator, device=generator.device)
    if positives_per_seed == 0:
        return list(order.split(batch_size))
    position = torch.empty_like(order)
    position[order] = torch.arange(num_nodes, device=order.device)  # place in the seed order

    # Every (seed, positive) pair without the self pairs, and a random rank within each
    # seed's row: sort by random key, then stably by seed.
    anchor, positive = positives.all_pairs
    keep = anchor != positive
    anchor, positive = anchor[keep], positive[keep]
    shuffle = torch.randperm(anchor.numel(), generator=generator, device=generator.device)
    shuffle = shuffle[torch.argsort(anchor[shuffle], stable=True)]
    anchor, positive = anchor[shuffle], positive[shuffle]
    degree = torch.bincount(anchor, minlength=num_nodes)
    rank = (
        torch.arange(anchor.numel(), device=anchor.device)
        - (torch.cumsum(degree, 0) - degree)[anchor]
    )
    sampled = rank < positives_per_seed

    # A node belongs to its own seed batch and to the batches of the seeds it is sampled for.
    nodes = torch.cat([order, positive[sampled]])
    seeds = torch.arange(num_nodes, device=order.device)
    batch = torch.cat([seeds, position[anchor[sampled]]]) // seeds_per_batch
    key = torch.unique(batch * num_nodes + nodes)  # sorted: by batch, then by node
    sizes = torch.bincount(key // num_nodes).tolist()
    return list((key % num_nodes).split(sizes))


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
        total = int(degree.sum())
        local_anchor = torch.repeat_interleave(torch.arange(index.numel(), device=index.device),
                                               degree, output_size=total)  # fmt: skip
        offset = (
            torch.arange(total, device=index.device)
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


def rank_batches(
    num_nodes: int,
    epoch: int,
    batch_size: int | None,
    batch_positives: int = 0,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    positives: PositiveIndex | None = None,
) -> list[Tensor | None]:
    """This rank's batches of one epoch: a seeded global order, every rank's share
    (``[None]``: the full batch), on the host: :func:`step_inputs` cuts their positives
    there and moves both to the device once.

    ``positives`` (on the CPU) is needed when ``batch_positives > 0``."""
    if batch_size is None or (batch_size >= num_nodes and world_size == 1):
        return [None]
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    if batch_positives:
        if positives is None:
            raise ValueError("trainer.batch_positives > 0 needs the positive index")
        batches = positive_batches(positives, batch_size, batch_positives, generator)
    else:
        batches = random_batches(num_nodes, batch_size, generator)
    usable = len(batches) // world_size * world_size
    if usable == 0:
        raise ValueError(f"{len(batches)} batches cannot be shared by {world_size} ranks")
    return list(batches[rank:usable:world_size])


def step_inputs(
    index: Tensor | None,
    host_positives: PositiveIndex,
    positives: PositiveIndex,
    device: torch.device,
) -> tuple[Tensor | None, Tensor]:
    """A step's batch and its batch-local positive pairs on the device. The batch comes
    from :func:`rank_batches` on the host; its pairs are cut there too (``host_positives``),
    and both go to the device once (:func:`to_device`: pinned and non-blocking on CUDA, so
    a mini-batch step does not sync on its positives)."""
    if index is None:
        return None, positives.all_pairs
    pairs = host_positives.batch(index)
    return to_device(index, device), to_device(pairs, device)


def to_device(tensor: Tensor, device: torch.device) -> Tensor:
    """One copy of a host tensor to the training ``device``: on CUDA through pinned memory
    and without waiting (the step does not sync on it); elsewhere a plain ``.to``, since
    pinning needs CUDA and buys nothing for a CPU target."""
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
