"""Benchmarks; results go to BENCHMARKS.md with the exact command and machine.

    python scripts/bench.py epoch --help

Each subcommand lives in ``scripts/benchmarks/<name>.py`` with ``add_arguments(parser)``
and ``run(args)``. Run heavy benchmarks one at a time: on 2 cores, concurrent jobs lie.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchmarks  # noqa: E402


def first_paragraph(text: str | None) -> str:
    """A docstring's first paragraph as one line (the whole first sentence, not its first
    physical line)."""
    return " ".join((text or "").strip().split("\n\n")[0].split())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for module_info in pkgutil.iter_modules(benchmarks.__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"benchmarks.{module_info.name}")
        sub = commands.add_parser(module_info.name, help=first_paragraph(module.__doc__),
                                  description=module.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
