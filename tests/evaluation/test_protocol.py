"""The paper's evaluation protocol: batched probes equal 50 separate ones, known answers."""

from __future__ import annotations

import json

import pytest
import torch
from torch_geometric.data import HeteroData

from heco_pyg.evaluation.probe import ProtocolSettings
from heco_pyg.evaluation.protocol import evaluate_protocol, flat_metrics, has_splits, split_indices
from heco_pyg.evaluation.tables import protocol_markdown


def _separable(num_nodes: int = 600, classes: int = 3):
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(num_nodes) % classes
    # One point per class: a probe that separates val separates test, at the same step.
    embeddings = torch.nn.functional.one_hot(labels, classes).float() * 5 + 1
    index = torch.randperm(num_nodes, generator=generator)
    return embeddings, labels, {20: (index[:60], index[60:300], index[300:])}


def test_linearly_separable_embeddings_score_one():
    embeddings, labels, splits = _separable()
    result = evaluate_protocol(embeddings, labels, splits, ProtocolSettings(lr=0.05, repeats=8))
    for metric in ("macro_f1", "micro_f1", "auc"):
        assert result["classification"]["20"][metric]["mean"] == pytest.approx(1.0), metric
        assert result["classification"]["20"][metric]["std"] == pytest.approx(0.0, abs=1e-9)
    assert result["clustering"]["nmi"] == pytest.approx(1.0)
    assert result["clustering"]["ari"] == pytest.approx(1.0)


def test_random_embeddings_score_chance():
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(900) % 3
    embeddings = torch.randn(900, 16, generator=generator)
    index = torch.randperm(900, generator=generator)
    splits = {20: (index[:60], index[60:400], index[400:])}
    result = evaluate_protocol(embeddings, labels, splits, ProtocolSettings(repeats=5, steps=50))
    assert 0.2 < result["classification"]["20"]["micro_f1"]["mean"] < 0.5
    assert 0.4 < result["classification"]["20"]["auc"]["mean"] < 0.6


def test_split_masks_give_the_protocol_and_its_table():
    embeddings, labels, splits = _separable()
    data = HeteroData()
    data.target, data.name = "paper", "toy"
    data["paper"].x, data["paper"].y = embeddings, labels
    for kind, index in zip(("train", "val", "test"), splits[20], strict=True):
        mask = torch.zeros(len(labels), dtype=torch.bool)
        mask[index] = True
        data["paper"][f"{kind}_mask_20"] = mask
    assert has_splits(data) and list(split_indices(data)) == [20]
    settings = ProtocolSettings(lr=0.05, repeats=3, steps=50)
    result = evaluate_protocol(embeddings, labels, split_indices(data), settings)
    metrics = flat_metrics(json.loads(json.dumps(result)))
    assert metrics["protocol/micro_f1_20"] == pytest.approx(1.0)
    table = protocol_markdown(result)
    assert "| Macro-F1 | 100.00 ± 0.00 |" in table and "NMI 100.00" in table


def test_no_splits_no_protocol():
    data = HeteroData()
    data.target = "paper"
    data["paper"].x = torch.randn(10, 4)
    assert not has_splits(data)
    data["paper"].y = torch.zeros(10, dtype=torch.long)
    assert not has_splits(data)


def test_normalize_reads_unit_rows_whatever_the_scale():
    """protocol.normalize: the probe sees unit-length rows, so rows scaled by any factor
    score the same; raw rows at a tiny scale (a trained encoder's drift) underfit the
    fixed-length probe and score lower."""
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(600) % 3
    embeddings = (
        torch.randn(600, 8, generator=generator)
        + 2 * torch.nn.functional.one_hot(labels, 8).float()
    )
    index = torch.randperm(600, generator=generator)
    splits = {20: (index[:60], index[60:200], index[200:])}
    unit = ProtocolSettings(repeats=4, steps=30, normalize=True)
    small = evaluate_protocol(embeddings * 0.01, labels, splits, unit)
    large = evaluate_protocol(embeddings * 10.0, labels, splits, unit)
    assert small["classification"] == large["classification"]
    assert small["settings"]["normalize"] is True
    raw_small = evaluate_protocol(embeddings * 0.01, labels, splits,
                                  ProtocolSettings(repeats=4, steps=30))  # fmt: skip
    f1 = lambda result: result["classification"]["20"]["micro_f1"]["mean"]  # noqa: E731
    assert f1(small) > f1(raw_small) + 0.05
