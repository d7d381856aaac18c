"""Label-based evaluation: a linear probe trained on a few labels, and K-means clustering.

The probe is the HeCo paper's (``Linear``, xavier-uniform weights, zero bias, Adam,
``steps`` full-batch steps, val and test evaluated after every step): ``R`` probes are
ONE batched model (a ``[R, C, K]`` weight tensor whose per-repetition losses are summed,
so each repetition receives exactly its own gradient and Adam, element-wise, updates it
exactly as if alone). It reports

* test Macro-F1 at the step of best val Macro-F1,
* test Micro-F1 at the step of best val Micro-F1,
* macro one-vs-rest ROC-AUC of the test softmax at the step of best val Micro-F1,

the first best step winning ties (as the official ``list.index(max(...))``). F1 is computed
here in torch (:func:`f1_scores`, tested against scikit-learn's ``f1_score``), the AUC
from ranks (:func:`_auc`, tested against scikit-learn's ``roc_auc_score``). The paper's
protocol (:mod:`heco_pyg.evaluation.protocol`) runs this probe on the datasets' fixed
splits; :func:`probe_f1` runs it on seeded few-label splits for graphs without them.

scikit-learn is imported where it is used: it adds ~70 MiB to a process, which training
does not need before its final evaluation.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from heco_pyg.evaluation.splits import few_label_splits

log = logging.getLogger(__name__)


@dataclass
class ProtocolSettings:
    """The probe's settings (the paper's: lr 0.05 on ACM, 0.01 elsewhere, no weight decay,
    50 repetitions of 200 steps). ``per_class``: labelled training (and validation) nodes
    per class of the seeded splits of :func:`probe_f1`; ``clustering_runs``: K-means runs.
    ``normalize``: the paper's protocol (:func:`~heco_pyg.evaluation.protocol.evaluate_protocol`)
    reads unit-length rows instead of the raw ones (the official code's)."""

    lr: float = 0.01
    weight_decay: float = 0.0
    repeats: int = 50
    steps: int = 200
    clustering_runs: int = 10
    per_class: int = 20
    normalize: bool = False

    @classmethod
    def from_config(cls, config: Mapping | None) -> ProtocolSettings:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in dict(config or {}).items() if k in known})


def f1_scores(predicted: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Macro- and Micro-F1 of every row of ``predicted`` ``[R, N]`` against ``labels`` ``[N]``.

    ``predicted`` and ``labels`` are class ids in ``[0, num_classes)``. Macro-F1
    averages ``2 TP / (2 TP + FP + FN)`` over the classes present in the
    labels or the predictions (scikit-learn's label set; an ill-defined class scores 0).
    Micro-F1 of single-label predictions is the accuracy.
    """
    repeats = predicted.size(0)
    # Confusion matrices [R, K(true), K(predicted)] in one bincount.
    cell = (torch.arange(repeats)[:, None] * num_classes + labels) * num_classes + predicted
    confusion = torch.bincount(cell.reshape(-1), minlength=repeats * num_classes**2)
    confusion = confusion.view(repeats, num_classes, num_classes).float()
    true_positive = confusion.diagonal(dim1=1, dim2=2)
    denominator = confusion.sum(dim=1) + confusion.sum(dim=2)  # predicted + true counts
    present = denominator > 0
    per_class = torch.where(present, 2 * true_positive / denominator.clamp(min=1), 0.0)
    macro = per_class.sum(dim=1) / present.sum(dim=1)
    micro = true_positive.sum(dim=1) / labels.numel()
    return macro, micro


def _batched_linear(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``[N, C]`` times ``R`` weights ``[R, C, K]`` as one GEMM -> ``[R, N, K]``."""
    repeats, channels, classes = weight.shape
    flat = weight.permute(1, 0, 2).reshape(channels, repeats * classes)
    return (x @ flat).view(-1, repeats, classes).transpose(0, 1) + bias


def _predict(x: Tensor, weight: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
    """Logits ``[N, R, K]`` (node-major, contiguous) and predicted classes ``[R, N]``."""
    repeats, channels, classes = weight.shape
    flat = weight.permute(1, 0, 2).reshape(channels, repeats * classes)
    logits = (x @ flat).view(-1, repeats, classes) + bias.view(1, repeats, classes)
    return logits, logits.argmax(dim=-1).t()


def _auc(labels: np.ndarray, probability: np.ndarray) -> float:
    """Macro one-vs-rest ROC-AUC over the classes present in ``labels`` (scikit-learn's
    ``multi_class="ovr"``, ``average="macro"`` when every class is present; a class absent
    from a small test set is left out instead of failing). NaN with fewer than two.

    A class's AUC is the Mann-Whitney statistic of its scores, ties counting half (the
    trapezoidal AUC of ``roc_auc_score``): one ranking of every class's column at once,
    where ``roc_auc_score`` per class spent most of its time checking its inputs.
    """
    from scipy.stats import rankdata  # imported late, with scikit-learn's modules

    present = np.unique(labels)
    if len(present) < 2:
        return float("nan")
    positive = labels[:, None] == present  # [n, classes present]
    ranks = rankdata(probability[:, present], axis=0)  # mid-ranks: a tie counts half
    positives = positive.sum(axis=0)
    negatives = len(labels) - positives
    statistic = (ranks * positive).sum(axis=0) - positives * (positives + 1) / 2
    return float(np.mean(statistic / (positives * negatives)))


class BestValidation:
    """Per repetition, the test F1 at the step of best validation F1 (Macro-F1 and
    Micro-F1 tracked separately; strictly better only, so the first best step wins, as the
    official ``list.index(max(...))``)."""

    def __init__(self, repeats: int) -> None:
        self.val_macro = torch.full((repeats,), -1.0)
        self.val_micro = torch.full((repeats,), -1.0)
        self.test_macro, self.test_micro = torch.zeros(repeats), torch.zeros(repeats)

    def update(self, val_macro: Tensor, val_micro: Tensor, macro: Tensor, micro: Tensor
               ) -> Tensor:  # fmt: skip
        """Records one step's scores; returns which repetitions improved their val Micro-F1
        (the step whose test logits the AUC reads)."""
        better_macro, better_micro = val_macro > self.val_macro, val_micro > self.val_micro
        self.val_macro = torch.where(better_macro, val_macro, self.val_macro)
        self.val_micro = torch.where(better_micro, val_micro, self.val_micro)
        self.test_macro = torch.where(better_macro, macro, self.test_macro)
        self.test_micro = torch.where(better_micro, micro, self.test_micro)
        return better_micro


def linear_probe(
    embeddings: Tensor,
    labels: Tensor,
    train: Tensor,
    val: Tensor,
    test: Tensor,
    settings: ProtocolSettings,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The probe, ``settings.repeats`` times at once, on one split.

    Args:
        embeddings: ``[N, C]`` node embeddings (not normalised, as the official code).
        labels: ``[N]`` class ids.
        train, val, test: index tensors into the nodes.

    Returns:
        ``{"macro_f1": [R], "micro_f1": [R], "auc": [R]}`` per repetition.
    """
    generator = torch.Generator().manual_seed(seed)
    embeddings = embeddings.float()
    num_classes = int(labels.max()) + 1
    repeats, channels = settings.repeats, embeddings.size(1)
    # xavier_uniform_ of Linear(C, K): U(-a, a), a = sqrt(6 / (C + K)).
    bound = math.sqrt(6.0 / (channels + num_classes))
    weight = (torch.rand(repeats, channels, num_classes, generator=generator) * 2 - 1) * bound
    weight.requires_grad_(True)
    bias = torch.zeros(repeats, 1, num_classes, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=settings.lr, weight_decay=settings.weight_decay)

    x_train, y_train = embeddings[train], labels[train]
    x_val, y_val = embeddings[val], labels[val]
    x_test, y_test = embeddings[test], labels[test]
    x_evaluate = torch.cat([x_val, x_test])
    best = BestValidation(repeats)
    best_logits = torch.zeros(len(test), repeats, num_classes)
    for _ in range(settings.steps):
        optimizer.zero_grad(set_to_none=True)
        logits = _batched_linear(x_train, weight, bias)  # [R, n_train, K]
        # Summed over repetitions: each one gets exactly its own mean-CE gradient.
        loss = F.cross_entropy(
            logits.transpose(1, 2), y_train.expand(repeats, -1), reduction="none"
        )
        loss.mean(dim=1).sum().backward()
        optimizer.step()
        with torch.no_grad():
            logits, predicted = _predict(x_evaluate, weight, bias)
            val_macro, val_micro = f1_scores(predicted[:, : len(val)], y_val, num_classes)
            macro, micro = f1_scores(predicted[:, len(val) :], y_test, num_classes)
            better_micro = best.update(val_macro, val_micro, macro, micro)
            best_logits[:, better_micro] = logits[len(val) :, better_micro]
    probability = torch.softmax(best_logits, dim=-1).transpose(0, 1).numpy()
    y_test = y_test.numpy()
    auc = np.array([_auc(y_test, probability[r]) for r in range(repeats)])
    return {"macro_f1": best.test_macro.numpy(), "micro_f1": best.test_micro.numpy(), "auc": auc}


def masked_f1_scores(
    predicted: Tensor, labels: Tensor, mask: Tensor, num_classes: int
) -> tuple[Tensor, Tensor]:
    """:func:`f1_scores` of every row of ``predicted`` ``[R, N]`` over its own nodes
    ``mask[r]`` (``[R, N]`` booleans): one batched confusion matrix per row."""
    repeats = predicted.size(0)
    cell = (torch.arange(repeats)[:, None] * num_classes + labels.clamp(min=0)) * num_classes
    cell = cell + predicted
    confusion = torch.bincount(cell.reshape(-1), weights=mask.reshape(-1).float(),
                               minlength=repeats * num_classes**2)  # fmt: skip
    confusion = confusion.view(repeats, num_classes, num_classes)
    true_positive = confusion.diagonal(dim1=1, dim2=2)
    denominator = confusion.sum(dim=1) + confusion.sum(dim=2)
    present = denominator > 0
    per_class = torch.where(present, 2 * true_positive / denominator.clamp(min=1), 0.0)
    macro = per_class.sum(dim=1) / present.sum(dim=1)
    micro = true_positive.sum(dim=1) / mask.sum(dim=1)
    return macro, micro


def split_probes(
    embeddings: Tensor,
    labels: Tensor,
    splits: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    settings: ProtocolSettings,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """One probe per split, all trained at once: split ``r`` standardises the features
    with its training nodes' mean and std (a column constant on them is left out) and
    draws its initial weights from
    ``seed + r``, exactly as :func:`linear_probe` would on that split alone (each
    repetition's loss is its own mean over its training nodes; Adam is element-wise).

    Returns ``{"macro_f1": [R], "micro_f1": [R], "auc": [R]}``, one value per split.
    """
    embeddings, num_nodes = embeddings.float(), embeddings.size(0)
    num_classes, repeats, channels = int(labels.max()) + 1, len(splits), embeddings.size(1)
    test_mask = torch.zeros(repeats, num_nodes, dtype=torch.bool)
    for r, (_, _, test) in enumerate(splits):
        test_mask[r, torch.from_numpy(test)] = True
    # Split r standardises with its training nodes' mean and std. The standardised rows
    # are only materialised for the training nodes; every node's logits use the identity
    # ((x - mean) / std) W + b = x (W / std) + (b - (mean / std) W), so no [R, N, C] copy
    # of the features is made (ACM's 1,902 raw feature columns x 50 splits: 1.5 GB each).
    # A column constant on the training nodes is left out (scale 0): a clamped std (1e-6)
    # scaled test values by 1e6 through untrained weights (ACM's raw features: chance).
    train_index = torch.stack([torch.from_numpy(split[0]) for split in splits])  # [R, T]
    train_rows = embeddings[train_index]  # [R, T, C]
    mean, std = train_rows.mean(dim=1), train_rows.std(dim=1)  # [R, C]
    varies = std > 1e-6 * (1 + mean.abs())
    inverse_std = torch.where(varies, 1 / std.clamp(min=1e-12), torch.zeros_like(std))
    x_train = (train_rows - mean[:, None]) * inverse_std[:, None]
    y_train = labels[train_index]
    bound = math.sqrt(6.0 / (channels + num_classes))  # xavier_uniform_ of Linear(C, K)
    weight = torch.cat([
        (torch.rand(1, channels, num_classes, generator=torch.Generator().manual_seed(seed + r))
         * 2 - 1) * bound
        for r in range(repeats)
    ]).requires_grad_(True)  # fmt: skip
    bias = torch.zeros(repeats, 1, num_classes, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=settings.lr, weight_decay=settings.weight_decay)
    # Each step scores the validation nodes of every split ([R, V] rows, a few per class);
    # the test nodes' logits (class-major, [R, K, N]: one GEMM of the scaled weight columns
    # with the features' N columns) only for the splits whose validation F1 improved, the
    # only steps whose test scores and logits are kept.
    val_index = torch.stack([torch.from_numpy(split[1]) for split in splits])  # [R, V]
    x_val, y_val = embeddings[val_index], labels[val_index]
    all_val = torch.ones_like(val_index, dtype=torch.bool)
    x_columns = embeddings.t().contiguous()  # [C, N]
    best = BestValidation(repeats)
    best_logits = torch.zeros(repeats, num_classes, num_nodes)
    for _ in range(settings.steps):
        optimizer.zero_grad(set_to_none=True)
        logits = torch.bmm(x_train, weight) + bias  # [R, T, K]
        loss = F.cross_entropy(logits.transpose(1, 2), y_train, reduction="none")
        loss.mean(dim=1).sum().backward()
        optimizer.step()
        with torch.no_grad():
            scaled = weight * inverse_std[:, :, None]  # [R, C, K]
            shift = bias[:, 0] - torch.einsum("rc,rck->rk", mean, scaled)  # [R, K]
            val_logits = torch.bmm(x_val, scaled) + shift[:, None]  # [R, V, K]
            predicted = val_logits.max(dim=2).indices  # the first best class on ties, as argmax
            val_macro, val_micro = masked_f1_scores(predicted, y_val, all_val, num_classes)
            improved = (val_macro > best.val_macro) | (val_micro > best.val_micro)
            improved = improved.nonzero().view(-1)
            macro, micro = torch.zeros(repeats), torch.zeros(repeats)
            if len(improved):
                columns = scaled[improved].transpose(1, 2).reshape(-1, channels)
                logits = (columns @ x_columns).view(len(improved), num_classes, num_nodes)
                logits += shift[improved, :, None]
                predicted = logits.max(dim=1).indices
                macro[improved], micro[improved] = masked_f1_scores(
                    predicted, labels, test_mask[improved], num_classes
                )
            better_micro = best.update(val_macro, val_micro, macro, micro)
            if len(improved):
                keep = better_micro[improved]
                best_logits[improved[keep]] = logits[keep]
    probability = torch.softmax(best_logits, dim=1).transpose(1, 2).numpy()
    y = labels.numpy()
    auc = np.array([_auc(y[test_mask[r].numpy()], probability[r][test_mask[r].numpy()])
                    for r in range(len(splits))])  # fmt: skip
    return {"macro_f1": best.test_macro.numpy(), "micro_f1": best.test_micro.numpy(), "auc": auc}


def probe_f1(
    z: np.ndarray,
    labels: np.ndarray,
    settings: ProtocolSettings | None = None,
    seed: int = 0,
    probes: Callable[[np.ndarray, np.ndarray, list], dict[str, np.ndarray]] | None = None,
) -> dict[str, float]:
    """Micro/Macro-F1 and AUC of the linear probe, mean and std over ``settings.repeats``
    seeded few-label splits (:func:`few_label_splits`), one probe each (trained together,
    :func:`split_probes`). Features are standardised with each split's training nodes'
    mean and std. ``probes(z, labels, splits)``: another classifier on the same splits
    (the raw-feature baseline: :func:`heco_pyg.evaluation.baseline.logistic_regression_probes`)."""
    settings = settings or ProtocolSettings()
    splits = few_label_splits(np.asarray(labels), settings.per_class, settings.repeats, seed)
    if not splits:
        log.warning("probe skipped: fewer than two classes have three labelled papers")
        return {}
    if probes is not None:
        scores = probes(np.asarray(z), np.asarray(labels), splits)
    else:
        z = torch.as_tensor(np.asarray(z), dtype=torch.float32)
        y = torch.as_tensor(np.asarray(labels)).long()
        scores = split_probes(z, y, splits, settings, seed)
    summary = {}
    for metric, values in scores.items():
        summary[metric] = float(np.mean(values))
        summary[f"{metric}_std"] = float(np.std(values))
    return summary
