"""The queries of the recommendation protocols: held-out citations, the seeded validation /
test split of the citing papers, and the *cite* protocol's candidate lists.

Every choice (hyper-parameters, pruning, epochs, features) is made on the *validation*
half; tables report the *test* half. The split is by query paper, seeded, disjoint, and
shared by both protocols: a paper is a validation query in both or a test query in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from heco_pyg.data.graph import citation_index

HALVES = ("validation", "test")


def citation_edges(data) -> Tensor:
    """The graph's within-set citations ``[2, E]`` (citing, cited), sorted, self-citations
    and duplicates dropped. A source with undirected links stores both directions."""
    edge_index = citation_index(data)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    return torch.unique(edge_index, dim=1)


@dataclass(frozen=True)
class CiteQueries:
    """The *cite* protocol's queries ``[Q]`` and candidates ``[Q, C]`` with their relevance
    ``[Q, C]`` (bool), in a shuffled order per query."""

    queries: Tensor
    candidates: Tensor
    relevant: Tensor


def split_queries(citations: Tensor, seed: int) -> dict[str, Tensor]:
    """``{"validation", "test"}``: the citing papers, seeded permutation cut in two halves
    (validation gets the extra one), each sorted."""
    citing = torch.unique(citations[0]).numpy()
    order = np.random.default_rng(seed).permutation(citing)
    half = (len(order) + 1) // 2
    return {"validation": torch.from_numpy(np.sort(order[:half])),
            "test": torch.from_numpy(np.sort(order[half:]))}  # fmt: skip


def cited_by(citations: Tensor, queries: Tensor) -> Tensor:
    """``[2, R]`` (position of the query in ``queries``, cited paper) for sorted
    ``citations`` (:func:`citation_edges`)."""
    citing = citations[0].contiguous()
    start = torch.searchsorted(citing, queries)
    count = torch.searchsorted(citing, queries, right=True) - start
    position = torch.repeat_interleave(torch.arange(queries.numel()), count)
    first = torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
    offset = torch.arange(int(count.sum())) - first
    return torch.stack([position, citations[1][start[position] + offset]])


def cite_queries(
    citations: Tensor, papers: Tensor, num_papers: int, seed: int,
    num_queries: int = 500, num_cited: int = 5, num_uncited: int = 25,
) -> CiteQueries:  # fmt: skip
    """Up to ``num_queries`` of ``papers`` with at least ``num_cited`` citations (seeded);
    each gets ``num_cited`` of its cited papers and ``num_uncited`` papers it does not cite
    (nor itself), drawn at random, in a random order."""
    rng = np.random.default_rng(seed)
    counts = torch.bincount(citations[0], minlength=num_papers)
    eligible = papers[counts[papers] >= num_cited].numpy()
    chosen = np.sort(rng.choice(eligible, min(num_queries, len(eligible)), replace=False))
    pairs = cited_by(citations, torch.from_numpy(chosen))
    candidates, relevant = [], []
    for position, query in enumerate(chosen):
        cited = pairs[1][pairs[0] == position].numpy()
        positives = rng.choice(cited, num_cited, replace=False)
        excluded = np.zeros(num_papers, bool)
        excluded[cited] = excluded[query] = True
        negatives = rng.choice(np.flatnonzero(~excluded), num_uncited, replace=False)
        shuffle = rng.permutation(num_cited + num_uncited)
        candidates.append(np.concatenate([positives, negatives])[shuffle])
        relevant.append((np.arange(num_cited + num_uncited) < num_cited)[shuffle])
    width = num_cited + num_uncited
    return CiteQueries(
        torch.from_numpy(chosen).long(),
        torch.from_numpy(np.asarray(candidates, np.int64).reshape(-1, width)),
        torch.from_numpy(np.asarray(relevant, bool).reshape(-1, width)),
    )
