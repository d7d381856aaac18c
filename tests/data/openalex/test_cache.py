"""The processed-graph cache: reuse, invalidation, atomic writes, corrupt entries."""

from __future__ import annotations

import os

import pytest
import torch

from heco_pyg.core.errors import DataError
from heco_pyg.data.openalex import ingest_works
from heco_pyg.data.openalex.cache import GraphCache
from tests.helpers.openalex_factory import work, write_lines


def ingest(path, data_dir, **kwargs):
    return ingest_works("works", path, data_dir=data_dir, text_dim=4, **kwargs)


def entries(data_dir):
    return sorted((data_dir / "processed").glob("*"))


def test_second_build_is_read_from_the_cache(tmp_path):
    path = write_lines(tmp_path / "in/works.jsonl", [work(1), work(2, authors=("A3",))])
    first, entry = ingest(path, tmp_path / "data")
    assert not entry["cache_hit"] and entry["cache_path"].is_file()
    second, entry = ingest(path, tmp_path / "data")
    assert entry["cache_hit"] and entries(tmp_path / "data") == [entry["cache_path"]]
    assert second["paper"].node_ids == first["paper"].node_ids
    assert torch.equal(second["paper"].x, first["paper"].x)
    assert entry["ids"]["author"] == [f"https://openalex.org/A{i}" for i in (1, 2, 3)]


def test_a_changed_setting_or_file_builds_a_new_entry(tmp_path):
    path = write_lines(tmp_path / "in/works.jsonl", [work(1), work(2)])
    _, base = ingest(path, tmp_path / "data")
    _, other = ingest(path, tmp_path / "data", concepts="topics")
    assert not other["cache_hit"] and other["key"] != base["key"]
    write_lines(path, [work(1), work(2), work(3)])
    os.utime(path, ns=(1, 1))
    data, changed = ingest(path, tmp_path / "data")
    assert not changed["cache_hit"] and data["paper"].num_nodes == 3
    assert len(entries(tmp_path / "data")) == 3


def test_a_corrupt_entry_is_rebuilt(tmp_path):
    path = write_lines(tmp_path / "in/works.jsonl", [work(1)])
    _, entry = ingest(path, tmp_path / "data")
    entry["cache_path"].write_bytes(b"not a torch file")
    data, again = ingest(path, tmp_path / "data")
    assert not again["cache_hit"] and data["paper"].num_nodes == 1
    assert ingest(path, tmp_path / "data")[1]["cache_hit"]


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    path = tmp_path / "in/works.jsonl"
    write_lines(path, [work(1)])
    with path.open("a") as handle:
        handle.write("{broken\n")
    with pytest.raises(DataError, match=r"works\.jsonl:2"):
        ingest(path, tmp_path / "data")
    assert not (tmp_path / "data/processed").exists() or entries(tmp_path / "data") == []


def test_an_interrupted_write_leaves_no_entry(tmp_path, monkeypatch):
    cache = GraphCache(tmp_path)

    def explode(value, file):
        file.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", explode)
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_build("k", lambda: {"data": 1})
    assert list(tmp_path.iterdir()) == []


class Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_in_the_cache_is_refused_and_never_runs(tmp_path):
    path = write_lines(tmp_path / "in/works.jsonl", [work(1), work(2, authors=("A3",))])
    _, entry = ingest(path, tmp_path / "data")
    marker = tmp_path / "payload_ran"
    with open(entry["cache_path"], "wb") as handle:  # a full pickle, as torch.save writes one
        torch.save({"version": 2, "key": entry["key"], "data": Payload(marker)}, handle)
    data, entry = ingest(path, tmp_path / "data")
    assert not marker.exists()
    assert not entry["cache_hit"] and data["paper"].num_nodes == 2  # rebuilt from the works
    again, entry = ingest(path, tmp_path / "data")
    assert entry["cache_hit"] and again["paper"].node_ids == data["paper"].node_ids
