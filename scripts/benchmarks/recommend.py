"""Recommendation search: per-query latency of the faiss index vs exact search, recall.

    python scripts/bench.py recommend --num-vectors 1000000 --dim 64 --threads 1

Generates ``--num-vectors`` L2-normalised synthetic vectors: a mixture of ``--clusters``
Gaussian blobs, shaped like embeddings (``--clusters 0``: uniform, the hard case). Builds
the faiss IVF index as ``index=faiss`` does (:class:`heco_pyg.retrieval.search.FaissIndex`),
saves and reloads it, then times ``--queries`` single-vector queries, one at a time (the
interactive case), with exact search (:func:`heco_pyg.retrieval.search.exact_topk`, torch
matmul + topk) and with the index at each ``--nprobe``. Reports median / p95 ms per
query, the speed-up over exact, and Recall@k of the index against the exact top-k.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks._common import machine, peak_memory_mib, timer
from heco_pyg.retrieval.search import FaissIndex, exact_topk


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num-vectors", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=2000,
                        help="Gaussian blobs; 0: uniform on the sphere")  # fmt: skip
    parser.add_argument("--spread", type=float, default=0.5, help="blob std / centre norm")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--nlist", type=int, default=None, help="default 4 sqrt(N)")
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)


def synthetic_vectors(n: int, dim: int, clusters: int, spread: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    if clusters == 0:
        return F.normalize(torch.randn(n, dim, generator=generator), dim=1)
    centres = F.normalize(torch.randn(clusters, dim, generator=generator), dim=1)
    member = torch.randint(0, clusters, (n,), generator=generator)
    noise = torch.randn(n, dim, generator=generator) * (spread / dim**0.5)
    return F.normalize(centres[member] + noise, dim=1)


def _latencies(search, queries: torch.Tensor) -> tuple[list[float], torch.Tensor]:
    milliseconds, rows = [], []
    for query in queries.split(1):
        start = time.perf_counter()
        rows.append(search(query))
        milliseconds.append((time.perf_counter() - start) * 1000)
    return milliseconds, torch.cat(rows)


def _summary(milliseconds: list[float]) -> tuple[float, float]:
    ordered = sorted(milliseconds)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def run(args: argparse.Namespace) -> None:
    import faiss

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    print(f"machine: {machine()}, faiss {faiss.__version__}, {args.threads} faiss threads")
    with timer() as generated:
        corpus = synthetic_vectors(
            args.num_vectors, args.dim, args.clusters, args.spread, args.seed
        )
    generator = torch.Generator().manual_seed(args.seed + 1)
    picks = torch.randint(0, args.num_vectors, (args.queries,), generator=generator)
    noise = torch.randn(args.queries, args.dim, generator=generator) * (args.spread / args.dim**0.5)
    queries = F.normalize(corpus[picks] + noise, dim=1)  # near, not equal to, corpus rows
    print(f"{args.num_vectors} x {args.dim} vectors in {generated['seconds']:.1f} s")

    with timer() as built:
        index = FaissIndex.build(corpus.numpy(), nlist=args.nlist, seed=args.seed)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fused.faiss"
        with timer() as saved:
            index.save(path)
        with timer() as loaded:
            index = FaissIndex.load(path)
    print(f"faiss {index!r}: build {built['seconds']:.1f} s, save {saved['seconds']:.2f} s, "
          f"load {loaded['seconds']:.2f} s")  # fmt: skip

    exact_ms, exact_rows = _latencies(lambda q: exact_topk(corpus, q, args.k)[1], queries)
    exact_median, exact_p95 = _summary(exact_ms)
    print(f"| method | median ms/query | p95 ms/query | speed-up vs exact | Recall@{args.k} |")
    print("|---|---:|---:|---:|---:|")
    print(f"| exact (torch matmul + topk) | {exact_median:.2f} | {exact_p95:.2f} | 1.0 | 1.000 |")
    for nprobe in args.nprobe:
        index.nprobe = nprobe
        index.search(queries[:5], args.k)  # warm-up
        ms, rows = _latencies(lambda q: index.search(q, args.k)[1], queries)
        median, p95 = _summary(ms)
        found = (rows[:, :, None] == exact_rows[:, None, :]).any(dim=2).float().mean()
        print(f"| faiss IVF nlist={index.nlist} nprobe={nprobe} | {median:.3f} | {p95:.3f} "
              f"| {exact_median / median:.0f} | {float(found):.3f} |")  # fmt: skip
    print(f"peak memory {peak_memory_mib():.0f} MiB")
