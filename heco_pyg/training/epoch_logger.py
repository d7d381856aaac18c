"""The per-epoch logging policy: what a run logs to the tracker and to its
history (:meth:`heco_pyg.runs.run_dir.RunDir.write_history`).

Every epoch: the losses (total, L_mp, L_sc), learning rate, seconds and every type-level
and semantic attention weight as its own series. Every ``histogram_every`` epochs: a
histogram of the node-level attention weights of each neighbour type (wandb only) and their
mean normalised entropy. Every ``diagnostics_every`` epochs: embedding diagnostics of the
two views (alignment and uniformity of Wang & Isola, mean pairwise cosine, effective rank).
The first epoch is always a logging epoch, so even short runs carry every series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

import torch.nn.functional as F
from torch import Tensor

from heco_pyg.evaluation.diagnostics import (
    alignment,
    effective_rank,
    mean_pairwise_cosine,
    pair_alignment,
    uniformity,
)
from heco_pyg.nn.containers import HeCoOutput
from heco_pyg.training.trainer import EpochRecord


class Tracker(Protocol):
    """What the logger needs of a tracker (:class:`heco_pyg.runs.tracking.Tracker`, the
    wandb adapter, passed in by the command)."""

    def log(self, values: Mapping[str, Any], step: int | None = None) -> None: ...

    def histogram(self, values: Tensor, num_bins: int = 32) -> Any | None: ...


def attention_entropy(weights: Tensor) -> float:
    """Mean entropy of the rows of ``weights`` (``[B, S]``, rows sum to 1) divided by
    ``log S``: 1 = uniform over the sampled neighbours, 0 = all weight on one."""
    if weights.size(-1) < 2:
        return float("nan")
    entropy = -(weights * weights.clamp(min=1e-12).log()).sum(dim=-1)
    return float(entropy.mean() / math.log(weights.size(-1)))


def view_diagnostics(
    output: HeCoOutput, positive_index: Tensor | None = None, max_nodes: int = 2048
) -> dict[str, float]:
    """Diagnostics of the two views of one forward pass (``[B, C]`` each).

    ``diagnostics/alignment``: each node's schema vs meta-path embedding (HeCo's self
    positive); ``diagnostics/alignment_positives``: meta-path view of each anchor vs schema
    view of each of its positives (``positive_index`` ``[2, P]`` into the batch's rows, when given);
    per view, uniformity, mean pairwise cosine and effective rank.
    """
    views = {
        "schema": output.schema.detach().float().cpu(),
        "semantic": output.semantic.detach().float().cpu(),
    }
    values = {"diagnostics/alignment": alignment(views["schema"], views["semantic"])}
    if positive_index is not None:
        anchor, positive = positive_index.cpu()
        values["diagnostics/alignment_positives"] = pair_alignment(
            views["semantic"], views["schema"], anchor, positive
        )
    for view, z in views.items():
        values[f"diagnostics/uniformity/{view}"] = uniformity(z, max_nodes=max_nodes)
        values[f"diagnostics/mean_cosine/{view}"] = mean_pairwise_cosine(z)
        values[f"diagnostics/effective_rank/{view}"] = effective_rank(F.normalize(z, dim=1))
    return values


class EpochLogger:
    """``Trainer.fit(..., on_epoch=EpochLogger(tracker, positives))``: logs each epoch to
    ``tracker`` at ``step=epoch`` and keeps the same series in :attr:`rows` (one dict per
    epoch, the rows of the run's history; series not due at an epoch are absent there).

    Args:
        tracker: where the series go (``logger=none`` is a disabled tracker).
        positive_index: ``[2, P]`` positive pairs, for the alignment of positives.
        histogram_every: node-attention histograms every N epochs (0 disables).
        diagnostics_every: embedding diagnostics every N epochs (0 disables).
        uniformity_nodes: nodes sampled for the uniformity's pairs.
    """

    def __init__(
        self,
        tracker: Tracker,
        positive_index: Tensor | None = None,
        histogram_every: int = 10,
        diagnostics_every: int = 10,
        uniformity_nodes: int = 2048,
    ) -> None:
        self.tracker = tracker
        self.positive_index = positive_index
        self.histogram_every = histogram_every
        self.diagnostics_every = diagnostics_every
        self.uniformity_nodes = uniformity_nodes
        # Positives index the full graph: the alignment of positives needs full-batch outputs.
        self._num_indexed = int(positive_index.max()) + 1 if positive_index is not None else 0
        self.rows: list[dict[str, float]] = []

    @staticmethod
    def _due(epoch: int, every: int) -> bool:
        return every > 0 and (epoch == 1 or epoch % every == 0)

    def __call__(self, record: EpochRecord, output: HeCoOutput) -> None:
        row = record.as_row()
        histograms = {}
        if self._due(record.epoch, self.histogram_every):
            for node_type, weights in output.node_attention.items():
                weights = weights.detach().float().cpu()
                row[f"node_attention/{node_type}/entropy"] = attention_entropy(weights)
                histogram = self.tracker.histogram(weights, num_bins=32)
                if histogram is not None:  # None: a disabled tracker
                    histograms[f"node_attention/{node_type}"] = histogram
        if self._due(record.epoch, self.diagnostics_every):
            full_batch = output.schema.size(0) == self._num_indexed
            positives = self.positive_index if full_batch else None
            row |= view_diagnostics(output, positives, self.uniformity_nodes)
        self.rows.append(row)

        series = {
            "loss/total": record.loss,
            "loss/metapath": record.loss_metapath,
            "loss/schema": record.loss_schema,
            "learning_rate": record.learning_rate,
            "seconds": record.seconds,
        }
        extra = {k: v for k, v in row.items() if k.startswith(("attention/", "node_attention/"))}
        extra |= {k: v for k, v in row.items() if k.startswith("diagnostics/")}
        self.tracker.log(series | extra | histograms, step=record.epoch)

    def state_dict(self) -> dict:
        """The rows so far (saved with the training state, so a resumed run's history
        holds every epoch)."""
        return {"rows": [dict(row) for row in self.rows]}

    def load_state_dict(self, state: dict) -> None:
        self.rows = [dict(row) for row in state["rows"]]

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(histogram_every={self.histogram_every}, "
            f"diagnostics_every={self.diagnostics_every})"
        )
