"""OpenAlex ingestion: works/second and peak memory on JSON Lines resampled from real works.

    python scripts/bench.py ingest --works 100000 --source ../shared/data/openalex

Generates ``--works`` records as JSON Lines (``--parts`` files, optionally gzip'd) by
resampling the real records: each is a copy of a random real work with a new id, half
its authors swapped for ids from a pool that grows with the size (so the author count
grows too), its in-set references redrawn among the generated ids, and ``--duplicates``
of the works written again with an older ``updated_date`` (the dedupe path). Then, each
in a fresh child process so that peak memory is its own:

* ``stream``: :func:`iter_works` only (parse + validate): constant memory;
* ``ingest``: :func:`ingest_works` without the cache: read, dedupe, reduce, TF-IDF + SVD,
  assemble the graph;
* ``prepare``: ``ingest`` + meta-paths and positives;
* ``phases``: read/dedupe/reduce, then TF-IDF + SVD, then the graph, timed one by one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import machine

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(1)
from heco_pyg.data import prepare_paper_graph
from heco_pyg.data.openalex import ingest_works
from heco_pyg.data.openalex.records import iter_works
import sklearn.decomposition, sklearn.feature_extraction.text
mode, folder = sys.argv[1], sys.argv[2]
result = {"imports_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
start = time.perf_counter()
if mode == "stream":
    result["records"] = sum(1 for _ in iter_works(folder))
elif mode == "phases":
    from heco_pyg.data.openalex import read_works
    from heco_pyg.data.openalex.features import text_features
    from heco_pyg.data.openalex.graph import WorkReducer, assemble_graph, concept_order
    from heco_pyg.data.openalex.records import BadRecordHandler, ReadStats, find_files
    rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats = ReadStats()
    reducer = WorkReducer(on_bad=BadRecordHandler("raise", stats))
    works = read_works(find_files(folder), reducer, stats)
    result["read_seconds"], result["read_peak_mib"] = time.perf_counter() - start, rss()
    names = [reducer.concept_names.get(c, "") for c in concept_order(works)]
    paper_x, concept_x = text_features([w.text for w in works.values()], names)
    result["features_seconds"] = time.perf_counter() - start - result["read_seconds"]
    result["features_peak_mib"] = rss()
    assemble_graph(works, reducer, paper_x, concept_x, folder)
    result["records"] = stats.records
else:
    data, _ = ingest_works("works", folder, data_dir=None)
    result.update(papers=data["paper"].num_nodes, authors=data["author"].num_nodes,
                  concepts=data["concept"].num_nodes, records=data.ingest_stats["records"])
    if mode == "prepare":
        data = prepare_paper_graph(data, {"author": 6, "concept": 8})
        result["PCP"] = data.metapath_stats["PCP"]
result["seconds"] = time.perf_counter() - start
result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""


def add_arguments(parser) -> None:
    parser.add_argument("--works", type=int, default=100_000, help="works to generate")
    parser.add_argument("--source", default=str(ROOT.parent / "shared/data/openalex"),
                        help="real OpenAlex works to resample")  # fmt: skip
    parser.add_argument("--parts", type=int, default=10, help="JSON Lines files to write")
    parser.add_argument("--gzip", action="store_true", help="write .gz parts (snapshot style)")
    parser.add_argument("--duplicates", type=float, default=0.01, help="fraction written twice")
    parser.add_argument("--modes", default="stream,ingest", help="stream,ingest,prepare,phases")
    parser.add_argument("--folder", default=None, help="where to write (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=0)


def generate(source: str, folder: Path, works: int, parts: int, gzip: bool,
             duplicates: float, seed: int) -> int:  # fmt: skip
    """Writes the resampled works; returns the bytes written."""
    from heco_pyg.data.openalex.records import iter_works

    rng = np.random.default_rng(seed)
    real = [w for _, w in iter_works(source)]
    author_pool = max(1000, works * 2)
    folder.mkdir(parents=True, exist_ok=True)
    opener = __import__("gzip").open if gzip else open
    suffix = ".jsonl.gz" if gzip else ".jsonl"
    handles = [opener(folder / f"part_{i:03d}{suffix}", "wt", encoding="utf-8")
               for i in range(parts)]  # fmt: skip
    base = 9_000_000_000
    # Serialise each real record once without the fields that change; splice per copy.
    changing = ("id", "authorships", "referenced_works")
    rest = [json.dumps({k: v for k, v in w.items() if k not in changing}, ensure_ascii=False)[1:]
            for w in real]  # fmt: skip
    try:
        for i in range(works):
            pick = rng.integers(len(real))
            authorships = []
            for authorship in real[pick].get("authorships") or []:
                author = dict(authorship.get("author") or {})
                if author.get("id") and rng.random() < 0.5:
                    author["id"] = f"https://openalex.org/A{base + rng.integers(author_pool)}"
                authorships.append({**authorship, "author": author})
            count = min(len(real[pick].get("referenced_works") or []), 5)
            cites = [f"https://openalex.org/W{base + c}" for c in rng.integers(0, max(i, 1), count)]
            head = {"id": f"https://openalex.org/W{base + i}", "authorships": authorships,
                    "referenced_works": cites}  # fmt: skip
            line = json.dumps(head, ensure_ascii=False)[:-1] + ", " + rest[pick] + "\n"
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


def run(args) -> None:
    with tempfile.TemporaryDirectory(prefix="heco_ingest_") as temporary:
        folder = Path(args.folder or temporary)
        start = time.perf_counter()
        size = generate(args.source, folder, args.works, args.parts, args.gzip,
                        args.duplicates, args.seed)  # fmt: skip
        print(f"machine: {machine()}")
        print(f"generated {args.works} works ({size / 2**20:.0f} MiB in {args.parts} "
              f"{'gzip ' if args.gzip else ''}JSON Lines files) in "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip
        print("| mode | works | records read | seconds | works/s | RSS after imports (MiB) "
              "| peak RSS (MiB) |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|")
        for mode in args.modes.split(","):
            output = subprocess.run(
                [sys.executable, "-c", CHILD, mode, str(folder)],
                check=True, capture_output=True, text=True, cwd=ROOT,
            ).stdout  # fmt: skip
            result = json.loads(output.strip().splitlines()[-1])
            print(f"| {mode} | {args.works} | {result['records']} | {result['seconds']:.1f} | "
                  f"{args.works / result['seconds']:.0f} | {result['imports_mib']:.0f} | "
                  f"{result['peak_mib']:.0f} |")  # fmt: skip
            if mode != "stream":
                print(f"  {json.dumps(result)}")
