"""GPU: seconds per epoch (full batch and mini-batch) and peak GPU memory on ACM and on a
1M-paper synthetic graph; one shot, for the day a GPU is lent.

    python scripts/bench.py gpu                                  # ACM, then 1M papers
    python scripts/bench.py gpu --graphs acm                     # ~1 minute
    python scripts/bench.py gpu --graphs synthetic --papers 1000000   # build ~5-8 min (CPU)

Without CUDA it prints why and measures nothing (exit 0); ``--device cpu`` runs the same
code on the CPU (CI uses it on a tiny graph). The graph is built on the CPU, the model's
one-off products run where the trainer would put them (``preparation_device``), and each
mode trains ``--epochs`` epochs; seconds per epoch is the median after the first (warm-up)
epoch, peak memory ``torch.cuda.max_memory_allocated`` of that mode alone. A mode that runs
out of GPU memory is a row that says so. Prints the Markdown rows for BENCHMARKS.md, "GPU".
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--graphs", nargs="*", choices=["acm", "synthetic"],
                        default=["acm", "synthetic"])  # fmt: skip
    parser.add_argument("--papers", type=int, default=1_000_000, help="the synthetic graph")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data",
                        help="holds heco/acm (ACM is skipped, saying so, without it)")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--metapath-sample-size", type=int, default=16)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (a dry run)")


def build(graph: str, args: argparse.Namespace):
    """The graph, built on the CPU as ``heco-train`` builds it."""
    from heco_pyg.data import load_synthetic

    if graph == "acm":
        from hydra import compose, initialize_config_module

        from heco_pyg.data import build_data

        with initialize_config_module("heco_pyg.conf", version_base="1.3"):
            cfg = compose("train", ["experiment=heco_acm", f"paths.data_dir={args.data_dir}"])
        return build_data(cfg.data)
    from benchmarks.scale import sizes

    preparation = {"sample_sizes": {"author": 6, "concept": 8}, "max_hub_degree": "auto"}
    return load_synthetic(preparation=preparation, **sizes(args.papers))


def measure(data, minibatch: bool, args: argparse.Namespace) -> dict:
    """Seconds per epoch and peak device memory of one training mode."""
    from heco_pyg.core.runtime import preparation_device
    from heco_pyg.data.graph import input_tensors, model_arguments, model_inputs, positive_index
    from heco_pyg.nn import HeCo
    from heco_pyg.training.loss import HeCoLoss
    from heco_pyg.training.trainer import Trainer

    cuda = args.device == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(0)
    model = HeCo(**model_arguments(data), sparse_embeddings=minibatch,
                 metapath_sample_size=args.metapath_sample_size if minibatch else None)  # fmt: skip
    start = time.perf_counter()
    prepare_on = preparation_device(torch.device(args.device), input_tensors(model_inputs(data)))
    inputs = model.prepare(**model_inputs(data, prepare_on))
    prepared = time.perf_counter() - start
    trainer = Trainer(max_epochs=args.epochs, batch_size=args.batch_size if minibatch else None,
                      device=args.device, progress=False, patience=args.epochs)  # fmt: skip
    trainer.fit(model, HeCoLoss(), inputs, positive_index(data))
    seconds = [r.seconds for r in trainer.history]
    return {
        "prepare_s": prepared,
        "epoch_s": statistics.median(seconds[1:] or seconds),
        "peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else float("nan"),
        "loss": trainer.history[-1].loss,
    }


def run(args: argparse.Namespace) -> None:
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu benchmark skipped: torch.cuda.is_available() is False (no GPU, or a CPU "
              "build of torch); `--device cpu` runs the same code on the CPU")  # fmt: skip
        return
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"device: {name}, torch {torch.__version__}")
    print("| graph | papers | mode | prepare s | s/epoch | peak GPU MiB | last loss |")
    print("|---|---|---|---|---|---|---|")
    for graph in args.graphs:
        if graph == "acm" and not (args.data_dir / "heco" / "acm").is_dir():
            print(f"| acm | | skipped: no {args.data_dir / 'heco' / 'acm'} | | | | |")
            continue
        data = build(graph, args)
        papers = data[data.target].num_nodes
        for minibatch in (False, True):
            mode = f"mini-batch {args.batch_size}" if minibatch else "full batch"
            try:
                r = measure(data, minibatch, args)
            except torch.cuda.OutOfMemoryError:
                print(f"| {graph} | {papers:,} | {mode} | out of GPU memory | | | |")
                continue
            print(f"| {graph} | {papers:,} | {mode} | {r['prepare_s']:.1f} | {r['epoch_s']:.3f} "
                  f"| {r['peak_mib']:,.0f} | {r['loss']:.4f} |")  # fmt: skip
