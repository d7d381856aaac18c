"""The ingestion benchmark's generator writes valid, resampled, partly duplicated works."""

from __future__ import annotations

import sys

from heco_pyg.data.openalex.records import ReadStats, iter_works, latest_by_id
from tests.conftest import ROOT


def test_generated_works_read_back_with_duplicates(tmp_path, shared_dir):
    sys.path.insert(0, str(ROOT / "scripts"))
    from benchmarks.ingest import generate

    generate(str(shared_dir / "data/openalex"), tmp_path, works=300, parts=3, gzip_parts=True,
             duplicates=0.1, seed=0)  # fmt: skip
    stats = ReadStats()
    kept = latest_by_id(iter_works(tmp_path, stats=stats), lambda _, w: w["updated_date"], stats)
    assert len(kept) == 300 and stats.duplicates == stats.records - 300 > 0
    assert min(kept.values()) > "2020-01-01T00:00:00"  # the newer copy won
    assert len(list(tmp_path.glob("part_*.jsonl.gz"))) == 3
