"""The linear probe: F1 equals scikit-learn's, the batched probe equals separate ones, the
few-label splits and the seeded probe of graphs without fixed splits."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, roc_auc_score

from heco_pyg.evaluation.probe import (
    ProtocolSettings,
    _auc,
    f1_scores,
    linear_probe,
    probe_f1,
    split_probes,
)
from heco_pyg.evaluation.splits import few_label_splits


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


def test_auc_matches_scikit_learn_with_ties_and_absent_classes():
    generator = np.random.default_rng(0)
    labels = generator.choice([0, 1, 3], size=300)  # class 2 absent from the test set
    probability = generator.dirichlet(np.ones(4), size=300).astype(np.float32)
    probability[::7] = probability[0]  # ties across classes' rankings
    probability[:, 1] = np.round(probability[:, 1], 1)  # many ties within one class
    expected = np.mean([roc_auc_score(labels == c, probability[:, c]) for c in (0, 1, 3)])
    assert _auc(labels, probability) == pytest.approx(expected, abs=1e-12)
    assert math.isnan(_auc(np.zeros(5, dtype=int), probability[:5]))


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
    batched = linear_probe(embeddings, labels, train, val, test, settings, seed=3)

    # The same initial weights the batched probe drew (same generator, same order).
    bound = math.sqrt(6.0 / (8 + 3))
    draw = torch.rand(4, 8, 3, generator=torch.Generator().manual_seed(3))
    reference = _reference_probe(embeddings, labels, train, val, test, (draw * 2 - 1) * bound,
                                 settings)  # fmt: skip
    for metric in ("macro_f1", "micro_f1", "auc"):
        np.testing.assert_allclose(batched[metric], reference[metric], atol=1e-5, err_msg=metric)


def test_few_label_splits_take_train_and_val_per_class_and_skip_unlabelled():
    labels = np.array([0] * 30 + [1] * 30 + [-1] * 10)
    (train, val, test), second = few_label_splits(labels, per_class=5, repeats=2, seed=0)
    assert len(train) == len(val) == 10 and len(test) == 40
    assert set(np.bincount(labels[train])) == {5} and set(np.bincount(labels[val])) == {5}
    assert not set(train) & set(val) and not (set(train) | set(val)) & set(test)
    assert (labels[np.concatenate([train, val, test])] >= 0).all()
    assert not np.array_equal(second[0], train)  # each repeat draws a new split


def test_probe_f1_separates_separable_features_and_not_noise():
    generator = np.random.default_rng(0)
    labels = np.arange(300) % 3
    separable = np.eye(3)[labels] * 5 + generator.normal(0, 0.1, (300, 3))
    noise = generator.normal(size=(300, 8))
    settings = ProtocolSettings(per_class=10, repeats=2, steps=100, lr=0.05)
    assert probe_f1(separable, labels, settings)["micro_f1"] == pytest.approx(1.0)
    chance = probe_f1(noise, labels, settings)
    assert 0.2 < chance["micro_f1"] < 0.5 and chance["micro_f1_std"] >= 0


def test_small_classes_use_fewer_labels_instead_of_crashing(caplog):
    from heco_pyg.evaluation.probe import ProtocolSettings, probe_f1
    from heco_pyg.evaluation.splits import few_label_splits

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2, 3], [50, 9, 4, 2])  # 20 per class asked: only class 0 has 41
    z = rng.normal(size=(len(labels), 8)) + labels[:, None]
    ((train, val, test),) = few_label_splits(labels, per_class=20, repeats=1)
    counts = np.bincount(labels[train], minlength=4)
    assert counts.tolist() == [20, 4, 1, 0]  # (n - 1) // 2 for small classes; class 3 left out
    assert not set(train) & set(val) and not set(train) & set(test) and 3 not in labels[test]
    with caplog.at_level(logging.DEBUG, logger="heco_pyg.evaluation.splits"):
        scores = probe_f1(z, labels, ProtocolSettings(per_class=20, repeats=2, steps=20))
    assert 0 <= scores["micro_f1"] <= 1
    assert "fewer than 41 labelled papers" in caplog.text


def test_a_probe_with_fewer_than_two_usable_classes_is_skipped(caplog):
    from heco_pyg.evaluation.probe import probe_f1

    labels = np.array([0, 0, 0, 0, 1, 1, -1])
    assert probe_f1(np.ones((7, 3)), labels) == {}
    assert "probe skipped" in caplog.text


def test_split_probes_equal_one_linear_probe_per_split():
    generator = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), 60)
    labels[::17] = -1  # unlabelled nodes take no part
    signal = np.eye(3)[labels.clip(0)] @ generator.normal(size=(3, 6))
    z = (signal + generator.normal(size=(180, 6))).astype(np.float32)
    settings = ProtocolSettings(per_class=5, repeats=3, steps=30, lr=0.05)
    splits = few_label_splits(labels, 5, 3, seed=4)
    z_t, y = torch.from_numpy(z), torch.from_numpy(labels).long()
    batched = split_probes(z_t, y, splits, settings, seed=4)
    single = ProtocolSettings(per_class=5, repeats=1, steps=30, lr=0.05)
    for r, (train, val, test) in enumerate(splits):
        train_t = torch.from_numpy(train)
        mean, std = z_t[train_t].mean(0), z_t[train_t].std(0)
        alone = linear_probe((z_t - mean) / std, y, train_t, torch.from_numpy(val),
                             torch.from_numpy(test), single, seed=4 + r)  # fmt: skip
        for metric in ("macro_f1", "micro_f1", "auc"):
            assert batched[metric][r] == pytest.approx(float(alone[metric][0]), abs=1e-5), metric
