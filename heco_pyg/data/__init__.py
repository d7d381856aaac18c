"""Data sources, each returning the same HeCo graph shape (see :mod:`heco_pyg.data.graph`)."""

from __future__ import annotations

from torch_geometric.data import HeteroData

from heco_pyg.data.artifacts import read_artifacts, write_artifacts
from heco_pyg.data.graph import DataError, build_graph
from heco_pyg.data.heco_benchmark import load_heco_benchmark_graph
from heco_pyg.data.pipeline import prepare_paper_graph, split_preparation_arguments
from heco_pyg.data.synthetic import generate_synthetic

__all__ = [
    "DataError",
    "build_graph",
    "load_heco_benchmark",
    "load_openalex",
    "load_synthetic",
    "prepare_paper_graph",
    "read_artifacts",
    "write_artifacts",
]


def load_synthetic(name: str = "synthetic", **arguments) -> HeteroData:
    """``data=synthetic``: the generated graph, prepared for HeCo.

    ``arguments``: :func:`prepare_paper_graph`'s keywords (``sample_sizes``, ``pos_num``,
    pruning) and :func:`generate_synthetic`'s (sizes, ``seed``, ...).
    """
    preparation, generator_arguments = split_preparation_arguments(arguments)
    data = generate_synthetic(**generator_arguments)
    data.name = name
    return prepare_paper_graph(data, **preparation)


def load_openalex(source: str, path: str | None, name: str = "openalex", **arguments) -> HeteroData:
    """``data=openalex``: OpenAlex papers from ``source``.

    ``artifacts``: the notebook's folder; ``works`` (files of OpenAlex work records) and
    ``api`` (the live API): :func:`heco_pyg.data.openalex.ingest_works`, which takes the
    ``data.*`` keys that :func:`prepare_paper_graph` does not (``query``, ``concepts``,
    ``min_concept_score``, ``label``, ...).
    """
    preparation, ingest_arguments = split_preparation_arguments(arguments)
    if source == "artifacts":
        if not path:
            raise DataError("data.source=artifacts needs data.path=DIR (the artifacts folder)")
        data = read_artifacts(path)
    elif source in ("works", "api"):
        from heco_pyg.data.openalex import ingest_works

        data, _ = ingest_works(source, path, **ingest_arguments)
    else:
        raise DataError(f"unknown data.source={source!r}; expected one of: artifacts, works, api")
    data.name = name
    return prepare_paper_graph(data, **preparation)


def load_heco_benchmark(**config) -> HeteroData:
    """``data=acm|dblp|aminer|freebase``: an official HeCo dataset folder (see
    :func:`heco_pyg.data.heco_benchmark.load_heco_benchmark_graph` for the arguments)."""
    return load_heco_benchmark_graph(**config)
