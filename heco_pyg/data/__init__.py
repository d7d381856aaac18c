"""Data sources, each returning the same HeCo graph shape (see :mod:`heco_pyg.data.graph`);
the loaders the ``data`` config group names live in :mod:`heco_pyg.data.loaders`."""

from heco_pyg.core.errors import DataError
from heco_pyg.data.artifacts import read_artifacts, write_artifacts
from heco_pyg.data.graph import build_graph
from heco_pyg.data.loaders import (
    OPENALEX_SAMPLE,
    build_data,
    load_citeulike,
    load_heco_benchmark,
    load_openalex,
    load_synthetic,
)
from heco_pyg.data.pipeline import prepare_paper_graph

__all__ = [
    "OPENALEX_SAMPLE",
    "DataError",
    "build_data",
    "build_graph",
    "load_citeulike",
    "load_heco_benchmark",
    "load_openalex",
    "load_synthetic",
    "prepare_paper_graph",
    "read_artifacts",
    "write_artifacts",
]
