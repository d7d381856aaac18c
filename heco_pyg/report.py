"""A local report of a run or a sweep, from its files alone (no wandb):
``python -m heco_pyg.report DIR [--format html|md] [--output PATH]``.

A run dir (its history and metrics): loss curves, attention weights over the
epochs, embedding diagnostics over the epochs when logged, the metrics table. A sweep dir
(run folders with ``.hydra/overrides.yaml``): the sweep summary table and heatmap
(:mod:`heco_pyg.runs.sweep`), every run's loss curve and attention weights over the epochs.
HTML embeds its figures (one self-contained file); markdown writes them into
``<name>_files/`` beside it.
"""

from __future__ import annotations

import heco_pyg.cli.openmp  # noqa: F401  (first: before torch loads OpenMP)

# isort: split
import argparse
from collections.abc import Sequence
from pathlib import Path

from heco_pyg.cli.command import command_errors
from heco_pyg.runs.document import write_report
from heco_pyg.runs.naming import find_run


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m heco_pyg.report", description=__doc__.split(
        "\n")[0])  # fmt: skip
    parser.add_argument("directory", type=Path, help="a run dir or a sweep dir")
    parser.add_argument("--format", choices=["html", "md"], default="html")
    parser.add_argument("--output", type=Path, default=None,
                        help="report path (default: DIR/report.<format>)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        with command_errors():  # an unfinished or changed run: one line, exit 1
            path = write_report(find_run(args.directory), args.format, args.output)
    except FileNotFoundError as error:
        parser.error(str(error))
    print(path)
    return path


def cli() -> None:
    """The ``heco-report`` console script (``main`` returns the path, for callers)."""
    main()


if __name__ == "__main__":
    cli()
