"""Works -> graph: node types, concept kinds, labels, citations and the real-world mess."""

from __future__ import annotations

import pytest
import torch

from heco_pyg.core.errors import DataError
from heco_pyg.data.graph import schema_edge_type
from heco_pyg.data.openalex import ingest_works
from heco_pyg.data.openalex.graph import rebuild_abstract
from tests.helpers.openalex_factory import URL, work, write_lines

PC = schema_edge_type("paper", "concept")
PA = schema_edge_type("paper", "author")


def build(tmp_path, works, **kwargs):
    path = write_lines(tmp_path / "works.jsonl", works)
    return ingest_works("works", path, text_dim=4, **kwargs)[0]


def edges(data, edge_type, kind):
    """{(paper id, neighbour id)} with the neighbours' OpenAlex ids."""
    names = data.node_ids_by_type[kind]
    return {(data["paper"].node_ids[p][len(URL):], names[n][len(URL):])
            for p, n in data[edge_type].edge_index.t().tolist()}  # fmt: skip


def test_rebuild_abstract_places_words_at_their_positions():
    assert rebuild_abstract({"b": [1, 3], "a": [0], "c": [2]}) == "a b c b"
    assert rebuild_abstract(None) == "" and rebuild_abstract({}) == ""


def test_papers_authors_concepts_and_mess(tmp_path):
    data = build(tmp_path, [
        work(1, authors=("A1", None, "A2")),                    # a null author id
        work(2, authors=(), title=None, abstract=None),         # no authorships, no text
        work(3, authors=("A2",), is_authors_truncated=True, abstract=None),
    ])  # fmt: skip
    assert data["paper"].node_ids == [f"{URL}W{i}" for i in (1, 2, 3)]
    assert edges(data, PA, "author") == {("W1", "A1"), ("W1", "A2"), ("W3", "A2")}
    # C0 has score 0.0 (an ancestor) and is dropped by min_concept_score=0.1 (the default)
    assert edges(data, PC, "concept") == {("W1", "C1"), ("W2", "C1"), ("W3", "C1")}
    stats = data.ingest_stats
    assert stats["null_author_ids"] == 1 and stats["papers_without_authors"] == 1
    assert stats["authors_truncated"] == 1
    assert stats["papers_without_abstract"] == 2 and stats["papers_without_text"] == 1
    assert torch.all(data["paper"].x[1] == 0) and torch.isfinite(data["paper"].x).all()
    assert data["concept"].level.tolist() == [2]


def test_min_concept_score_zero_keeps_ancestors_with_levels(tmp_path):
    data = build(tmp_path, [work(1), work(2)], min_concept_score=0.0)
    assert sorted(data.node_ids_by_type["concept"]) == [URL + "C0", URL + "C1"]
    level = dict(zip(data.node_ids_by_type["concept"], data["concept"].level.tolist(), strict=True))
    assert level == {URL + "C0": 0, URL + "C1": 2}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("topics", {"T2", "T3"}), ("subfields", {"subfields/2308"}),
     ("keywords", {"keywords/k0", "keywords/k1"})],
)  # fmt: skip
def test_concept_kinds(tmp_path, kind, expected):
    data = build(tmp_path, [work(1), work(2)], concepts=kind)
    assert {c[len(URL) :] for c in data.node_ids_by_type["concept"]} == expected
    assert "level" not in data["concept"]
    assert data["concept"].x.size(0) == len(expected)


def test_labels_from_primary_topic_field_or_subfield(tmp_path):
    works = [work(1, topic=("fields/23", "subfields/2308")), work(2, topic=None),
             work(3, topic=("fields/11", "subfields/1105"))]  # fmt: skip
    data = build(tmp_path, works, label="field")
    assert data["paper"].y.tolist() == [1, -1, 0]
    assert data.label_ids == [URL + "fields/11", URL + "fields/23"]
    data = build(tmp_path, works, label="subfield")
    assert data["paper"].y.tolist() == [1, -1, 0]
    assert "y" not in build(tmp_path, works, label="none")["paper"]


def test_labels_fall_back_to_the_first_topic(tmp_path):
    record = work(1)
    record["primary_topic"] = None
    assert build(tmp_path, [record, work(2)])["paper"].y.tolist() == [0, 0]


def test_citations_inside_the_set_only(tmp_path):
    data = build(tmp_path, [work(1, references=(2, 99, 1)), work(2, references=(1,)), work(3)])
    assert data.citation_index.tolist() == [[0, 1], [1, 0]]
    assert all(relation != "cites" for _, relation, _ in data.edge_types)


def test_duplicates_merge_to_the_newest(tmp_path):
    data = build(tmp_path, [work(1, authors=("A1",), updated="2025-02-01"),
                            work(1, authors=("A9",), updated="2024-01-01")])  # fmt: skip
    assert data["paper"].num_nodes == 1
    assert edges(data, PA, "author") == {("W1", "A1")}
    assert data.ingest_stats["duplicate_records"] == 1


def test_a_bad_field_raises_with_location_or_is_skipped(tmp_path):
    bad = work(2)
    bad["authorships"] = "A1"
    with pytest.raises(DataError, match=r"works\.jsonl:2: bad work .*W2.*'authorships' must be"):
        build(tmp_path, [work(1), bad])
    data = build(tmp_path, [work(1), bad], on_bad_record="skip")
    assert data["paper"].num_nodes == 1 and data.ingest_stats["bad_records"] == 1


def test_unknown_settings_are_named(tmp_path):
    with pytest.raises(DataError, match="data.concepts"):
        build(tmp_path, [work(1)], concepts="fields")
    with pytest.raises(DataError, match="data.label"):
        build(tmp_path, [work(1)], label="domain")
    with pytest.raises(DataError, match="data.text_features"):
        build(tmp_path, [work(1)], text_features="bert")


def test_learnable_concepts_and_level_pruning_of_pcp(tmp_path):
    from heco_pyg.data import prepare_paper_graph

    works = [work(i, concepts=(("C1", "Generic", 0, 0.9), (f"C{i % 2 + 2}", "Niche", 3, 0.8)))
             for i in range(1, 7)]  # fmt: skip
    data = build(tmp_path, works, concept_features="learnable")
    assert "x" not in data["concept"] and data["concept"].num_nodes == 3
    sizes = {"author": 2, "concept": 2}
    everything = prepare_paper_graph(data, sizes, max_concept_df=None, metapath_topk=None)
    specific = prepare_paper_graph(
        data, sizes, max_concept_df=None, min_concept_level=2, metapath_topk=None
    )
    assert everything.metapath_stats["PCP"]["edges"] == 6 * 5  # C1 joins every pair
    assert specific.metapath_stats["PCP"]["edges"] == 2 * 3 * 2  # two groups of three
    assert specific.metapath_stats["PCP"]["dropped_neighbours"] == 1


def test_titles_and_dois_are_kept_for_recommendation(shared_dir):
    from heco_pyg.data.openalex import ingest_works

    data, _ = ingest_works("works", str(shared_dir / "data" / "openalex" / "work_W2741809807.json"))
    assert data["paper"].node_ids == ["https://openalex.org/W2741809807"]
    assert data["paper"].titles[0].startswith("The state of OA")
    assert data["paper"].dois[0] == "https://doi.org/10.7717/peerj.4375"


def test_rebuild_abstract_fast_path_equals_the_checking_loop():
    """Random indexes, shared and repeated positions included, and malformed ones: the
    vectorised rebuild gives the loop's text or the loop's error."""
    import random

    from heco_pyg.data.openalex.graph import _rebuild_abstract_checked, check_abstract

    rng = random.Random(0)
    for _ in range(500):
        index: dict = {}
        for position in range(rng.randint(0, 20)):
            index.setdefault(rng.choice("abcdef"), []).append(
                position if rng.random() > 0.2 else rng.randint(0, 20)
            )
        assert rebuild_abstract(index) == _rebuild_abstract_checked(index), index
        assert check_abstract(index) == bool(_rebuild_abstract_checked(index)), index
    for bad, message in (({"a": [1, "x"]}, "has position 'x'"), ({"a": [-1]}, "position -1"),
                         ({"a": "12"}, "must be a list"), ({"a": [1.5]}, "position 1.5")):  # fmt: skip
        with pytest.raises(TypeError, match=message):
            rebuild_abstract(bad)
        with pytest.raises(TypeError, match=message):
            check_abstract(bad)


def test_ingestion_reports_progress_and_phase_seconds(tmp_path, monkeypatch, caplog):
    import heco_pyg.data.openalex.ingest as ingest

    monkeypatch.setattr(ingest, "REPORT_SECONDS", 0.0)
    monkeypatch.setattr(ingest, "REPORT_EVERY", 2)
    with caplog.at_level("INFO", logger="heco_pyg.data.openalex"):
        data = build(tmp_path, [work(i) for i in range(1, 6)])
    reads = [r.getMessage() for r in caplog.records if r.getMessage().startswith("read: ")]
    assert reads[0].startswith("read: 2 records, file 1 of 1") and len(reads) == 2
    assert "ingested 5 records (5 works) from 1 files" in caplog.text
    seconds = data.ingest_stats["seconds"]
    assert set(seconds) == {"read_and_reduce", "text_features", "assemble_graph"}
    assert all(value >= 0 for value in seconds.values())
