"""From a raw paper graph (paper/author/concept, paper/user/tag, ...) to one ready for HeCo:
meta-paths, positives."""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from collections.abc import Mapping

from torch_geometric.data import HeteroData
from torch_geometric.transforms import Compose

from heco_pyg.core.errors import DataError
from heco_pyg.data.metapaths import AddMetaPathCounts
from heco_pyg.data.positives import AddPositives

log = logging.getLogger(__name__)

#: The default meta-paths ``{name: neighbour type}`` (OpenAlex and synthetic graphs).
PAPER_METAPATHS = {"PAP": "author", "PCP": "concept"}
#: From this many papers the meta-path edges are built on disk when no workdir is given:
#: faster and leaner from here on (30,000 synthetic papers: 2.3 s / 688 MB vs 4.4 s / 792
#: MB in memory; 100,000: 8.7 s / 1,176 MB vs 18.9 s / 1,633 MB; a 200,000-work OpenAlex
#: graph: 13.3 s / 1,429 MB vs 26.2 s / 2,921 MB).
OUT_OF_CORE_PAPERS = 20_000


def prepare_paper_graph(
    data: HeteroData,
    sample_sizes: Mapping[str, int],
    pos_num: int = 5,
    max_concept_df: float | None = 0.05,
    min_concept_level: int | None = None,
    metapath_topk: int | None = 50,
    max_hub_degree: int | str | None = "auto",
    workdir: str | None = None,
    metapaths: Mapping[str, str] | None = None,
    max_df: Mapping[str, float] | None = None,
) -> HeteroData:
    """Adds the pruned meta-paths (path counts; PAP and PCP unless ``metapaths`` says
    otherwise) and HeCo positives; returns a new graph.

    Args:
        sample_sizes: schema-view neighbours sampled per type (stored on the graph).
        pos_num: positives per paper, itself included.
        max_concept_df: concepts on more than this fraction of papers are left out of PCP
            (the ``concept`` entry of ``max_df``).
        min_concept_level: concepts below this level are left out of PCP (needs levels).
        metapath_topk: each paper keeps its top-k meta-path neighbours by path count.
        max_hub_degree: neighbours (authors, concepts, users, tags, ...) on more than this
            many papers are left out of the meta-paths through them (bounds the meta-path
            products on large graphs; ``None``: no bound; ``"auto"``: a bound chosen per
            type from the degrees, none on small graphs, see
            :func:`heco_pyg.data.metapaths.auto_hub_degree`).
        workdir: build the meta-path edges out of core in this folder and keep them there
            (memory-mapped ``.npy``, :mod:`heco_pyg.data.edge_files`); ``None``: in memory,
            or, from :data:`OUT_OF_CORE_PAPERS` papers, in a temporary folder removed at exit.
        metapaths: ``{name: neighbour type}``, e.g. ``{"PUP": "user", "PTP": "tag"}``;
            ``None``: :data:`PAPER_METAPATHS`.
        max_df: per neighbour type, its nodes on more than this fraction of papers are left
            out of its meta-path (e.g. ``{"tag": 0.05}``), so that no tag or user on most
            papers makes a meta-path complete.
    """
    metapaths = dict(PAPER_METAPATHS if metapaths is None else metapaths)
    max_df = dict(max_df or {})
    if max_concept_df is not None:
        max_df.setdefault("concept", max_concept_df)
    bad = {t: f for t, f in max_df.items() if f is not None and not 0 < f <= 1}
    if bad:
        raise DataError(f"data.preparation.max_df: fractions must be in (0, 1], got {bad}")
    missing = [t for t in data.neighbour_types if t not in sample_sizes]
    if missing:
        raise DataError(f"data.preparation.sample_sizes has no entry for {missing}")
    n = data[data.target].num_nodes
    if workdir is None and n >= OUT_OF_CORE_PAPERS:
        workdir = tempfile.mkdtemp(prefix="heco_metapaths_")
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
        log.info("%d %ss: meta-path edges built out of core in %s (removed at exit; "
                 "data.preparation.workdir=DIR keeps them)", n, data.target, workdir)  # fmt: skip
    transform = Compose([
        AddMetaPathCounts(
            metapaths,
            max_df=max_df,
            min_level={"concept": min_concept_level} if min_concept_level is not None else None,
            topk=metapath_topk,
            max_degree=dict.fromkeys(metapaths.values(), max_hub_degree)
            if max_hub_degree is not None
            else None,
            workdir=workdir,
        ),
        AddPositives(pos_num),
    ])  # fmt: skip
    data = transform(data)
    data.sample_sizes = dict(sample_sizes)
    return data
