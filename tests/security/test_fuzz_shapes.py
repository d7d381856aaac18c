"""The seeded fuzz suite (``tests/data/test_hostile_input.py``) grown by issue 25's
shapes: work ids of any digit count and leading zeros (as ids and references), ``NaN`` /
``Infinity`` in pages and lines, overlong lines and bombs of newlines under small
limits. Each case ends in a graph, a :class:`DataError` naming the file, or counted skips:
never another exception."""

from __future__ import annotations

import gzip
import json
import random

import pytest

from heco_pyg.core.errors import DataError
from heco_pyg.data.openalex import ingest_works
from heco_pyg.data.openalex.records import ReadLimits, ReadStats, iter_works, normalise_id
from tests.helpers.openalex_factory import work

CASES = 30
LIMITS = ReadLimits(max_line_bytes=4000, max_part_bytes=60_000)


def hostile_id(rng: random.Random) -> str:
    digits = "0" * rng.choice([0, 0, 1, 5]) + str(rng.randrange(1, 10 ** rng.randint(1, 40)))
    prefix = rng.choice(["W", "w", "https://openalex.org/W", "https://openalex.org/w"])
    return prefix + digits


def hostile_line(rng: random.Random, number: int) -> str:
    record = work(number, references=tuple(range(number + 1, number + 3)))
    record["id"] = hostile_id(rng) if rng.random() < 0.5 else record["id"]
    record["referenced_works"] += [hostile_id(rng) for _ in range(rng.randint(0, 3))]
    text = json.dumps(record)
    roll = rng.random()
    if roll < 0.15:
        text = text.replace('"score": 0.9', '"score": NaN', 1)
    elif roll < 0.25:
        text = text.replace('"score": 0.9', '"score": -Infinity', 1)
    elif roll < 0.35:
        text = text.replace('"title": "', '"title": "' + "x" * 5000, 1)  # past max_line_bytes
    return text


@pytest.mark.parametrize("on_bad_record", ["raise", "skip"])
@pytest.mark.parametrize("kind", ["page", "jsonl", "gz"])
def test_hostile_shapes(tmp_path, kind, on_bad_record):
    rng = random.Random(f"shapes-{kind}-{on_bad_record}")
    for case in range(CASES):
        lines = [hostile_line(rng, n) for n in range(1, 7)]
        if rng.random() < 0.2:
            lines.append("\n" * rng.choice([10, 80_000]))  # a bomb of newlines past the limit
        for old in tmp_path.glob("*"):
            old.unlink()
        if kind == "page":
            (tmp_path / "page.json").write_text('{"results": [' + ",".join(lines[:6]) + "]}")
        elif kind == "jsonl":
            (tmp_path / "works.jsonl").write_text("\n".join(lines))
        else:
            (tmp_path / "part_000.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
        stats = ReadStats()
        try:
            works = list(iter_works(tmp_path, on_bad_record, stats, limits=LIMITS))
            data, _ = ingest_works("works", tmp_path, data_dir=None, text_dim=4, on_bad_record=on_bad_record,
                                   max_line_bytes=LIMITS.max_line_bytes,
                                   max_part_bytes=LIMITS.max_part_bytes)  # fmt: skip
        except DataError as error:
            assert str(tmp_path) in str(error) and "\n" not in str(error), (case, str(error))
            continue
        assert data["paper"].num_nodes == len({normalise_id(w["id"]) for _, w in works})
        if on_bad_record == "raise":
            assert stats.bad_records == 0
