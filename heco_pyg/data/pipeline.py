"""From a raw paper/author/concept graph to one ready for HeCo: meta-paths, positives."""

from __future__ import annotations

from collections.abc import Mapping

from torch_geometric.data import HeteroData
from torch_geometric.transforms import Compose

from heco_pyg.data.graph import DataError
from heco_pyg.data.metapaths import AddMetaPathCounts
from heco_pyg.data.positives import AddPositives

PAPER_METAPATHS = {"PAP": "author", "PCP": "concept"}


def prepare_paper_graph(
    data: HeteroData,
    sample_sizes: Mapping[str, int],
    pos_num: int = 5,
    max_concept_df: float | None = 0.05,
    min_concept_level: int | None = None,
    metapath_topk: int | None = 50,
    max_hub_degree: int | None = None,
) -> HeteroData:
    """Adds PAP and pruned PCP (path counts) and HeCo positives; returns a new graph.

    Args:
        sample_sizes: schema-view neighbours sampled per type (stored on the graph).
        pos_num: positives per paper, itself included.
        max_concept_df: concepts on more than this fraction of papers are left out of PCP.
        min_concept_level: concepts below this level are left out of PCP (needs levels).
        metapath_topk: each paper keeps its top-k meta-path neighbours by path count.
        max_hub_degree: authors and concepts on more than this many papers are left out of
            PAP and PCP (bounds the meta-path products on large graphs; ``None``: no bound).
    """
    missing = [t for t in data.neighbour_types if t not in sample_sizes]
    if missing:
        raise DataError(f"data.preparation.sample_sizes has no entry for {missing}")
    transform = Compose([
        AddMetaPathCounts(
            PAPER_METAPATHS,
            max_df={"concept": max_concept_df} if max_concept_df is not None else None,
            min_level={"concept": min_concept_level} if min_concept_level is not None else None,
            topk=metapath_topk,
            max_degree=dict.fromkeys(PAPER_METAPATHS.values(), max_hub_degree)
            if max_hub_degree is not None
            else None,
        ),
        AddPositives(pos_num),
    ])  # fmt: skip
    data = transform(data)
    data.sample_sizes = dict(sample_sizes)
    return data
