import numpy as np
import pytest
import torch

from heco_pyg.data.graph import build_graph, metapath_edge_type
from heco_pyg.evaluation.baselines import (
    baseline_scorers,
    last_batch_kept,
    neighbour_scorers,
    sgc_features,
    text_scorer,
)

X = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1]], np.float32)


def tiny_graph(words: bool = False):
    """Four papers; tags: {0, 1} share tag 0, {2, 3} tag 1, tag 2 is on every paper;
    users: paper 0 and 2 share user 0."""
    tags = np.array([[0, 0], [1, 0], [2, 1], [3, 1], [0, 2], [1, 2], [2, 2], [3, 2]])
    users = np.array([[0, 0], [2, 0], [1, 1], [3, 2]])
    data = build_graph("paper", {"paper": 4, "tag": 3, "user": 3},
                       {"tag": tags, "user": users}, {"paper": X}, "tiny")  # fmt: skip
    data.metapaths = ["PTP"]
    store = data[metapath_edge_type("paper", "PTP")]
    store.edge_index = torch.tensor([[0, 1, 2, 3, 0, 2], [1, 0, 3, 2, 2, 0]])
    store.edge_weight = torch.tensor([2.0, 2.0, 2.0, 2.0, 1.0, 1.0])
    if words:  # paper 0 and 3 share the rare word 1; word 0 is everywhere
        data.word_index = torch.tensor([[0, 1, 2, 3, 0, 3], [0, 0, 0, 0, 1, 1]])
        data.word_count = torch.tensor([1, 1, 1, 1, 2, 2])
        data.vocabulary_size = 2
    return data


def test_neighbour_scorers_are_tfidf_cosines_per_type():
    scorers = neighbour_scorers(tiny_graph())
    assert list(scorers) == ["tag", "user"]  # the graph's types, none hard-wired
    tag = scorers["tag"](torch.tensor([0]))[0]
    assert tag[0] == pytest.approx(1.0) and tag[1] == pytest.approx(1.0)
    # Papers 0 and 2 share only the tag on every paper (idf lowest): small but positive.
    assert 0 < tag[2] < 0.5
    user = scorers["user"](torch.tensor([0]))[0]
    assert user.tolist() == pytest.approx([1.0, 0.0, 1.0, 0.0])


def test_text_scorer_reads_the_bag_of_words_else_the_features():
    words = text_scorer(tiny_graph(words=True))(torch.tensor([0]))[0]
    assert words[3] == pytest.approx(1.0) and words[1] < 0.5  # TF-IDF of the words
    features = text_scorer(tiny_graph())(torch.tensor([0]))[0]
    assert features[1] > 0.99 and features[3] < 0.2  # cosine of X


def test_sgc_propagates_over_the_metapath_graph():
    z = sgc_features(tiny_graph(), hops=2, topk=1)  # top-1 keeps 0-1 and 2-3 only
    assert np.allclose(np.linalg.norm(z, axis=1), 1)
    # Papers 0 and 1 (and 2 and 3) become identical: both components are {paper, its pair}.
    assert np.allclose(z[0], z[1]) and np.allclose(z[2], z[3]) and not np.allclose(z[0], z[2])
    kept = sgc_features(tiny_graph(), hops=2, topk=None)
    assert not np.allclose(kept[0], kept[1])  # the 0-2 edge mixes the pairs


def test_baseline_scorers_in_table_order_and_fusion_is_the_mean():
    data = tiny_graph(words=True)
    scorers = baseline_scorers(data, seed=0)
    assert list(scorers) == ["random", "text", "tag", "user", "fusion", "sgc", "fusion + sgc"]
    rows = torch.tensor([0, 3])
    parts = torch.stack([scorers[name](rows) for name in ("text", "tag", "user")])
    assert torch.allclose(scorers["fusion"](rows), parts.mean(0))
    joined = baseline_scorers(data, seed=0, join={"ones": lambda rows: torch.ones(2, 4)})
    expected = (parts.sum(0) + 1) / 4
    assert torch.allclose(joined["fusion + ones"](rows), expected)


def test_last_batch_kept_scores_each_batch_once():
    calls = []
    scorer = last_batch_kept(lambda rows: calls.append(rows) or rows.float())
    rows = torch.tensor([1, 2])
    scorer(rows), scorer(rows), scorer(torch.tensor([1, 2]))
    assert len(calls) == 2
