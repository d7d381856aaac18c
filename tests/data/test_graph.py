"""The graph contract: edge stores hold only message-passing relations; positives and
citations are graph-level attributes that ``to_homogeneous()`` and loaders never merge."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import open_dict

from heco_pyg.core.errors import DataError
from heco_pyg.data import build_data
from heco_pyg.data.artifacts import write_artifacts
from heco_pyg.data.graph import REVERSE_RELATION, SCHEMA_RELATION, citation_index, positive_index
from heco_pyg.data.openalex import ingest_works
from heco_pyg.data.pipeline import prepare_paper_graph
from heco_pyg.data.synthetic import generate_synthetic
from tests.conftest import TINY_SYNTHETIC, compose_config
from tests.data.test_heco_benchmark import fake_config, write_fake_freebase
from tests.helpers.openalex_factory import work, write_lines


def _synthetic(tmp_path):
    cfg = compose_config(TINY_SYNTHETIC)
    with open_dict(cfg):
        cfg.paths.data_dir = str(tmp_path)
    return build_data(cfg.data)


def _artifacts(tmp_path):
    write_artifacts(generate_synthetic(num_papers=120, num_authors=150, num_concepts=120,
                                       num_fields=3), tmp_path / "art")  # fmt: skip
    cfg = compose_config(["data=openalex", "data.source=artifacts", f"data.path={tmp_path / 'art'}",
                          f"paths.data_dir={tmp_path}"])  # fmt: skip
    return build_data(cfg.data)


def _openalex_works(tmp_path):
    works = [work(i, authors=(f"A{i % 3}",), references=(i + 1, i + 2)) for i in range(1, 13)]
    data = ingest_works("works", write_lines(tmp_path / "works.jsonl", works), text_dim=4)[0]
    return prepare_paper_graph(data, {"author": 2, "concept": 2}, pos_num=3, max_concept_df=None)


def _heco_benchmark(tmp_path):
    write_fake_freebase(tmp_path / "heco" / "freebase")
    return instantiate(fake_config(tmp_path).data, _convert_="all")


BUILDERS = {"synthetic": _synthetic, "artifacts": _artifacts, "openalex_works": _openalex_works,
            "heco_benchmark": _heco_benchmark}  # fmt: skip


@pytest.mark.parametrize("source", BUILDERS)
def test_to_homogeneous_holds_only_message_passing_relations(tmp_path, source):
    data = BUILDERS[source](tmp_path)
    allowed = {SCHEMA_RELATION, REVERSE_RELATION, *data.metapaths}
    assert {relation for _, relation, _ in data.edge_types} <= allowed
    homogeneous = data.to_homogeneous()
    assert homogeneous.edge_index.size(1) == sum(
        data[t].edge_index.size(1) for t in data.edge_types
    )
    # The positives are still there, as a graph-level attribute, self pairs included.
    positives = positive_index(data)
    n = data[data.target].num_nodes
    assert positives.size(0) == 2 and torch.equal(torch.unique(positives[0]), torch.arange(n))
    if source in ("synthetic", "openalex_works"):
        assert citation_index(data).size(1) > 0


def test_missing_positives_and_citations_name_the_attribute():
    data = generate_synthetic(num_papers=30, num_authors=20, num_concepts=20, num_fields=2)
    del data.citation_index
    with pytest.raises(DataError, match="data.positive_index"):
        positive_index(data)
    with pytest.raises(DataError, match="data.citation_index"):
        citation_index(data)
