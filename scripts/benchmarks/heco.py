"""HeCo on a paper benchmark: seconds per full-batch epoch at 1 and 2 threads, peak memory.

    python scripts/bench.py heco --dataset acm --data-dir ../shared/data --threads 1 2

Builds ``experiment=heco_<dataset>`` exactly as training does, then times full-batch
training steps (forward, loss, backward, Adam step) after warm-up, once per thread count,
and reports the ratio to the official code's seconds per epoch measured on the same
machine (``--official-seconds``, one per thread count). ``--override`` passes Hydra
overrides (e.g. ``~model.factorised_metapaths`` to time the plain sparse PSP).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from benchmarks._common import machine, peak_memory_mib
from heco_pyg.data.graph import model_arguments, model_inputs, positive_index

CONFIG_DIR = Path(__file__).resolve().parents[2] / "heco_pyg" / "conf"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="acm", help="acm, dblp, aminer or freebase")
    parser.add_argument("--data-dir", default=None,
                        help="the folder holding the official HeCo datasets (default: ./data, "
                             "as the commands' paths.data_dir)")  # fmt: skip
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=10, help="timed epochs per thread count")
    parser.add_argument("--warmup", type=int, default=2, help="untimed epochs first")
    parser.add_argument("--official-seconds", type=float, nargs="*", default=[2.15, 1.46],
                        help="official s/epoch per thread count (ACM, this machine)")  # fmt: skip
    parser.add_argument("--override", nargs="*", default=[], help="Hydra overrides")


def run(args: argparse.Namespace) -> None:
    data_dir = args.data_dir or Path.cwd() / "data"  # as paths.data_dir of a command
    overrides = [f"experiment=heco_{args.dataset}", f"paths.data_dir={data_dir}", *args.override]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    torch.manual_seed(cfg.seed)
    start = time.perf_counter()
    data = instantiate(cfg.data, _convert_="all")
    model = instantiate(cfg.model, **model_arguments(data))
    loss_fn = instantiate(cfg.loss)
    inputs = model.prepare(**model_inputs(data))
    positives = positive_index(data)
    setup = time.perf_counter() - start
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.trainer.lr)
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        output = model(inputs)
        loss_fn(model.head(output.semantic), model.head(output.schema), positives).loss.backward()
        optimizer.step()

    print(f"machine: {machine()}")
    print(f"command overrides: {' '.join(overrides)}")
    print(f"load + prepare: {setup:.2f} s")
    official = dict(zip(args.threads, args.official_seconds, strict=False))
    for threads in args.threads:
        torch.set_num_threads(threads)
        for _ in range(args.warmup):
            step()
        seconds = []
        for _ in range(args.epochs):
            begin = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - begin)
        median = statistics.median(seconds)
        line = (f"threads={threads}: {median:.3f} s/epoch "
                f"(median of {args.epochs}, min {min(seconds):.3f})")  # fmt: skip
        if threads in official:
            line += f", {official[threads] / median:.1f}x the official {official[threads]} s"
        print(line)
    print(f"peak memory (RSS): {peak_memory_mib():.0f} MiB")
