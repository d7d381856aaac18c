"""Reproduce the HeCo paper's table: N pre-training seeds per dataset, mean and std across seeds.

    python scripts/reproduce.py run --datasets acm dblp --seeds 0 1 2 \\
        --output-dir outputs/reproduce -- paths.data_dir=/work/shared/data
    python scripts/reproduce.py summarise --output-dir outputs/reproduce --datasets acm dblp

``run`` trains ``experiment=heco_<dataset>`` once per seed (each run evaluates itself with
the paper's protocol, :mod:`heco_pyg.evaluation.protocol`) into
``<output-dir>/<dataset>/seed_<seed>``, measuring wall time and peak memory of every run
(a finished run dir is kept; an interrupted or killed one is resumed);
``summarise`` reads those run dirs and writes ``summary.json`` and ``summary.md``: per
metric and label rate, the mean over seeds of the 50-repetition means, the std across
seeds, and the paper's number beside it. Pass ``--lock FILE`` to serialise runs with
other CPU-heavy jobs (``flock``).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from heco_pyg.runs.atomic import write_atomic
from heco_pyg.runs.run_dir import RunDir

ROOT = Path(__file__).resolve().parents[1]
RATES = ("20", "40", "60")
METRICS = {"macro_f1": "Macro-F1", "micro_f1": "Micro-F1", "auc": "AUC"}
# HeCo (Wang et al., KDD 2021), %: classification as in shared/data/heco/README.md; NMI/ARI
# from the paper's clustering table (not in that README: check against the paper).
PAPER = {
    "acm": {"macro_f1": (88.56, 87.61, 89.04), "micro_f1": (88.13, 87.45, 88.71),
            "auc": (96.49, 96.40, 96.55), "nmi": 56.87, "ari": 56.94},
    "dblp": {"macro_f1": (91.28, 90.34, 90.64), "micro_f1": (91.97, 90.76, 91.59),
             "auc": (98.32, 98.06, 98.59), "nmi": 74.51, "ari": 80.17},
}  # fmt: skip


@contextmanager
def optional_lock(path: str | None):
    if not path:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def train_one(dataset: str, seed: int, run_dir: Path, overrides: list[str], lock: str | None):
    """One training run in a child process; returns its wall time and peak memory.
    ``trainer.resume=true``: an interrupted or killed run continues, a new one starts."""
    command = [sys.executable, "-m", "heco_pyg.train", f"experiment=heco_{dataset}",
               f"seed={seed}", f"hydra.run.dir={run_dir}", "trainer.progress=false",
               "trainer.resume=true", *overrides]  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    with optional_lock(lock), open(run_dir / "stdout.log", "w") as log:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"training failed: {' '.join(command)} (see {run_dir / 'stdout.log'})")
    resources = {"wall_seconds": seconds, "peak_memory_mib": usage.ru_maxrss / 1024}
    write_atomic(run_dir / "resources.json", json.dumps(resources, indent=2))
    return resources


def read_run(run_dir: Path) -> dict:
    run = RunDir(run_dir)  # refuses an unfinished run or one whose files changed
    evaluation, metrics = run.evaluation("eval"), run.metrics()
    resources_path = run_dir / "resources.json"
    resources = json.loads(resources_path.read_text()) if resources_path.is_file() else {}
    return {"eval": evaluation, "metrics": metrics, "resources": resources}


def summarise_dataset(dataset: str, run_dirs: list[Path]) -> dict:
    """Mean and std across seeds of every protocol number, plus training facts."""
    runs = [read_run(d) for d in run_dirs]
    summary = {"runs": [str(d) for d in run_dirs], "classification": {}, "clustering": {}}
    for metric in METRICS:
        for rate in RATES:
            values = [100 * r["eval"]["classification"][rate][metric]["mean"] for r in runs]
            within = [100 * r["eval"]["classification"][rate][metric]["std"] for r in runs]
            summary["classification"][f"{metric}_{rate}"] = {
                "mean": float(np.mean(values)), "std_across_seeds": float(np.std(values)),
                "mean_std_within_run": float(np.mean(within)), "per_seed": values,
            }  # fmt: skip
    for metric in ("nmi", "ari"):
        values = [100 * r["eval"]["clustering"][metric] for r in runs]
        summary["clustering"][metric] = {"mean": float(np.mean(values)),
                                         "std_across_seeds": float(np.std(values))}  # fmt: skip
    facts = {
        "seconds_per_epoch": [r["metrics"].get("seconds_per_epoch") for r in runs],
        "epochs": [r["metrics"].get("epochs") for r in runs],
        "best_epoch": [r["metrics"].get("best_epoch") for r in runs],
        "wall_seconds": [r["resources"].get("wall_seconds") for r in runs],
        "peak_memory_mib": [r["resources"].get("peak_memory_mib") for r in runs],
    }
    summary["training"] = facts
    return summary


FACT_FORMATS = {"seconds_per_epoch": ".3f", "epochs": "d", "best_epoch": "d",
                "wall_seconds": ".0f", "peak_memory_mib": ".0f"}  # fmt: skip


def _format(value, fmt: str) -> str:
    return format(value, fmt) if value is not None else "?"


def markdown(dataset: str, summary: dict) -> str:
    paper = PAPER.get(dataset, {})
    seeds = len(summary["runs"])
    lines = [f"### {dataset.upper()} ({seeds} pre-training seeds)", "",
             "| metric | rate | this project (mean ± std across seeds) | paper | diff |",
             "|---|---|---|---|---|"]  # fmt: skip
    for metric, label in METRICS.items():
        for position, rate in enumerate(RATES):
            cell = summary["classification"][f"{metric}_{rate}"]
            reference = paper.get(metric, (None,) * 3)[position]
            diff = f"{cell['mean'] - reference:+.2f}" if reference is not None else ""
            ours = f"{cell['mean']:.2f} ± {cell['std_across_seeds']:.2f}"
            paper_cell = reference if reference is not None else ""
            lines.append(f"| {label} | {rate} | {ours} | {paper_cell} | {diff} |")
    for metric in ("nmi", "ari"):
        cell = summary["clustering"][metric]
        reference = paper.get(metric)
        diff = f"{cell['mean'] - reference:+.2f}" if reference is not None else ""
        ours = f"{cell['mean']:.2f} ± {cell['std_across_seeds']:.2f}"
        paper_cell = reference if reference is not None else ""
        lines.append(f"| {metric.upper()} | - | {ours} | {paper_cell} | {diff} |")
    facts = summary["training"]
    lines += [
        "",
        "| seed run | s/epoch | epochs (best) | wall s | peak MiB |",
        "|---|---|---|---|---|",
    ]
    for i, run in enumerate(summary["runs"]):
        value = {key: _format(facts[key][i], fmt) for key, fmt in FACT_FORMATS.items()}
        lines.append(f"| {Path(run).name} | {value['seconds_per_epoch']} | {value['epochs']} "
                     f"({value['best_epoch']}) | {value['wall_seconds']} | "
                     f"{value['peak_memory_mib']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def summarise(output_dir: Path, datasets: list[str]) -> str:
    report, text = {}, []
    for dataset in datasets:
        run_dirs = sorted(
            p for p in (output_dir / dataset).glob("seed_*") if (p / "eval.json").is_file()
        )
        if not run_dirs:
            print(f"{dataset}: no finished runs under {output_dir / dataset}", file=sys.stderr)
            continue
        report[dataset] = summarise_dataset(dataset, run_dirs)
        text.append(markdown(dataset, report[dataset]))
    (output_dir / "summary.json").write_text(json.dumps(report, indent=2))
    (output_dir / "summary.md").write_text("\n".join(text))
    return "\n".join(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["run", "summarise"])
    parser.add_argument("--datasets", nargs="+", default=["acm", "dblp"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "outputs" / "reproduce")
    parser.add_argument("--lock", default=None, help="flock this file around every run")
    args, overrides = parser.parse_known_args(argv)  # the rest: Hydra overrides (after --)
    args.overrides = [o for o in overrides if o != "--"]
    if args.action == "run":
        for dataset in args.datasets:
            for seed in args.seeds:
                run_dir = (args.output_dir / dataset / f"seed_{seed}").resolve()
                if RunDir(run_dir).status() == "complete":
                    print(f"{dataset} seed {seed}: already trained -> {run_dir}")
                    continue
                resources = train_one(dataset, seed, run_dir, args.overrides, args.lock)
                print(f"{dataset} seed {seed}: {resources['wall_seconds']:.0f} s, "
                      f"{resources['peak_memory_mib']:.0f} MiB -> {run_dir}")  # fmt: skip
    print(summarise(args.output_dir, args.datasets))


if __name__ == "__main__":
    main()
