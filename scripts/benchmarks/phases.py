"""CPU seconds (user + sys) of a training run by phase: the imports, each phase of the run's
summary (graph build, training, evaluation, ...), wandb's init, and the exit.

    python scripts/bench.py phases --repeats 3 -- model=heco data=synthetic trainer.threads=1

Runs ``python -m heco_pyg.train OVERRIDES`` (``WANDB_MODE=offline`` unless set) in a child
process that reads its own CPU time (``getrusage``) at every boundary of
:class:`heco_pyg.core.phases.Phases` and around ``Tracker.__init__`` (cut out of its phase);
``exit`` is the child's total as its parent sees it (the wandb-core process included) less
the last reading inside it. Each repetition gets its own run folder under ``--dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._common import machine

CHILD = Path(__file__).with_name("_phase_clock.py")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=1, help="runs, one after the other")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the run folders go (default: a temporary folder)")  # fmt: skip
    parser.add_argument("overrides", nargs="*", help="the train command's overrides")


def one_run(overrides: list[str], run_dir: Path) -> dict[str, float]:
    """CPU seconds by phase of one run of the train command."""
    clock = run_dir.with_suffix(".json")
    env = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", **os.environ}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, str(CHILD), str(clock), *overrides, f"hydra.run.dir={run_dir}"],
                   check=True, env=env, stdout=subprocess.DEVNULL)  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    phases = json.loads(clock.read_text())
    return phases | {"exit": total - sum(phases.values()), "total": total}


def run(args: argparse.Namespace) -> None:
    folder = args.dir or Path(tempfile.mkdtemp(prefix="heco_phases_"))
    runs = [one_run(args.overrides, folder / f"run{r}") for r in range(args.repeats)]
    print(f"{machine()}; python -m heco_pyg.train {' '.join(args.overrides)}; {folder}")
    print("| phase | CPU-s mean | range |\n|---|---|---|")
    for phase in runs[0]:
        values = [r.get(phase, 0.0) for r in runs]
        print(f"| {phase} | {statistics.mean(values):.2f} | {min(values):.2f}-{max(values):.2f} |")
