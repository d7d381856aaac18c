"""The loaders the ``data`` config group names (``_target_: heco_pyg.data.load_*``, re-exported
by :mod:`heco_pyg.data`), and :func:`build_data`, which instantiates one."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch_geometric.data import HeteroData

from heco_pyg.core.errors import DataError
from heco_pyg.core.phases import Phases
from heco_pyg.data.artifacts import read_artifacts
from heco_pyg.data.heco_benchmark import load_heco_benchmark_graph
from heco_pyg.data.pipeline import prepare_paper_graph
from heco_pyg.data.synthetic import generate_synthetic

#: ``data.source=sample``: 201 real OpenAlex works (CC0; sample/README.md), gzip JSON Lines.
OPENALEX_SAMPLE = Path(__file__).resolve().parent / "sample" / "openalex_works.jsonl.gz"


def build_data(data_config: DictConfig) -> HeteroData:
    """The graph a ``data`` config group describes (its ``_target_`` is one of the loaders
    below); a :class:`DataError` surfaces as itself, not wrapped by Hydra."""
    try:
        return instantiate(data_config, _convert_="all")
    except InstantiationException as error:
        if isinstance(error.__cause__, DataError):
            raise error.__cause__ from None
        raise


def load_synthetic(
    name: str = "synthetic", preparation: Mapping | None = None, **generator_arguments
) -> HeteroData:
    """``data=synthetic``: the generated graph, prepared for HeCo.

    Args:
        preparation: :func:`prepare_paper_graph`'s keywords (``sample_sizes``,
            ``pos_num``, meta-path pruning), ``data.preparation`` in the config.
        generator_arguments: :func:`generate_synthetic`'s (sizes, ``seed``, ...).
    """
    timer = Phases()
    with timer.phase("generator", generator_arguments.get("num_papers"), "papers"):
        data = generate_synthetic(**generator_arguments)
    data.name = name
    data.phase_seconds = dict(timer.seconds)
    return prepare_paper_graph(data, **dict(preparation or {}))


def load_openalex(
    source: str,
    path: str | None,
    name: str = "openalex",
    preparation: Mapping | None = None,
    **ingest_arguments,
) -> HeteroData:
    """``data=openalex``: OpenAlex papers from ``source``.

    ``artifacts``: the notebook's folder; ``works`` (files of OpenAlex work records),
    ``sample`` (:data:`OPENALEX_SAMPLE`, works read the same way) and ``api`` (the live
    API): :func:`heco_pyg.data.openalex.ingest.ingest_works`, which takes the
    other ``data.*`` keys (``query``, ``concepts``, ``min_concept_score``, ``label``, ...).
    ``preparation``: :func:`prepare_paper_graph`'s keywords (``data.preparation``).
    """
    if source == "artifacts":
        if not path:
            raise DataError("data.source=artifacts needs data.path=DIR (the artifacts folder)")
        data = read_artifacts(path)
    elif source in ("works", "api", "sample"):
        from heco_pyg.data.openalex.ingest import ingest_works

        if source == "sample":  # real works inside the package: trains anywhere, offline
            source, path = "works", str(OPENALEX_SAMPLE)
        data, _ = ingest_works(source, path, **ingest_arguments)
    else:
        raise DataError(f"unknown data.source={source!r}; expected one of: "
                        "artifacts, works, api, sample")  # fmt: skip
    data.name = name
    return prepare_paper_graph(data, **dict(preparation or {}))


def load_citeulike(
    path: str | None, name: str = "citeulike", preparation: Mapping | None = None, **read_arguments
) -> HeteroData:
    """``data=citeulike``: a CiteULike release folder (``data.path``), through the graph
    cache, prepared for HeCo; ``read_arguments`` are
    :func:`heco_pyg.data.citeulike.load_citeulike_graph`'s (``text_dim``, ``seed``,
    ``description_tags``, ``data_dir``)."""
    from heco_pyg.data.citeulike import load_citeulike_graph

    if not path:
        raise DataError("data=citeulike needs data.path=DIR (a CiteULike release folder)")
    data = load_citeulike_graph(path, **read_arguments)
    data.name = name
    return prepare_paper_graph(data, **dict(preparation or {}))


def load_heco_benchmark(**config) -> HeteroData:
    """``data=acm|dblp|aminer|freebase``: an official HeCo dataset folder (see
    :func:`heco_pyg.data.heco_benchmark.load_heco_benchmark_graph` for the arguments)."""
    return load_heco_benchmark_graph(**config)
