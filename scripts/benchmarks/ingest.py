"""OpenAlex ingestion: prepare's seconds and peak memory against a plain read of the same
snapshot-style parts (gzip JSON Lines resampled from real works).

    python scripts/bench.py ingest --works 200000 1000000

For each size, generates ``--works`` records as ``--parts`` gzip JSON Lines files by
resampling the real records (``--source``): each is a copy of a random real work with a
new id, each author replaced by one of the real author's ``works / 600`` variants and
each concept by one of the real concept's ``works / 2000`` variants (same names and
levels), so that authors and concepts have the degrees of a real field (~3 papers per
author, ~100 per concept) rather than those of 200 works copied a thousand times; its
in-set references redrawn; and ``--duplicates`` of the works written again with an
older ``updated_date`` (the dedupe path); gzip level 1 (``--compresslevel``): level 6 made
compression most of the generator's time. Then, each in a fresh child process (peak
memory is its own):

* ``plain``: gunzip every part and ``json.loads`` every line: what reading costs at least;
* ``prepare``: :func:`ingest_works` without the cache, then meta-paths and positives
  (:func:`prepare_paper_graph`, defaults of ``data=openalex``), each phase timed;
  ``prepare:columnar`` and ``prepare:validating`` pick ``data.reader`` (plain
  ``prepare``: ``auto``), ``prepare:validating:N`` reads the parts with N validating
  processes (``data.read_workers=N``);
* ``stream``: :func:`iter_works` only (parse + validate).

The table gives each mode's seconds, works/s and peak RSS, and prepare / plain; each
prepare row is followed by its phases (``ingest_stats.seconds``: read and reduce, text
features, graph). ``--busy N`` runs N single-threaded busy loops beside every mode (the
"busy machine" target), stopped at the end.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._common import machine

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import gzip, json, resource, sys, time
from pathlib import Path
mode, folder = sys.argv[1], sys.argv[2]
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
result = {}
if mode == "plain":
    start, records = time.perf_counter(), 0
    for part in sorted(Path(folder).glob("*.gz")):
        with gzip.open(part, "rb") as lines:
            for line in lines:
                json.loads(line)
                records += 1
    result.update(records=records, seconds=time.perf_counter() - start, peak_mib=rss())
    print(json.dumps(result))
    sys.exit()
import torch
torch.set_num_threads(1)
from heco_pyg.data import prepare_paper_graph
from heco_pyg.data.openalex import ingest_works
from heco_pyg.data.openalex.records import iter_works
import sklearn.decomposition, sklearn.feature_extraction.text
result["imports_mib"] = rss()
start = time.perf_counter()
if mode == "stream":
    result["records"] = sum(1 for _ in iter_works(folder))
else:
    options = mode.split(":")[1:]
    workers = next((int(o) for o in options if o.isdigit()), 1)
    reader = next((o for o in options if not o.isdigit()), "auto")
    data, _ = ingest_works("works", folder, data_dir=None, read_workers=workers, reader=reader)
    result["phases"] = {k: round(v, 1) for k, v in data.ingest_stats["seconds"].items()}
    result["ingest_seconds"], result["ingest_peak_mib"] = time.perf_counter() - start, rss()
    result.update(papers=data["paper"].num_nodes, authors=data["author"].num_nodes,
                  concepts=data["concept"].num_nodes, records=data.ingest_stats["records"])
    data = prepare_paper_graph(data, {"author": 6, "concept": 8})
    result["graph_seconds"] = time.perf_counter() - start - result["ingest_seconds"]
    result["metapaths"] = {name: {"edges": s["edges"], "dropped": s["dropped_neighbours"]}
                           for name, s in data.metapath_stats.items()}
result["seconds"] = time.perf_counter() - start
result["peak_mib"] = rss()
# the largest reading process (data.read_workers > 1), shared pages included
result["worker_peak_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(result))
"""

SLOT = "@@slot:{}@@"  # where a generated value goes in a record's template (a JSON string)
KINDS = re.compile(r'"@@slot:([IACR])@@"')


def add_arguments(parser) -> None:
    parser.add_argument("--works", type=int, nargs="+", default=[200_000],
                        help="works to generate (one table row group per size)")  # fmt: skip
    parser.add_argument("--source", default=str(ROOT.parent / "shared/data/openalex"),
                        help="real OpenAlex works to resample")  # fmt: skip
    parser.add_argument("--parts", type=int, default=8, help="gzip JSON Lines files to write")
    parser.add_argument("--duplicates", type=float, default=0.01, help="fraction written twice")
    parser.add_argument("--modes", default="plain,prepare:columnar,prepare:validating",
                        help="plain, prepare[:columnar|:validating][:N] (N reading "
                             "processes), stream")  # fmt: skip
    parser.add_argument("--busy", type=int, default=0,
                        help="single-threaded busy loops running beside the modes")  # fmt: skip
    parser.add_argument("--folder", default=None,
                        help="where to write (default: a temp dir); parts already in "
                             "FOLDER/<works> are reused")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compresslevel", type=int, default=1,
                        help="gzip level of the generated parts (1: ~4.5x faster to "
                             "write than 6, files ~1.25x larger, read as fast)")  # fmt: skip


def _template(work: dict) -> tuple[list[str], list[str], list[str], list[str], int]:
    """``(pieces, slot kinds, author ids, concept ids, references)``: the record's JSON cut
    where its id (I), author ids (A), concept ids (C) and references (R) go."""
    authors, concepts = [], []
    record = dict(work, id=SLOT.format("I"), referenced_works=SLOT.format("R"))
    record["authorships"] = []
    for authorship in work.get("authorships") or []:
        author = dict(authorship.get("author") or {})
        if author.get("id"):
            authors.append(author["id"])
            author["id"] = SLOT.format("A")
        record["authorships"].append({**authorship, "author": author})
    record["concepts"] = []
    for concept in work.get("concepts") or []:
        concepts.append(concept["id"])
        record["concepts"].append({**concept, "id": SLOT.format("C")})
    split = KINDS.split(json.dumps(record, ensure_ascii=False))
    references = min(len(work.get("referenced_works") or []), 5)
    return split[0::2], split[1::2], authors, concepts, references


def generate(source: str, folder: Path, works: int, parts: int, gzip_parts: bool = True,
             duplicates: float = 0.01, seed: int = 0, compresslevel: int = 1) -> int:  # fmt: skip
    """Writes the resampled works (see the module docstring); returns the bytes written."""
    from heco_pyg.data.openalex.records import iter_works

    rng = np.random.default_rng(seed)
    templates = [_template(w) for _, w in iter_works(source)]
    author_variants, concept_variants = max(1, works // 600), max(1, works // 2000)
    base = 9_000_000_000
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".jsonl.gz" if gzip_parts else ".jsonl"
    # gzip level 1 by default: compressing is most of the generator's time (level 6: ~17
    # MiB/s of JSON here, level 1: ~77 MiB/s; both read back at ~140 MiB/s)
    handles = [gzip.open(folder / f"part_{i:03d}{suffix}", "wt", encoding="utf-8",
                         compresslevel=compresslevel)
               if gzip_parts else open(folder / f"part_{i:03d}{suffix}", "w", encoding="utf-8")
               for i in range(parts)]  # fmt: skip
    try:
        for i, pick in enumerate(rng.integers(len(templates), size=works).tolist()):
            pieces, kinds, authors, concepts, references = templates[pick]
            author_variant = rng.integers(author_variants, size=len(authors)).tolist()
            concept_variant = rng.integers(concept_variants, size=len(concepts)).tolist()
            cited = rng.integers(0, max(i, 1), references).tolist()
            values = {
                "I": iter([f'"https://openalex.org/W{base + i}"']),
                "A": iter(f'"{a}{v:05d}"' for a, v in zip(authors, author_variant, strict=True)),
                "C": iter(f'"{c}{v:05d}"' for c, v in zip(concepts, concept_variant, strict=True)),
                "R": iter([json.dumps([f"https://openalex.org/W{base + c}" for c in cited])]),
            }
            filled = [next(values[kind]) for kind in kinds]
            line = "".join(p + v for p, v in zip(pieces, [*filled, ""], strict=True)) + "\n"
            handles[i % parts].write(line)
            if rng.random() < duplicates:
                older = line.replace(
                    '"updated_date": "', '"updated_date": "2020-01-01T00:00:00", "_": "'
                )
                handles[(i + 1) % parts].write(older)
    finally:
        for handle in handles:
            handle.close()
    return sum(p.stat().st_size for p in folder.iterdir())


def _child(mode: str, folder: Path) -> dict:
    output = subprocess.run([sys.executable, "-c", CHILD, mode, str(folder)], check=True,
                            capture_output=True, text=True, cwd=ROOT).stdout  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


def _busy_loops(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def run(args) -> None:
    print(f"machine: {machine()}")
    busy = _busy_loops(args.busy)
    try:
        _measure(args)
    finally:
        for loop in busy:
            loop.kill()
            loop.wait()


def _measure(args) -> None:
    print("| works | parts (MiB) | mode | records read | seconds | works/s | peak RSS (MiB) "
          "| / plain | load (1 min) |\n|---:|---|---|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    for works in args.works:
        with tempfile.TemporaryDirectory(prefix="heco_ingest_") as temporary:
            folder = Path(args.folder or temporary) / str(works)
            if not list(folder.glob("*.gz")):
                generate(args.source, folder, works, args.parts, True, args.duplicates,
                         args.seed, args.compresslevel)  # fmt: skip
            parts = sorted(folder.glob("*.gz"))
            size = sum(p.stat().st_size for p in parts)
            plain = None
            for mode in args.modes.split(","):
                result = _child(mode, folder)
                plain = result["seconds"] if mode == "plain" else plain
                ratio = f"{result['seconds'] / plain:.2f}" if plain else "-"
                print(f"| {works:,} | {len(parts)} ({size / 2**20:,.0f}) | {mode} | "
                      f"{result['records']:,} | {result['seconds']:.1f} | "
                      f"{works / result['seconds']:,.0f} | {result['peak_mib']:,.0f} | {ratio} | "
                      f"{os.getloadavg()[0]:.1f} |",
                      flush=True)  # fmt: skip
                if mode.startswith("prepare"):
                    print(f"  {json.dumps(result)}", flush=True)
