"""The columnar reader (DuckDB) gives the validating reader's graph, ids, counts, text
features and errors: on the shared works, generated parts and malformed records."""

from __future__ import annotations

import gzip
import json
import sys

import pytest

from heco_pyg.core.errors import DataError
from heco_pyg.data.openalex import columnar, ingest_works
from heco_pyg.data.openalex.columnar import resolve_reader
from heco_pyg.data.openalex.records import iter_works
from tests.conftest import ROOT
from tests.data.openalex.test_parts import NEW, OLD, assert_same_graph, snapshot
from tests.helpers.openalex_factory import URL, work, write_lines


@pytest.fixture
def fast_parts(monkeypatch):
    """The files the columnar reader read itself (not handed to the validating one)."""
    read, original = [], columnar.read_columnar

    def spy(file, reducer, limits):
        columns = original(file, reducer, limits)
        if columns is not None:
            read.append(file.name)
        return columns

    monkeypatch.setattr(columnar, "read_columnar", spy)
    return read


def both(folder, **kwargs):
    """``(columnar graph, validating graph)``; an error must be the same from both."""
    graphs, errors = [], []
    for reader in ("columnar", "validating"):
        try:
            graphs.append(ingest_works("works", folder, text_dim=8, reader=reader, **kwargs)[0])
        except DataError as error:
            errors.append(str(error))
    assert len(errors) in (0, 2), errors
    if errors:
        assert errors[0] == errors[1]
        return errors[0]
    assert_same_graph(*graphs)
    assert graphs[0].label_names == graphs[1].label_names
    assert graphs[0]["paper"].dois == graphs[1]["paper"].dois
    return graphs[0]


def test_shared_works_as_snapshot_parts(tmp_path, shared_dir, fast_parts):
    works = [w for _, w in iter_works(shared_dir / "data/openalex")]
    write_lines(tmp_path / "part_000.gz", works[:120], compress=True)
    older = [{**w, "updated_date": "2001-01-01", "title": "old"} for w in works[:30]]
    write_lines(tmp_path / "part_001.jsonl", works[120:] + older)
    for settings in ({}, {"concepts": "topics", "label": "subfield"},
                     {"concepts": "keywords", "min_concept_score": 0.0, "label": "none"},
                     {"concepts": "subfields", "text_fit_size": 50},
                     {"min_concept_score": 0.0}):  # ancestors of score 0.0  # fmt: skip
        data = both(tmp_path, **settings)
        assert data["paper"].num_nodes == len(works) == 202
        assert data.ingest_stats["duplicate_records"] == 30 and "old" not in data["paper"].titles
    assert fast_parts == ["part_000.gz", "part_001.jsonl"] * 5  # never fell back


def test_generated_parts(tmp_path, shared_dir, fast_parts):
    sys.path.insert(0, str(ROOT / "scripts"))
    from benchmarks.ingest import generate

    generate(str(shared_dir / "data/openalex"), tmp_path, works=600, parts=3, duplicates=0.2)
    data = both(tmp_path, text_fit_size=100)
    assert data["paper"].num_nodes == 600 and data.ingest_stats["duplicate_records"] > 50
    assert len(fast_parts) == 3


def test_dedup_keeps_the_newest_in_both(tmp_path, fast_parts):
    write_lines(tmp_path / "a.jsonl", [work(1, title="old", updated=OLD),
                                       work(2, title="new", updated=NEW)])  # fmt: skip
    write_lines(tmp_path / "b.jsonl", [work(1, title="new", updated=NEW),
                                       work(2, title="old", updated=OLD),
                                       work(3, title="tie 1")])  # fmt: skip
    write_lines(tmp_path / "c.jsonl", [work(3, title="tie 2")])
    data = both(tmp_path)
    assert data["paper"].titles == ["new", "new", "tie 2"]  # a tie: the later file
    assert len(fast_parts) == 3


def test_snapshot_with_bad_records_falls_back_per_part(tmp_path, fast_parts):
    folder = snapshot(tmp_path / "works")
    data = both(folder, on_bad_record="skip")
    assert data.ingest_stats["bad_records"] == 3
    assert fast_parts == ["part_000.gz", "part_003.jsonl"]  # 001 and 002 hold bad records
    assert "part_001.jsonl:2: malformed JSON" in both(folder)


def _odd(number: int, change: dict | None = None, **fields) -> dict:
    record = work(number, references=(1, 2))
    for path, value in (change or {}).items():  # "authorships.0.author.id": value
        *parents, last = path.split(".")
        target = record
        for key in parents:
            target = target[int(key) if key.isdigit() else key]
        target[int(last) if last.isdigit() else last] = value
    return {**record, **fields}


ODD = {  # uncommon (some bad) records; the graph or the error must not depend on the reader
    "number author id": _odd(2, {"authorships.0.author.id": 7}),
    "empty author id": _odd(2, {"authorships.0.author.id": ""}),
    "bare author id": _odd(2, {"authorships.0.author.id": "A77"}),
    "null authorship": _odd(2, authorships=[None, {"author": None}]),
    "number concept name": _odd(2, {"concepts.0.display_name": 5}),
    "string score": _odd(2, {"concepts.0.score": "0.9"}),
    "boolean score": _odd(2, {"concepts.0.score": True}),
    "null score": _odd(2, {"concepts.0.score": None}),
    "float level": _odd(2, {"concepts.0.level": 2.0}),
    "boolean level": _odd(2, {"concepts.0.level": True}),
    "number concept id": _odd(2, {"concepts.0.id": 12}),
    "null concept": _odd(2, concepts=[None]),
    "number title": _odd(2, title=5),
    "empty title": _odd(2, title=""),
    "no title": _odd(2, title=None, display_name=None),
    "number updated": _odd(2, updated_date=20250101),
    "string truncated": _odd(2, is_authors_truncated="no"),
    "truncated": _odd(2, is_authors_truncated=True),
    "number doi": _odd(2, doi=10),
    "odd references": _odd(2, referenced_works=["W1", "w2", f"{URL}A1", 3, None, "W0001"]),
    "huge reference": _odd(2, referenced_works=[f"{URL}W{10**30}", f"{URL}W{2**63}"]),
    "references not a list": _odd(2, referenced_works="W1"),
    "float position": _odd(2, abstract_inverted_index={"a": [1.5]}),
    "negative position": _odd(2, abstract_inverted_index={"a": [-1]}),
    "string position": _odd(2, abstract_inverted_index={"a": ["3"]}),
    "boolean position": _odd(2, abstract_inverted_index={"a": [True], "b": [0]}),
    "shared positions": _odd(2, abstract_inverted_index={'x[1]"': [0, 1], "b": [1], "": [2]}),
    "empty abstract": _odd(2, abstract_inverted_index={}),
    "only an empty key": _odd(2, abstract_inverted_index={"": [0]}),
    "abstract a string": _odd(2, abstract_inverted_index="money"),
    "empty primary topic": _odd(2, primary_topic={}),
    "null topic field": _odd(2, primary_topic={"field": None}),
    "number topic name": _odd(2, {"primary_topic.field.display_name": 3}),
    "no topics": _odd(2, primary_topic=None, topics=[]),
    "topics not a list": _odd(2, primary_topic=None, topics={"a": 1}),
    "bare work id": _odd(2, id="W2"),
    "number id": _odd(2, id=2),
    "not an object": [1, 2],
}


@pytest.mark.parametrize("on_bad_record", ["raise", "skip"])
@pytest.mark.parametrize("case", list(ODD))
def test_uncommon_records_give_the_same_graph_or_error(tmp_path, case, on_bad_record):
    lines = [json.dumps(w) for w in (work(1), ODD[case], work(3, references=(2,)))]
    (tmp_path / "part.jsonl.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    both(tmp_path, on_bad_record=on_bad_record)
    if "topic" in case or "concept" in case or "score" in case:  # the other C and label kinds
        both(tmp_path, on_bad_record=on_bad_record, concepts="topics", label="subfield",
             min_concept_score=0.0)  # fmt: skip


def test_truncated_gzip_and_empty_part(tmp_path):
    text = gzip.compress("".join(json.dumps(work(i)) + "\n" for i in range(1, 40)).encode())
    (tmp_path / "a.gz").write_bytes(text[: len(text) // 2])
    (tmp_path / "b.jsonl").write_text("")
    write_lines(tmp_path / "c.jsonl", [work(50)])
    assert "a.gz: unreadable gzip file" in both(tmp_path)
    both(tmp_path, on_bad_record="skip")


def test_limits_send_a_part_to_the_validating_reader(tmp_path, fast_parts):
    from heco_pyg.data.openalex.columnar import within_limits
    from heco_pyg.data.openalex.records import ReadLimits

    write_lines(tmp_path / "a.gz", [work(1), work(2, title="x" * 3000)], compress=True)
    size = len(gzip.decompress((tmp_path / "a.gz").read_bytes()))
    assert within_limits(tmp_path / "a.gz", ReadLimits(max_part_bytes=size))
    assert not within_limits(tmp_path / "a.gz", ReadLimits(max_part_bytes=size - 1))
    for limits in ({"max_part_bytes": size - 1}, {"max_line_bytes": 3000}):
        assert "a.gz" in both(tmp_path, **limits)  # the validating reader's error
        data = both(tmp_path, on_bad_record="skip", **limits)
        assert data.ingest_stats["bad_records"] == 1
    assert fast_parts == []
    both(tmp_path, max_line_bytes=10_000)
    assert fast_parts == ["a.gz"]


def test_reader_choice(monkeypatch):
    assert resolve_reader("auto", "tfidf") == "columnar"
    assert resolve_reader("auto", "minilm") == "validating"
    with pytest.raises(DataError, match="data.reader"):
        resolve_reader("fast", "tfidf")
    with pytest.raises(DataError, match="tfidf text only"):
        resolve_reader("columnar", "minilm")
    monkeypatch.setattr(columnar.importlib.util, "find_spec", lambda name: None)
    assert resolve_reader("auto", "tfidf") == "validating"
    with pytest.raises(DataError, match="pip install duckdb"):
        resolve_reader("columnar", "tfidf")
