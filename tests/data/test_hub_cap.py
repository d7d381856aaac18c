"""The automatic hub cap: chosen from the degrees, none on small graphs, reported."""

import numpy as np
import pytest

from heco_pyg.data.metapaths import AddMetaPathCounts, auto_hub_degree
from heco_pyg.data.pipeline import prepare_paper_graph
from heco_pyg.data.stats import graph_statistics
from heco_pyg.data.synthetic import generate_synthetic
from tests.data.test_metapaths import toy_graph


def test_auto_hub_degree_keeps_the_product_within_the_work_per_row():
    degree = np.array([10, 1, 3, 2])  # product work: 100 + 1 + 9 + 4 = 114 path instances

    def cap(degree, num_rows, work_per_row):
        return auto_hub_degree(np.asarray(degree), num_rows, work_per_row, min_work=0)

    assert cap(degree, num_rows=4, work_per_row=30) is None  # 114 <= 120
    assert cap(degree, num_rows=2, work_per_row=10) == 9  # 14 <= 20 < 114
    # Ties: either every node of a degree is kept or none is.
    assert cap([2, 5, 5, 5], num_rows=1, work_per_row=30) == 4
    assert cap([], num_rows=1, work_per_row=1) is None
    # A product below the floor is left alone, whatever the work per row.
    assert auto_hub_degree(degree, num_rows=2, work_per_row=10, min_work=114) is None
    assert auto_hub_degree(degree, num_rows=2, work_per_row=10, min_work=113) == 9


def test_the_default_synthetic_graph_gets_no_automatic_cap():
    """3,000 papers: the PCP product (0.75M path instances after the df cut) is above 200 per
    paper but far below the floor, so `make train`'s graph is the uncapped one."""
    data = prepare_paper_graph(generate_synthetic(), {"author": 6, "concept": 8})
    for stats in data.metapath_stats.values():
        assert stats["max_hub_degree"] is None and stats["dropped_neighbours"] <= 36


def test_auto_cap_prunes_hubs_and_is_recorded(monkeypatch):
    monkeypatch.setattr("heco_pyg.data.metapaths.AUTO_HUB_WORK", 3)
    monkeypatch.setattr("heco_pyg.data.metapaths.AUTO_HUB_MIN_WORK", 0)
    # Concept 0 is on all 6 papers (work 36), concepts 1..3 on 2 each (work 12): 48 > 3 * 6.
    data = AddMetaPathCounts({"PCP": "concept"}, max_degree={"concept": "auto"})(toy_graph())
    stats = data.metapath_stats["PCP"]
    assert stats["max_hub_degree"] == 5 and stats["max_hub_degree_rule"] == "auto"  # 5: 12 <= 18
    assert stats["dropped_neighbours"] == 1
    assert data["paper", "PCP", "paper"].edge_index.size(1) == 6  # only the 3 pairs


@pytest.mark.parametrize(("max_hub_degree", "cap", "rule"), [("auto", None, "auto"),
                         (None, None, "none"), (40, 40, "set")])  # fmt: skip
def test_a_small_graph_gets_no_automatic_cap_and_the_stats_say_so(max_hub_degree, cap, rule):
    raw = generate_synthetic(num_papers=300, num_authors=400, num_concepts=200)
    data = prepare_paper_graph(raw, {"author": 2, "concept": 2}, max_hub_degree=max_hub_degree)
    stats = graph_statistics(data)
    for name in ("PAP", "PCP"):
        assert stats["metapaths"][name]["max_hub_degree"] == cap
        assert stats["metapaths"][name]["max_hub_degree_rule"] == rule
    if max_hub_degree != 40:  # no cap, automatic or none: the same graph
        plain = prepare_paper_graph(raw, {"author": 2, "concept": 2}, max_hub_degree=None)
        assert data["paper", "PCP", "paper"].edge_index.equal(
            plain["paper", "PCP", "paper"].edge_index
        )
    assert set(stats["phase_seconds"]) >= {"PAP products", "PAP symmetrisation", "PCP products",
                                           "positives"}  # fmt: skip
    assert all(seconds >= 0 for seconds in stats["phase_seconds"].values())
