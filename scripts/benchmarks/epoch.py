"""Seconds per epoch, epochs to convergence, quality and peak memory on a graph of the
notebook's shape (5,000 papers, 32,161 authors, 6,901 concepts, ~78k PA and ~164k PC
edges, complete stored PCP), optionally against the notebook's own loop implementation.

    python scripts/bench.py epoch --model heco_mean --threads 1 --notebook-baseline
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._common import machine, peak_memory_mib
from benchmarks._notebook import time_notebook_batches
from heco_pyg.data import load_openalex, write_artifacts
from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
from heco_pyg.data.synthetic import generate_synthetic
from heco_pyg.evaluation import collapse_diagnostics, probe_f1
from heco_pyg.nn import HeCo, HeCoMean
from heco_pyg.training.embedding import embed, view_embeddings
from heco_pyg.training.loss import HeCoLoss
from heco_pyg.training.trainer import Trainer

NOTEBOOK_SHAPE = dict(
    num_papers=5000, num_authors=32161, num_concepts=6901, num_fields=8,
    # Means before de-duplication, chosen to land on ~78k PA and ~164k PC edges.
    authors_per_paper=24.0, concepts_per_paper=44.0, generic_concepts_per_paper=4.0,
    feature_dim=832, concept_feature_dim=768, feature_signal=0.3,
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifacts", type=Path, help="artifacts folder (made if missing)")
    parser.add_argument("--model", choices=["heco_mean", "heco"], default="heco_mean")
    parser.add_argument("--batch-size", type=int, nargs="*", default=[0, 512],
                        help="0 = full batch")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-epochs", type=int, default=300)
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument(
        "--notebook-baseline",
        action="store_true",
        help="also time the notebook's loop implementation (needs ~5 GB)",
    )


def _notebook_inputs(root: Path) -> dict:
    def csr(edges, n):
        order = np.argsort(edges[:, 0], kind="stable")
        indptr = np.zeros(n + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(np.bincount(edges[:, 0], minlength=n))
        return torch.from_numpy(indptr), torch.from_numpy(edges[order, 1].astype(np.int64))

    n = 5000
    load = lambda name, key: np.load(root / name)[key]
    return {
        "xp": torch.from_numpy(load("features_papers.npz", "X")).float(),
        "xa": torch.eye(32161),  # the notebook's dense one-hot author matrix
        "xc": torch.from_numpy(load("features_concepts.npz", "X")).float(),
        "pa": csr(load("edges_PA.npz", "E"), n),
        "pc": csr(load("edges_PC.npz", "E"), n),
        "pap": tuple(torch.from_numpy(load("metapath_PAP.npz", k)) for k in ("indptr", "indices")),
        "pcp": tuple(torch.from_numpy(load("metapath_PCP.npz", k)) for k in ("indptr", "indices")),
    }


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    root = args.artifacts or Path(tempfile.mkdtemp()) / "notebook_shape"
    if not (root / "meta.json").exists():
        write_artifacts(generate_synthetic(**NOTEBOOK_SHAPE), root)
        # The notebook stored a complete PCP (every paper linked to every other).
        n = NOTEBOOK_SHAPE["num_papers"]
        indices = np.tile(np.arange(n), n).reshape(n, n)[~np.eye(n, dtype=bool)]
        np.savez(root / "metapath_PCP.npz", indptr=np.arange(n + 1) * (n - 1), indices=indices)
    start = time.perf_counter()
    preparation = {"sample_sizes": {"author": 6, "concept": 8}}
    data = load_openalex("artifacts", str(root), preparation=preparation)
    prepare_seconds = time.perf_counter() - start
    pa = data["paper", "to", "author"].edge_index.size(1)
    pc = data["paper", "to", "concept"].edge_index.size(1)
    print(f"machine: {machine()}")
    print(f"graph: {data['paper'].num_nodes} papers, {data['author'].num_nodes} authors, "
          f"{data['concept'].num_nodes} concepts, {pa} PA, {pc} PC edges; stored PCP density "
          f"{data.stored_metapath_density['PCP']:.3f}; load + meta-paths + positives "
          f"{prepare_seconds:.1f} s")  # fmt: skip
    for name, stats in data.metapath_stats.items():
        print(f"  {name}: density {stats['density_before']:.3f} -> {stats['density_after']:.4f}")
    labels = data["paper"].y.numpy()
    print(
        f"raw features probe micro-F1: {probe_f1(data['paper'].x.numpy(), labels)['micro_f1']:.3f}"
    )
    print("| model | batch | s/epoch | epochs to best | total s | fused micro-F1 | "
          "semantic micro-F1 | mean cosine (fused) | peak MiB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    results = {}
    for batch_size in args.batch_size:
        torch.manual_seed(0)
        model = (HeCoMean if args.model == "heco_mean" else HeCo)(**model_arguments(data))
        inputs = model.prepare(**model_inputs(data))
        trainer = Trainer(lr=0.001, max_epochs=args.max_epochs, patience=args.patience,
                          batch_size=batch_size or None, device="cpu", progress=False)  # fmt: skip
        start = time.perf_counter()
        trainer.fit(model, HeCoLoss(0.8, 0.5), inputs,
                    positive_index(data))  # fmt: skip
        total = time.perf_counter() - start
        seconds = float(np.median([r.seconds for r in trainer.history]))
        embeddings = view_embeddings(*embed(model, inputs)[:2])
        fused = probe_f1(embeddings["fused"], labels)["micro_f1"]
        semantic = probe_f1(embeddings["semantic"], labels)["micro_f1"]
        cosine = collapse_diagnostics(embeddings["fused"])["mean_cosine"]
        results[batch_size] = seconds
        print(f"| {args.model} | {batch_size or 'full'} | {seconds:.3f} | {trainer.best_epoch} | "
              f"{total:.1f} | {fused:.3f} | {semantic:.3f} | {cosine:.3f} | "
              f"{peak_memory_mib():.0f} |")  # fmt: skip
    if args.notebook_baseline:
        per_batch = time_notebook_batches(_notebook_inputs(root))
        per_epoch = per_batch * 10  # 5,000 papers in batches of 512
        print(f"notebook loop implementation: {per_batch:.2f} s per 512-paper batch, "
              f"{per_epoch:.1f} s per epoch")  # fmt: skip
        for batch_size, seconds in results.items():
            print(f"  speed-up ({args.model}, batch {batch_size or 'full'}): "
                  f"{per_epoch / seconds:.0f}x per epoch")  # fmt: skip
