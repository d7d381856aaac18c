import torch

from heco_pyg.evaluation.queries import cite_queries, cited_by, split_queries

# Papers 0..5 cite: 0 -> 1..5 (five), 1 -> 0, 2 -> 0, 3 -> 0, 4 -> 0, 5 -> 0 and 1..4 (five).
CITATIONS = torch.tensor([[0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 5, 5, 5, 5],
                          [1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 1, 2, 3, 4]])  # fmt: skip


def test_split_is_seeded_disjoint_and_complete():
    halves = split_queries(CITATIONS, seed=3)
    assert torch.equal(halves["validation"], split_queries(CITATIONS, seed=3)["validation"])
    both = torch.cat([halves["validation"], halves["test"]])
    assert sorted(both.tolist()) == [0, 1, 2, 3, 4, 5]  # every citing paper, once
    assert len(halves["validation"]) == len(halves["test"]) == 3
    splits = {tuple(split_queries(CITATIONS, seed)["validation"].tolist()) for seed in range(20)}
    assert len(splits) > 1  # the seed decides


def test_cited_by_lists_each_query_citations():
    pairs = cited_by(CITATIONS, torch.tensor([1, 5]))
    assert pairs.tolist() == [[0, 1, 1, 1, 1, 1], [0, 0, 1, 2, 3, 4]]


def test_cite_queries_pick_cited_and_uncited_candidates():
    # Paper 0 cites six (sorted, as citation_edges gives them).
    citations = torch.unique(torch.cat([CITATIONS, torch.tensor([[0], [6]])], dim=1), dim=1)
    cite = cite_queries(citations, torch.arange(6), num_papers=40, seed=0, num_queries=5,
                        num_cited=5, num_uncited=25)  # fmt: skip
    assert cite.queries.tolist() == [0, 5]  # only they have five citations
    assert cite.candidates.shape == (2, 30) and cite.relevant.sum(1).tolist() == [5, 5]
    for query, candidates, relevant in zip(
        cite.queries, cite.candidates, cite.relevant, strict=True
    ):
        cited = set(citations[1][citations[0] == query].tolist())
        assert set(candidates[relevant].tolist()) <= cited
        uncited = set(candidates[~relevant].tolist())
        assert len(uncited) == 25 and not uncited & (cited | {int(query)})
    again = cite_queries(citations, torch.arange(6), 40, seed=0, num_queries=5)
    assert torch.equal(again.candidates, cite.candidates)
