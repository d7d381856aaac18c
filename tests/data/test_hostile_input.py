"""Hostile input: random bytes flipped in every input format (seeded, a few hundred
cases). Each case ends in a graph, a :class:`DataError` naming the file, or (with
``on_bad_record=skip``) counted skips: never another exception."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from pathlib import Path

import pytest

from heco_pyg.core.errors import DataError
from heco_pyg.data.artifacts import read_artifacts, write_artifacts
from heco_pyg.data.openalex import ingest_works
from heco_pyg.data.openalex.records import ReadStats, iter_works, normalise_id
from heco_pyg.data.synthetic import generate_synthetic
from tests.helpers.openalex_factory import page, work

CASES_PER_FORMAT = 40
WORKS = [work(i, authors=(f"A{i}", f"A{i % 5}"), references=(i + 1,)) for i in range(1, 9)]
ARTIFACT_FILES = ["meta.json", "features_papers.npz", "edges_PA.npz", "edges_PC.npz",
                  "map_paper_id.csv", "labels.npy", "metapath_PAP.npz"]  # fmt: skip


def flip(raw: bytes, rng: random.Random) -> bytes:
    """``raw`` with 1-8 random bytes replaced, or cut short, or both."""
    data = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    if rng.random() < 0.2:
        data = data[: rng.randrange(1, len(data))]
    return bytes(data)


def works_file(folder: Path, kind: str) -> Path:
    lines = "\n".join(json.dumps(w) for w in WORKS).encode()
    if kind == "page":
        (folder / "page.json").write_text(json.dumps(page(WORKS)))
        return folder / "page.json"
    if kind == "jsonl":
        (folder / "works.jsonl").write_bytes(lines)
        return folder / "works.jsonl"
    (folder / "part_000.gz").write_bytes(gzip.compress(lines))
    return folder / "part_000.gz"


@pytest.mark.parametrize("on_bad_record", ["raise", "skip"])
@pytest.mark.parametrize("kind", ["page", "jsonl", "gz"])
def test_flipped_works_files(tmp_path, kind, on_bad_record):
    rng = random.Random(f"{kind}-{on_bad_record}")
    original = works_file(tmp_path, kind)
    raw = original.read_bytes()
    for case in range(CASES_PER_FORMAT):
        original.write_bytes(flip(raw, rng))
        stats = ReadStats()
        try:
            works = list(iter_works(tmp_path, on_bad_record, stats))
            data, _ = ingest_works("works", tmp_path, data_dir=None, text_dim=4,
                                   on_bad_record=on_bad_record)  # fmt: skip
        except DataError as error:
            assert str(tmp_path) in str(error), (case, str(error))  # the file or its folder
            continue
        assert data["paper"].num_nodes == len({normalise_id(w["id"]) for _, w in works})
        if on_bad_record == "raise":
            assert stats.bad_records == 0


def test_flipped_artifacts(tmp_path):
    source = tmp_path / "source"
    write_artifacts(generate_synthetic(num_papers=40, num_authors=30, num_concepts=20,
                                       num_fields=2, seed=0), source)  # fmt: skip
    rng = random.Random("artifacts")
    for case in range(CASES_PER_FORMAT * 3):
        folder = tmp_path / f"case{case}"
        shutil.copytree(source, folder)
        target = folder / rng.choice(ARTIFACT_FILES)
        target.write_bytes(flip(target.read_bytes(), rng))
        try:
            read_artifacts(folder)
        except DataError as error:
            assert target.name in str(error), (case, str(error))
        shutil.rmtree(folder)


@pytest.mark.parametrize("identifier", ["W²³", "W١٢٣", "W", "", "W12x", "X123", "W 1"])
def test_ids_are_w_and_ascii_digits(identifier):
    assert normalise_id(identifier) is None
    assert normalise_id("https://openalex.org/w123") == "https://openalex.org/W123"


def test_a_document_nested_too_deep_is_a_bad_record(tmp_path):
    (tmp_path / "deep.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(DataError, match=r"deep\.jsonl:1"):
        list(iter_works(tmp_path))
    stats = ReadStats()
    assert list(iter_works(tmp_path, "skip", stats)) == [] and stats.bad_records == 1


def test_invalid_utf8_in_a_page_is_a_bad_record(tmp_path):
    (tmp_path / "page.json").write_bytes(json.dumps(page(WORKS)).encode()[:50] + b"\xff\xfe")
    with pytest.raises(DataError, match=r"page\.json"):
        list(iter_works(tmp_path))
