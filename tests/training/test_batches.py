import torch

from heco_pyg.training.batches import (
    PositiveIndex,
    batch_positives,
    positive_batches,
    random_batches,
)


def clustered_positives(num_nodes: int = 600, pos_num: int = 5, seed: int = 0) -> PositiveIndex:
    """Self plus ``pos_num - 1`` distinct random others from the node's own block of 20."""
    generator = torch.Generator().manual_seed(seed)
    node = torch.arange(num_nodes)
    keys = torch.rand(num_nodes, 20, generator=generator)
    keys[node, node % 20] = 2.0  # self last
    others = node[:, None] // 20 * 20 + keys.argsort(dim=1)[:, : pos_num - 1]
    positive = torch.cat([node[:, None], others], dim=1).flatten()
    return PositiveIndex(torch.stack([node.repeat_interleave(pos_num), positive]), num_nodes)


def positive_pairs_kept(positives: PositiveIndex, batches: list[torch.Tensor]) -> float:
    """Non-self positive pairs inside their batch, per node visit."""
    pairs = sum(positives.batch(b).size(1) - b.numel() for b in batches)
    return pairs / sum(b.numel() for b in batches)


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_positive_batches_keep_more_positive_pairs_than_random_batches():
    positives = clustered_positives()
    random = positive_pairs_kept(positives, random_batches(600, 64, generator()))
    aware = positive_pairs_kept(positives, positive_batches(positives, 64, 4, generator()))
    assert random < 0.6  # about 4 * 64 / 600 pairs per visit
    assert aware > 2.5 * random


def test_every_node_is_in_a_batch_with_k_of_its_positives():
    positives = clustered_positives()
    batches = positive_batches(positives, 50, 2, generator())
    assert all(b.numel() <= 50 and b.unique().numel() == b.numel() for b in batches)
    assert len(batches) == -(-600 // (50 // 3))  # every node a seed once
    members = [set(b.tolist()) for b in batches]
    anchor, positive = positives.all_pairs
    for node in range(600):
        own = set(positive[(anchor == node) & (positive != node)].tolist())
        assert any(node in m and len(own & m) >= min(2, len(own)) for m in members), node


def test_positive_batches_are_seeded_and_without_positives_are_random_batches():
    positives = clustered_positives()
    first = positive_batches(positives, 64, 3, generator(1))
    again = positive_batches(positives, 64, 3, generator(1))
    other = positive_batches(positives, 64, 3, generator(2))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=False))
    plain = positive_batches(positives, 64, 0, generator(1))
    assert all(torch.equal(a, b) for a, b in zip(plain, random_batches(600, 64, generator(1)),
                                                 strict=True))  # fmt: skip


def test_batch_positives_keeps_in_batch_pairs_and_self():
    positives = torch.tensor([[0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 0]])
    local = batch_positives(positives, torch.tensor([2, 0]), num_nodes=3)
    # node 2 -> local 0, node 0 -> local 1; pair (1, *) and (*, 1) dropped
    assert sorted(map(tuple, local.t().tolist())) == [(0, 0), (0, 1), (1, 1)]
