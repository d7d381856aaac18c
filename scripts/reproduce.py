"""Reproduce the HeCo paper's table: N pre-training seeds per dataset, mean and std across seeds.

    python scripts/reproduce.py run --recipe stable --datasets acm dblp --seeds 0 1 2 \\
        --output-dir outputs/reproduce -- paths.data_dir=/work/shared/data
    python scripts/reproduce.py summarise --recipe stable --output-dir outputs/reproduce \\
        --datasets acm dblp -- paths.data_dir=/work/shared/data

``run`` trains ``experiment=heco_<dataset>`` (``--recipe official``, the release's
hyper-parameters) or ``experiment=heco_<dataset>_stable`` (``--recipe stable``: the same
plus the trainer's stabiliser) once per seed, each run evaluating itself with the paper's
protocol (:mod:`heco_pyg.evaluation.protocol`), into ``<output-dir>/<dataset>/seed_<seed>``
(official) or ``<output-dir>/<dataset>_stable/seed_<seed>``, measuring wall time and peak
memory of every run (a finished run dir is kept; an interrupted or killed one is
resumed). ``summarise`` reads those run dirs and writes ``summary.json`` and
``summary.md``: per metric and label rate, the mean over seeds of the 50-repetition means,
the sample std across seeds, the 95 % confidence interval of the mean (Student's t), the
paper's number beside it, and every seed; NMI/ARI with the paper's clustering protocol
(:func:`paper_clustering`). Pass ``--lock FILE`` to serialise runs with other CPU-heavy
jobs (``flock``).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from heco_pyg.core.atomic import write_atomic
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


def experiment(dataset: str, recipe: str) -> str:
    return f"heco_{dataset}" if recipe == "official" else f"heco_{dataset}_{recipe}"


def runs_folder(output_dir: Path, dataset: str, recipe: str) -> Path:
    return output_dir / (dataset if recipe == "official" else f"{dataset}_{recipe}")


def train_one(dataset: str, seed: int, run_dir: Path, overrides: list[str], lock: str | None,
              recipe: str = "official"):  # fmt: skip
    """One training run in a child process; returns its wall time and peak memory.
    ``trainer.resume=true``: an interrupted or killed run continues, a new one starts."""
    command = [sys.executable, "-m", "heco_pyg.train", f"experiment={experiment(dataset, recipe)}",
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
    # CPU seconds of the child: on a shared machine a fairer measure than the wall time.
    resources = {"wall_seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                 "peak_memory_mib": usage.ru_maxrss / 1024}  # fmt: skip
    write_atomic(run_dir / "resources.json", json.dumps(resources, indent=2))
    return resources


def read_run(run_dir: Path) -> dict:
    run = RunDir(run_dir)  # refuses an unfinished run or one whose files changed
    evaluation, metrics = run.evaluation("eval"), run.metrics()
    resources_path = run_dir / "resources.json"
    resources = json.loads(resources_path.read_text()) if resources_path.is_file() else {}
    return {"eval": evaluation, "metrics": metrics, "resources": resources}


def paper_clustering(embeddings: np.ndarray, labels: np.ndarray, runs: int = 10) -> dict:
    """The paper's clustering protocol: ``KMeans(n_clusters=#classes, random_state=0)`` on
    the (L2-normalised) meta-path embeddings, ``runs`` times, NMI and ARI averaged.

    ``n_init=10`` is scikit-learn's default when HeCo was published (now ``"auto"``, i.e. 1).
    With a fixed ``random_state`` the runs agree; the loop keeps the protocol as described.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    k = len(np.unique(labels))
    nmi, ari = [], []
    for _ in range(runs):
        predicted = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(embeddings)
        nmi.append(normalized_mutual_info_score(labels, predicted))
        ari.append(adjusted_rand_score(labels, predicted))
    return {"nmi": float(np.mean(nmi)), "ari": float(np.mean(ari))}


def statistics(values: list[float]) -> dict:
    """Mean, sample std (ddof 1) and the 95 % t-interval of the mean across seeds; with
    one seed there is no spread to tell: std and interval are ``None``."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return {"mean": mean, "std_across_seeds": None, "ci95": None,
                "per_seed": values.tolist()}  # fmt: skip
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.975, len(values) - 1) * std / math.sqrt(len(values)))
    return {"mean": mean, "std_across_seeds": std, "ci95": (mean - half, mean + half),
            "per_seed": values.tolist()}  # fmt: skip


def summarise_dataset(dataset: str, run_dirs: list[Path], labels: np.ndarray | None = None) -> dict:
    """Mean, std and 95 % CI across seeds of every protocol number, plus training facts.

    With ``labels``, NMI/ARI follow :func:`paper_clustering` on each run's saved meta-path
    embeddings; without, the runs' own ``eval.json`` clustering numbers are used."""
    runs = [read_run(d) for d in run_dirs]
    summary = {"runs": [str(d) for d in run_dirs], "classification": {}, "clustering": {}}
    for metric in METRICS:
        for rate in RATES:
            values = [100 * r["eval"]["classification"][rate][metric]["mean"] for r in runs]
            within = [100 * r["eval"]["classification"][rate][metric]["std"] for r in runs]
            summary["classification"][f"{metric}_{rate}"] = statistics(values) | {
                "mean_std_within_run": float(np.mean(within))}  # fmt: skip
    if labels is not None:
        clusterings = [paper_clustering(np.load(d / "embeddings" / "semantic.npy"), labels)
                       for d in run_dirs]  # fmt: skip
        summary["clustering_protocol"] = "KMeans(n_clusters=K, n_init=10, random_state=0) x10"
    else:
        clusterings = [r["eval"]["clustering"] for r in runs]
        summary["clustering_protocol"] = "eval.json (heco_pyg.evaluation.probe.clustering_scores)"
    for metric in ("nmi", "ari"):
        summary["clustering"][metric] = statistics([100 * c[metric] for c in clusterings])
    facts = {
        "seconds_per_epoch": [r["metrics"].get("seconds_per_epoch") for r in runs],
        "epochs": [r["metrics"].get("epochs") for r in runs],
        "best_epoch": [r["metrics"].get("best_epoch") for r in runs],
        "wall_seconds": [r["resources"].get("wall_seconds") for r in runs],
        "cpu_seconds": [r["resources"].get("cpu_seconds") for r in runs],
        "peak_memory_mib": [r["resources"].get("peak_memory_mib") for r in runs],
    }
    summary["training"] = facts
    return summary


FACT_FORMATS = {"seconds_per_epoch": ".3f", "epochs": "d", "best_epoch": "d",
                "wall_seconds": ".0f", "cpu_seconds": ".0f", "peak_memory_mib": ".0f"}  # fmt: skip


def _format(value, fmt: str) -> str:
    return format(value, fmt) if value is not None else "?"


def _row(label: str, rate: str, cell: dict, reference: float | None) -> str:
    diff = f"{cell['mean'] - reference:+.2f}" if reference is not None else ""
    seeds = " / ".join(f"{v:.2f}" for v in cell["per_seed"])
    if cell["ci95"] is None:  # one seed: no spread across seeds
        spread, interval = f"{cell['mean']:.2f} (one seed)", "-"
    else:
        low, high = cell["ci95"]
        spread = f"{cell['mean']:.2f} ± {cell['std_across_seeds']:.2f}"
        interval = f"[{low:.2f}, {high:.2f}]"
    return (f"| {label} | {rate} | {spread} | {interval} | "
            f"{reference if reference is not None else ''} | {diff} | {seeds} |")  # fmt: skip


def markdown(dataset: str, summary: dict, recipe: str = "official") -> str:
    paper = PAPER.get(dataset, {})
    seeds = len(summary["runs"])
    names = ", ".join(Path(run).name for run in summary["runs"])
    counted = f"{seeds} pre-training seed" + ("s" if seeds != 1 else "")
    lines = [f"### {dataset.upper()}, {recipe} recipe ({counted}: {names})", "",
             "| metric | rate | mean ± std across seeds | 95 % CI | paper | diff | per seed |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for metric, label in METRICS.items():
        for position, rate in enumerate(RATES):
            reference = paper.get(metric, (None,) * 3)[position]
            lines.append(_row(label, rate, summary["classification"][f"{metric}_{rate}"],
                              reference))  # fmt: skip
    for metric in ("nmi", "ari"):
        lines.append(_row(metric.upper(), "-", summary["clustering"][metric], paper.get(metric)))
    lines += ["", f"Clustering: {summary['clustering_protocol']}."]
    facts = summary["training"]
    lines += [
        "",
        "| seed run | s/epoch | epochs (best) | wall s | CPU s | peak MiB |",
        "|---|---|---|---|---|---|",
    ]
    for i, run in enumerate(summary["runs"]):
        value = {key: _format(facts[key][i], fmt) for key, fmt in FACT_FORMATS.items()}
        lines.append(f"| {Path(run).name} | {value['seconds_per_epoch']} | {value['epochs']} "
                     f"({value['best_epoch']}) | {value['wall_seconds']} | "
                     f"{value['cpu_seconds']} | {value['peak_memory_mib']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def read_labels(data_dir: Path | None, dataset: str) -> np.ndarray | None:
    path = data_dir / "heco" / dataset / "labels.npy" if data_dir else None
    return np.load(path).astype(int).reshape(-1) if path and path.is_file() else None


def summarise(output_dir: Path, datasets: list[str], recipe: str = "official",
              data_dir: Path | None = None) -> str:  # fmt: skip
    report, text = {}, []
    for dataset in datasets:
        folder = runs_folder(output_dir, dataset, recipe)
        run_dirs = sorted((p for p in folder.glob("seed_*") if (p / "eval.json").is_file()),
                          key=lambda p: int(p.name.split("_")[1]))  # fmt: skip
        if not run_dirs:
            print(f"{dataset}: no finished runs under {folder}", file=sys.stderr)
            continue
        report[dataset] = summarise_dataset(dataset, run_dirs, read_labels(data_dir, dataset))
        text.append(markdown(dataset, report[dataset], recipe))
    name = "summary" if recipe == "official" else f"summary_{recipe}"
    (output_dir / f"{name}.json").write_text(json.dumps(report, indent=2))
    (output_dir / f"{name}.md").write_text("\n".join(text))
    return "\n".join(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["run", "summarise"])
    parser.add_argument("--datasets", nargs="+", default=["acm", "dblp"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "outputs" / "reproduce")
    parser.add_argument("--recipe", default="official",
                        help="official: experiment=heco_<dataset>; stable (or any NAME): "
                             "experiment=heco_<dataset>_NAME")  # fmt: skip
    parser.add_argument("--lock", default=None, help="flock this file around every run")
    args, overrides = parser.parse_known_args(argv)  # the rest: Hydra overrides (after --)
    args.overrides = [o for o in overrides if o != "--"]
    data_dirs = [o.split("=", 1)[1] for o in args.overrides if o.startswith("paths.data_dir=")]
    data_dir = Path(data_dirs[-1]) if data_dirs else ROOT / "data"
    if args.action == "run":
        for dataset in args.datasets:
            for seed in args.seeds:
                folder = runs_folder(args.output_dir, dataset, args.recipe)
                run_dir = (folder / f"seed_{seed}").resolve()
                if RunDir(run_dir).status() == "complete":
                    print(f"{dataset} seed {seed}: already trained -> {run_dir}")
                    continue
                resources = train_one(dataset, seed, run_dir, args.overrides, args.lock,
                                      args.recipe)  # fmt: skip
                print(f"{dataset} seed {seed}: {resources['wall_seconds']:.0f} s, "
                      f"{resources['peak_memory_mib']:.0f} MiB -> {run_dir}",
                      flush=True)  # fmt: skip
    print(summarise(args.output_dir, args.datasets, args.recipe, data_dir))


if __name__ == "__main__":
    main()
