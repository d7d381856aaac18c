"""The paper's evaluation protocol: batched probes equal 50 separate ones, known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, roc_auc_score
from torch_geometric.data import HeteroData

from heco_pyg.evaluation.protocol import (
    ProtocolSettings,
    evaluate_protocol,
    evaluate_trained,
    f1_scores,
    flat_metrics,
    probe_protocol,
    split_indices,
)


def test_f1_scores_match_scikit_learn():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (200,), generator=generator)
    predicted = torch.randint(0, 4, (5, 200), generator=generator)
    predicted[1] = 0  # classes never predicted: ill-defined precision scores 0
    macro, micro = f1_scores(predicted, labels, 4)
    for row in range(5):
        assert macro[row] == pytest.approx(f1_score(labels, predicted[row], average="macro",
                                                    zero_division=0))  # fmt: skip
        assert micro[row] == pytest.approx(f1_score(labels, predicted[row], average="micro"))


def _reference_probe(embeddings, labels, train, val, test, weights, settings):
    """The official loop, one repetition at a time (nn.Linear, Adam, scikit-learn F1)."""
    out = {"macro_f1": [], "micro_f1": [], "auc": []}
    for weight in weights:
        probe = torch.nn.Linear(embeddings.size(1), weight.size(1))
        with torch.no_grad():
            probe.weight.copy_(weight.t())
            probe.bias.zero_()
        optimizer = torch.optim.Adam(probe.parameters(), lr=settings.lr)
        val_macro, val_micro, test_macro, test_micro, test_logits = [], [], [], [], []
        for _ in range(settings.steps):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(probe(embeddings[train]), labels[train]).backward()
            optimizer.step()
            with torch.no_grad():
                predicted_val = probe(embeddings[val]).argmax(1)
                logits = probe(embeddings[test])
            val_macro.append(f1_score(labels[val], predicted_val, average="macro"))
            val_micro.append(f1_score(labels[val], predicted_val, average="micro"))
            test_macro.append(f1_score(labels[test], logits.argmax(1), average="macro"))
            test_micro.append(f1_score(labels[test], logits.argmax(1), average="micro"))
            test_logits.append(logits)
        best_macro = val_macro.index(max(val_macro))
        best_micro = val_micro.index(max(val_micro))
        out["macro_f1"].append(test_macro[best_macro])
        out["micro_f1"].append(test_micro[best_micro])
        probability = torch.softmax(test_logits[best_micro], 1).numpy()
        out["auc"].append(roc_auc_score(labels[test], probability, multi_class="ovr"))
    return {k: np.array(v) for k, v in out.items()}


def test_batched_probe_equals_separate_probes():
    generator = torch.Generator().manual_seed(1)
    embeddings = torch.randn(300, 8, generator=generator)
    labels = (embeddings[:, 0] + 0.8 * torch.randn(300, generator=generator) > 0).long()
    labels += (embeddings[:, 1] > 0.5).long()  # three classes
    index = torch.randperm(300, generator=generator)
    train, val, test = index[:30], index[30:130], index[130:]
    settings = ProtocolSettings(lr=0.05, repeats=4, steps=25)
    batched = probe_protocol(embeddings, labels, train, val, test, settings, seed=3)

    # The same initial weights the batched probe drew (same generator, same order).
    bound = math.sqrt(6.0 / (8 + 3))
    draw = torch.rand(4, 8, 3, generator=torch.Generator().manual_seed(3))
    reference = _reference_probe(embeddings, labels, train, val, test, (draw * 2 - 1) * bound,
                                 settings)  # fmt: skip
    for metric in ("macro_f1", "micro_f1", "auc"):
        np.testing.assert_allclose(batched[metric], reference[metric], atol=1e-5, err_msg=metric)


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


def test_evaluate_trained_writes_tables(tmp_path):
    embeddings, labels, splits = _separable()
    data = HeteroData()
    data.target, data.name = "paper", "toy"
    data["paper"].x, data["paper"].y = embeddings, labels
    for kind, index in zip(("train", "val", "test"), splits[20], strict=True):
        mask = torch.zeros(len(labels), dtype=torch.bool)
        mask[index] = True
        data["paper"][f"{kind}_mask_20"] = mask
    assert list(split_indices(data)) == [20]
    metrics = evaluate_trained(data, embeddings, {"lr": 0.05, "repeats": 3, "steps": 50},
                               tmp_path)  # fmt: skip
    assert metrics["protocol/micro_f1_20"] == pytest.approx(1.0)
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert flat_metrics(saved) == metrics
    table = (tmp_path / "eval.md").read_text()
    assert "| Macro-F1 | 100.00 ± 0.00 |" in table and "NMI 100.00" in table


def test_no_splits_no_protocol(tmp_path):
    data = HeteroData()
    data.target = "paper"
    data["paper"].x = torch.randn(10, 4)
    assert evaluate_trained(data, data["paper"].x, None, tmp_path) == {}
    assert not (tmp_path / "eval.json").exists()
