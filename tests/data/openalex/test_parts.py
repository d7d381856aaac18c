"""Snapshot parts read by several processes give the one-process reader's graph, counts
and errors (deduplication across files, bad records, first-seen names)."""

from __future__ import annotations

import json

import pytest
import torch

from heco_pyg.core.errors import DataError
from heco_pyg.data.openalex import ingest_works
from tests.helpers.openalex_factory import work, write_lines

OLD, NEW = "2024-01-01T00:00:00", "2025-06-01T00:00:00"


def snapshot(folder):
    """Four parts: duplicates across and within files, newer and older, bad records of
    every kind (a malformed older duplicate is never reported), renamed concepts."""
    renamed = (("C1", "Biodiversity (renamed)", 2, 0.9),)
    write_lines(folder / "part_000.gz", [
        work(1, updated=OLD, references=(2, 3)), work(2, authors=("A3",)),
        work(3, concepts=renamed, updated=OLD),
    ], compress=True)  # fmt: skip
    part_1 = [json.dumps(w) for w in (work(1, updated=NEW, authors=("A9",)), work(4))]
    part_1.insert(1, '{"id": "https://openalex.org/W5", "title": ')  # malformed JSON
    (folder / "part_001.jsonl").write_text("\n".join(part_1) + "\n")
    write_lines(folder / "part_002.jsonl", [
        work(3, updated=NEW, title="newer"), {"id": "not a work id"},
        {**work(2, updated=OLD), "authorships": "bad"},  # older and bad: never reported
        {**work(6), "authorships": "bad"},  # bad
    ])  # fmt: skip
    write_lines(folder / "part_003.jsonl", [work(7, references=(1,)), work(4, updated=NEW)])
    return folder


def ingest(folder, workers, **kwargs):
    data, _ = ingest_works("works", folder, text_dim=8, read_workers=workers, **kwargs)
    return data


def assert_same_graph(one, other):
    assert one["paper"].node_ids == other["paper"].node_ids
    assert one.node_ids_by_type == other.node_ids_by_type
    for key in ("x", "y"):
        assert torch.equal(one["paper"][key], other["paper"][key]), key
    for edge_type in one.edge_types:
        assert torch.equal(one[edge_type].edge_index, other[edge_type].edge_index), edge_type
    assert torch.equal(one.citation_index, other.citation_index)
    assert torch.equal(one["concept"].x, other["concept"].x)
    assert one["paper"].titles == other["paper"].titles
    without_seconds = [{k: v for k, v in d.ingest_stats.items() if k != "seconds"}
                       for d in (one, other)]  # fmt: skip
    assert without_seconds[0] == without_seconds[1]


def test_parallel_parts_give_the_one_process_graph_and_counts(tmp_path):
    folder = snapshot(tmp_path / "works")
    one = ingest(folder, 1, on_bad_record="skip")
    for workers in (2, 3):
        assert_same_graph(one, ingest(folder, workers, on_bad_record="skip"))
    stats = one.ingest_stats
    assert stats["bad_records"] == 3 and stats["duplicate_records"] == 4
    assert stats["files"] == 4 and stats["unique_works"] == 5  # W5, W6 bad
    assert one["paper"].titles[2] == "newer"  # W3's newer version, from a later file


def test_parallel_parts_raise_the_first_bad_record_in_file_order(tmp_path):
    folder = snapshot(tmp_path / "works")
    errors = []
    for workers in (1, 2):
        with pytest.raises(DataError) as error:
            ingest(folder, workers)
        errors.append(str(error.value))
    assert errors[0] == errors[1] and "part_001.jsonl:2: malformed JSON" in errors[0]


def test_auto_workers_and_one_file(tmp_path):
    folder = snapshot(tmp_path / "works")
    assert_same_graph(ingest(folder, 1, on_bad_record="skip"),
                      ingest(folder, "auto", on_bad_record="skip"))  # fmt: skip
    single = write_lines(tmp_path / "one.jsonl", [work(1), work(2)])
    assert len(ingest(single, 4)["paper"].node_ids) == 2


def test_parts_replayed_in_small_chunks_leave_no_spool(tmp_path, monkeypatch):
    """Workers spool their results a chunk at a time (forked: they see the patched size);
    chunks of 1 and 2 records give the same graph, and the spool folder is gone after
    a read and after a read stopped by a bad record."""
    from heco_pyg.data.openalex import parts

    folder = snapshot(tmp_path / "works")
    one = ingest(folder, 1, on_bad_record="skip")
    spool_root = tmp_path / "temporary"
    spool_root.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(spool_root))
    for chunk in (1, 2):
        monkeypatch.setattr(parts, "CHUNK", chunk)
        assert_same_graph(one, ingest(folder, 2, on_bad_record="skip"))
        assert list(spool_root.iterdir()) == []
    with pytest.raises(DataError):
        ingest(folder, 2)
    assert list(spool_root.iterdir()) == []
