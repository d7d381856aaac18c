"""The console scripts (``heco-train``, ``heco-prepare``, ``heco-evaluate``,
``heco-recommend``): ``--help`` and ``--info`` are answered from the configs and the schema
before the command's module is imported (torch, PyG and the rest: seconds), then the
command's own entry point runs. ``python -m heco_pyg.train`` runs the same entry point,
after its imports."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import heco_pyg.cli.openmp  # noqa: F401  (before the command's torch import)
from heco_pyg.cli.command import answer_early


def _launch(command: str) -> Any:
    if answer_early(command, sys.argv[1:]):
        return None
    return importlib.import_module(f"heco_pyg.{command}").main()


def train() -> Any:
    return _launch("train")


def prepare() -> Any:
    return _launch("prepare")


def evaluate() -> Any:
    return _launch("evaluate")


def recommend() -> Any:
    return _launch("recommend")
