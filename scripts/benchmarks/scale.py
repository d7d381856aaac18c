"""Scaling of mini-batch training with the graph: build time, seconds per epoch and peak
memory at 10k, 100k and 1M synthetic papers, the fitted exponent of epoch time vs edges,
and the full-batch vs mini-batch crossover.

    python scripts/bench.py scale --papers 10000 100000 1000000
    python scripts/bench.py scale --papers 1000000 10000000 --build-only

``--build-only``: the graph build alone (generator, meta-paths, positives; out of core
from 20,000 papers), then, with ``--load-step``, one mini-batch training step on it (and
the resident memory after ``model.prepare``: anonymous, and pages of mapped files).

Every measurement runs in its own process, so peak memory is that run's alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--papers", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--crossover",
        type=int,
        nargs="*",
        default=[2_000, 5_000, 10_000, 20_000],
        help="sizes at which full batch and mini-batch epochs are compared",
    )
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--metapath-sample-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--max-hub-degree",
        type=hub_degree,
        default="auto",
        help="authors/concepts on more papers are left out of PAP/PCP (auto: the build's own "
        "choice from the degrees; none: no cap)",
    )
    parser.add_argument("--build-only", action="store_true", help="measure the build alone")
    parser.add_argument(
        "--load-step",
        action="store_true",
        help="with --build-only: also one mini-batch step on the built graph",
    )
    parser.add_argument("--worker", nargs=2, metavar=("PAPERS", "MODE"), help=argparse.SUPPRESS)


def hub_degree(text: str) -> int | str | None:
    """``auto``, ``none`` or a number of papers."""
    return None if text == "none" else text if text == "auto" else int(text)


def sizes(papers: int) -> dict:
    """The issue's 1M-paper graph (2M authors, 60k concepts), scaled down linearly."""
    return dict(num_papers=papers, num_authors=2 * papers,
                num_concepts=max(1_200, 60_000 * papers // 1_000_000), num_fields=10)  # fmt: skip


def worker(papers: int, mode: str, args: argparse.Namespace) -> dict:
    from benchmarks._common import peak_memory_mib
    from heco_pyg.data import load_synthetic
    from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
    from heco_pyg.nn import HeCo
    from heco_pyg.training.loss import HeCoLoss
    from heco_pyg.training.trainer import Trainer

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")  # phases: stderr
    start = time.perf_counter()
    data = load_synthetic(
        preparation={
            "sample_sizes": {"author": 6, "concept": 8},
            "max_hub_degree": args.max_hub_degree,
        },
        **sizes(papers),
    )
    build = time.perf_counter() - start
    build_memory = peak_memory_mib()
    edges = sum(data[t].edge_index.size(1) for t in data.edge_types if t[1] in ("to", "PAP", "PCP"))
    if mode == "build":
        return {"papers": papers, "mode": mode, "edges": edges, "build_seconds": build,
                "build_peak_mib": build_memory, "phase_seconds": data.phase_seconds,
                "caps": {n: s["max_hub_degree"] for n, s in data.metapath_stats.items()},
                **(one_step(data, args) if args.load_step else {})}  # fmt: skip
    minibatch = mode == "minibatch"
    model = HeCo(**model_arguments(data), sparse_embeddings=minibatch,
                 metapath_sample_size=args.metapath_sample_size if minibatch else None)  # fmt: skip
    inputs = model.prepare(**model_inputs(data))
    trainer = Trainer(max_epochs=1, batch_size=args.batch_size if minibatch else None,
                      device="cpu", progress=False)  # fmt: skip
    trainer.fit(model, HeCoLoss(), inputs, positive_index(data))
    return {
        "papers": papers, "mode": mode, "edges": edges, "build_seconds": build,
        "build_peak_mib": build_memory, "epoch_seconds": trainer.history[0].seconds,
        "peak_mib": peak_memory_mib(),
    }  # fmt: skip


def one_step(data, args: argparse.Namespace) -> dict:
    """Seconds and peak memory of ``model.prepare`` and one mini-batch step (forward,
    loss, backward) on a built graph, as the trainer runs it."""
    from benchmarks._common import peak_memory_mib, resident_memory_mib
    from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
    from heco_pyg.nn import HeCo
    from heco_pyg.training.batches import PositiveIndex, random_batches
    from heco_pyg.training.loss import HeCoLoss
    from heco_pyg.training.objective import Objective

    start = time.perf_counter()
    model = HeCo(**model_arguments(data), sparse_embeddings=True,
                 metapath_sample_size=args.metapath_sample_size)  # fmt: skip
    inputs = model.prepare(**model_inputs(data))
    positives = PositiveIndex(positive_index(data), data[data.target].num_nodes)
    prepared = time.perf_counter() - start
    resident = resident_memory_mib()
    index = random_batches(data[data.target].num_nodes, args.batch_size,
                           torch.Generator().manual_seed(0))[0]  # fmt: skip
    parts, _ = Objective(model, HeCoLoss())(inputs, index, positives.batch(index))
    parts.loss.backward()
    return {"prepare_seconds": prepared, "step_seconds": time.perf_counter() - start - prepared,
            "step_loss": float(parts.loss), "step_peak_mib": peak_memory_mib(),
            "prepared_resident_mib": resident}  # fmt: skip


def measure(papers: int, mode: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, str(Path(__file__).parents[1] / "bench.py"), "scale", "--worker",
               str(papers), mode, "--batch-size", str(args.batch_size), "--metapath-sample-size",
               str(args.metapath_sample_size), "--threads", str(args.threads),
               "--max-hub-degree", str(args.max_hub_degree).lower()]  # fmt: skip
    if args.load_step:
        command.append("--load-step")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return {"papers": papers, "mode": mode, "error": result.stderr.strip().splitlines()[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> None:
    if args.worker:
        print(json.dumps(worker(int(args.worker[0]), args.worker[1], args)))
        return
    from benchmarks._common import machine

    print(f"machine: {machine()}; batch {args.batch_size}, meta-path sample "
          f"{args.metapath_sample_size}, {args.threads} thread(s) per run, max hub degree "
          f"{args.max_hub_degree}")  # fmt: skip
    if args.build_only:
        build_table(args)
        return
    print("| papers | edges (schema + meta-path) | build s | build peak MiB | mini-batch s/epoch "
          "| peak MiB |\n|---|---|---|---|---|---|")  # fmt: skip
    rows = []
    for papers in args.papers:
        row = measure(papers, "minibatch", args)
        if "error" in row:
            print(f"| {papers} | failed: {row['error']} |")
            continue
        rows.append(row)
        print(f"| {papers:,} | {row['edges']:,} | {row['build_seconds']:.1f} | "
              f"{row['build_peak_mib']:.0f} | {row['epoch_seconds']:.2f} | {row['peak_mib']:.0f} |",
              flush=True)  # fmt: skip
    if len(rows) >= 2:
        slope = np.polyfit(np.log([r["edges"] for r in rows]),
                           np.log([r["epoch_seconds"] for r in rows]), 1)[0]  # fmt: skip
        print(f"\nfitted exponent of mini-batch epoch time vs edges: {slope:.2f}")
    print(
        "\n| papers | full-batch s/epoch | mini-batch s/epoch | full-batch peak MiB |"
        "\n|---|---|---|---|"
    )
    for papers in args.crossover:
        full, mini = measure(papers, "full", args), measure(papers, "minibatch", args)
        cell = lambda r, k: f"{r[k]:.2f}" if k in r else r.get("error", "?")  # noqa: E731
        print(f"| {papers:,} | {cell(full, 'epoch_seconds')} | {cell(mini, 'epoch_seconds')} | "
              f"{full.get('peak_mib', float('nan')):.0f} |", flush=True)  # fmt: skip


def build_table(args: argparse.Namespace) -> None:
    """One row per size: build seconds and peak memory, each size in its own process."""
    print("| papers | edges (schema + meta-path) | PAP/PCP hub caps | build s | build peak MiB "
          "| slowest phases (s) |\n|---|---|---|---|---|---|")  # fmt: skip
    for papers in args.papers:
        row = measure(papers, "build", args)
        if "error" in row:
            print(f"| {papers:,} | failed: {row['error']} |", flush=True)
            continue
        phases = sorted(row["phase_seconds"].items(), key=lambda item: -item[1])[:4]
        caps = "/".join(str(cap) for cap in row["caps"].values())
        print(f"| {papers:,} | {row['edges']:,} | {caps} | {row['build_seconds']:.0f} | "
              f"{row['build_peak_mib']:.0f} | "
              f"{', '.join(f'{name} {seconds:.0f}' for name, seconds in phases)} |",
              flush=True)  # fmt: skip
        if args.load_step:
            resident = ", ".join(f"{kind} {mib:.0f}"
                                 for kind, mib in row["prepared_resident_mib"].items())  # fmt: skip
            print(f"  load + one mini-batch step: model.prepare {row['prepare_seconds']:.1f} s, "
                  f"step {row['step_seconds']:.1f} s, peak {row['step_peak_mib']:.0f} MiB "
                  f"(resident after prepare, MiB: {resident or 'not known'})",
                  flush=True)  # fmt: skip
