"""The HeCo paper's evaluation protocol, vectorised.

For each label rate (20/40/60 labelled nodes per class) the official code trains 50
logistic-regression probes (``Linear``, xavier-uniform weights, zero bias, Adam, 200
full-batch steps) one after the other, evaluating val and test after every step, and
reports

* test Macro-F1 at the step of best val Macro-F1,
* test Micro-F1 at the step of best val Micro-F1,
* macro one-vs-rest ROC-AUC of the test softmax at the step of best val Micro-F1,

each as mean and std over the 50 repetitions (the first best step wins ties, as
``list.index(max(...))``). Here the 50 probes are ONE batched model: a ``[R, C, K]``
weight tensor whose per-repetition losses are summed, so each repetition receives
exactly its own gradient and Adam (element-wise) updates it exactly as if alone.
Clustering: K-means with K = number of classes on the labelled nodes, NMI and ARI,
mean over ``clustering_runs`` runs.

``python -m heco_pyg.evaluate run_dir=DIR`` re-embeds a finished run from its
checkpoint (the meta-path view in eval mode, as the official ``get_embeds``) and
writes ``eval.json`` and ``eval.md`` next to it.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from heco_pyg.evaluation.probe import clustering_scores

log = logging.getLogger(__name__)

METRICS = ("macro_f1", "micro_f1", "auc")
METRIC_NAMES = {"macro_f1": "Macro-F1", "micro_f1": "Micro-F1", "auc": "AUC"}


@dataclass
class ProtocolSettings:
    """The probe's settings (official: lr 0.05 on ACM, 0.01 elsewhere; no weight decay)."""

    lr: float = 0.01
    weight_decay: float = 0.0
    repeats: int = 50
    steps: int = 200
    clustering_runs: int = 10

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
    from sklearn.metrics import roc_auc_score  # imported late: ~70 MiB training never needs

    if probability.shape[1] == 2:
        return float(roc_auc_score(labels, probability[:, 1]))
    return float(roc_auc_score(labels, probability, multi_class="ovr", average="macro"))


def probe_protocol(
    embeddings: Tensor,
    labels: Tensor,
    train: Tensor,
    val: Tensor,
    test: Tensor,
    settings: ProtocolSettings,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The official probe, ``settings.repeats`` times at once, on one split.

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
    best_val_macro = torch.full((repeats,), -1.0)
    best_val_micro = torch.full((repeats,), -1.0)
    test_macro = torch.zeros(repeats)
    test_micro = torch.zeros(repeats)
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
            better_macro = val_macro > best_val_macro  # strict: the first best step wins
            better_micro = val_micro > best_val_micro
            best_val_macro = torch.where(better_macro, val_macro, best_val_macro)
            best_val_micro = torch.where(better_micro, val_micro, best_val_micro)
            test_macro = torch.where(better_macro, macro, test_macro)
            test_micro = torch.where(better_micro, micro, test_micro)
            best_logits[:, better_micro] = logits[len(val) :, better_micro]
    probability = torch.softmax(best_logits, dim=-1).transpose(0, 1).numpy()
    y_test = y_test.numpy()
    auc = np.array([_auc(y_test, probability[r]) for r in range(repeats)])
    return {"macro_f1": test_macro.numpy(), "micro_f1": test_micro.numpy(), "auc": auc}


def split_indices(data, rates: Sequence[int] | None = None) -> dict[int, tuple[Tensor, ...]]:
    """``{rate: (train, val, test)}`` from the target's ``{train,val,test}_mask_<rate>``."""
    store = data[data.target]
    if rates is None:
        rates = sorted(
            int(k.rsplit("_", 1)[1]) for k in store.keys() if k.startswith("train_mask_")
        )
    splits = {}
    for rate in rates:
        masks = [store[f"{kind}_mask_{rate}"] for kind in ("train", "val", "test")]
        splits[rate] = tuple(mask.nonzero().view(-1) for mask in masks)
    return splits


def evaluate_protocol(
    embeddings: Tensor | np.ndarray,
    labels: Tensor | np.ndarray,
    splits: Mapping[int, tuple[Tensor, Tensor, Tensor]],
    settings: ProtocolSettings | None = None,
    seed: int = 0,
) -> dict:
    """Probe at every label rate and K-means clustering; a JSON-ready result.

    Returns ``{"classification": {rate: {metric: {"mean", "std"}}}, "clustering":
    {"nmi", "ari"}, "settings": {...}}`` (values in [0, 1]).
    """
    settings = settings or ProtocolSettings()
    embeddings = torch.as_tensor(np.asarray(embeddings) if not isinstance(embeddings, Tensor)
                                 else embeddings).float()  # fmt: skip
    labels = torch.as_tensor(np.asarray(labels)).long()
    classification = {}
    for rate, (train, val, test) in splits.items():
        scores = probe_protocol(embeddings, labels, train, val, test, settings, seed + int(rate))
        classification[str(rate)] = {
            metric: {"mean": float(np.mean(v)), "std": float(np.std(v))}
            for metric, v in scores.items()
        }
    labels_np = labels.numpy()
    clustering = clustering_scores(embeddings.numpy(), labels_np, settings.clustering_runs, seed)
    return {"classification": classification, "clustering": clustering,
            "settings": settings.__dict__.copy()}  # fmt: skip


def flat_metrics(result: dict) -> dict[str, float]:
    """``{"protocol/macro_f1_20": ..., "protocol/nmi": ...}`` for ``metrics.json``."""
    flat = {}
    for rate, metrics in result["classification"].items():
        for metric, value in metrics.items():
            flat[f"protocol/{metric}_{rate}"] = value["mean"]
            flat[f"protocol/{metric}_{rate}_std"] = value["std"]
    flat |= {f"protocol/{k}": v for k, v in result["clustering"].items()}
    return flat


def format_markdown(result: dict, title: str = "HeCo protocol") -> str:
    """The table: metrics x label rates, ``mean +- std`` in percent; clustering below."""
    rates = list(result["classification"])
    lines = [f"### {title}", "", "| metric | " + " | ".join(rates) + " |",
             "|---|" + "---|" * len(rates)]  # fmt: skip
    for metric in METRICS:
        cells = [result["classification"][r][metric] for r in rates]
        lines.append(f"| {METRIC_NAMES[metric]} | "
                     + " | ".join(f"{100 * c['mean']:.2f} ± {100 * c['std']:.2f}" for c in cells)
                     + " |")  # fmt: skip
    clustering = result["clustering"]
    lines += ["", f"K-means: NMI {100 * clustering['nmi']:.2f}, ARI {100 * clustering['ari']:.2f}"]
    return "\n".join(lines) + "\n"


def write_results(run_dir: Path, result: dict, title: str = "HeCo protocol") -> str:
    """Writes ``eval.json`` and ``eval.md`` (temporary file, then rename); returns the table."""
    run_dir = Path(run_dir)
    table = format_markdown(result, title)
    for name, text in (("eval.json", json.dumps(result, indent=2)), ("eval.md", table)):
        temporary = run_dir / f".{name}.tmp"
        temporary.write_text(text)
        os.replace(temporary, run_dir / name)
    return table


def evaluate_trained(data, semantic: Tensor, config: Mapping | None, run_dir: Path,
                     seed: int = 0) -> dict[str, float]:  # fmt: skip
    """The hook :mod:`heco_pyg.train` calls after training: runs the protocol when the
    target has split masks, writes ``eval.json``/``eval.md``, prints the table and returns
    flat metrics (``{}`` without splits or labels)."""
    target = data[data.target]
    if "y" not in target or not any(k.startswith("train_mask_") for k in target.keys()):
        return {}
    settings = ProtocolSettings.from_config(config)
    result = evaluate_protocol(semantic, target.y, split_indices(data), settings, seed)
    print(write_results(run_dir, result, f"HeCo protocol: {getattr(data, 'name', '')}"))
    return flat_metrics(result)


@torch.no_grad()
def semantic_embeddings(run_cfg: DictConfig, data, run_dir: Path) -> Tensor:
    """The meta-path view of a finished run, recomputed from ``checkpoint.pt`` in eval
    mode (falls back to the saved, L2-normalised ``embeddings/semantic.npy``)."""
    from heco_pyg.data.graph import model_arguments, model_inputs
    from heco_pyg.trainer import embed

    checkpoint = run_dir / "checkpoint.pt"
    if not checkpoint.is_file():
        log.warning("%s absent: using the normalised embeddings/semantic.npy", checkpoint)
        return torch.from_numpy(np.load(run_dir / "embeddings" / "semantic.npy"))
    model = instantiate(run_cfg.model, **model_arguments(data))
    model.load_state_dict(torch.load(checkpoint, map_location="cpu")["model"])
    inputs = model.prepare(**model_inputs(data))
    _, semantic, _ = embed(model, inputs, run_cfg.trainer.get("batch_size"))
    return semantic


def evaluate_run(cfg: DictConfig) -> dict:
    """``python -m heco_pyg.evaluate run_dir=DIR [+protocol.lr=...] [+data_dir=DIR]
    [+threads=1]``: the run's own data config and protocol settings (overridable),
    results into the run dir."""
    run_dir = Path(cfg.run_dir)
    config_path = run_dir / ".hydra" / "config.yaml"
    if not config_path.is_file():
        raise SystemExit(f"{config_path} not found: is {run_dir} a training run dir?")
    run_cfg = OmegaConf.load(config_path)
    if cfg.get("data_dir"):  # +data_dir=DIR: the run's data has moved
        run_cfg.paths.data_dir = cfg.data_dir
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    data = instantiate(run_cfg.data, _convert_="all")
    semantic = semantic_embeddings(run_cfg, data, run_dir)
    settings_config = dict(run_cfg.get("protocol") or {}) | dict(cfg.get("protocol") or {})
    settings = ProtocolSettings.from_config(settings_config)
    result = evaluate_protocol(semantic, data[data.target].y, split_indices(data), settings,
                               int(cfg.get("seed", 0)))  # fmt: skip
    print(write_results(run_dir, result, f"HeCo protocol: {getattr(data, 'name', run_dir.name)}"))
    return result
