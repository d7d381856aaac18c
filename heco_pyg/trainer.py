"""The training loop: full- or mini-batch steps, early stopping, best checkpoint, NaN guard."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from heco_pyg.loss import HeCoLoss, batch_positives
from heco_pyg.nn.heco import GraphInputs, HeCo, HeCoOutput


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


@dataclass
class EpochRecord:
    """One row of ``history.csv``."""

    epoch: int
    loss: float
    loss_metapath: float
    loss_schema: float
    learning_rate: float
    seconds: float
    attention: dict[str, float] = field(default_factory=dict)

    def as_row(self) -> dict[str, float]:
        row = {k: v for k, v in self.__dict__.items() if k != "attention"}
        return row | self.attention


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("trainer.device=cuda but CUDA is not available; use auto or cpu")
    return torch.device(device)


def attention_values(output: HeCoOutput) -> dict[str, float]:
    """Type-level and semantic attention weights as ``{"attention/type/author": w, ...}``."""
    values = {f"attention/type/{k}": v for k, v in output.type_attention.items()}
    values |= {f"attention/semantic/{k}": v for k, v in output.semantic_attention.items()}
    return {k: float(v) for k, v in values.items()}


class Trainer:
    """Fits a :class:`HeCo` model with :class:`HeCoLoss`.

    Args:
        lr, weight_decay: optimiser settings.
        optimizer: ``adamw`` or ``adam``.
        max_epochs: upper bound on epochs.
        patience: stop after this many epochs without a loss improvement.
        batch_size: ``None`` for full batch, else target nodes per step (in-batch
            positives and negatives).
        gradient_clip: max gradient norm (``None`` disables clipping).
        device: ``auto``, ``cpu`` or ``cuda``.
        threads: torch intra-op threads (``None`` keeps torch's default).
        checkpoint_path: where the best state is saved (``None``: kept in memory only).
        progress: show a progress bar.
    """

    def __init__(
        self,
        lr: float = 0.001,
        weight_decay: float = 0.0,
        optimizer: str = "adamw",
        max_epochs: int = 200,
        patience: int = 20,
        batch_size: int | None = None,
        gradient_clip: float | None = 5.0,
        device: str = "auto",
        threads: int | None = None,
        checkpoint_path: str | Path | None = None,
        progress: bool = True,
    ) -> None:
        if optimizer not in ("adam", "adamw"):
            raise ValueError(f"trainer.optimizer must be adam or adamw, got {optimizer!r}")
        self.lr, self.weight_decay, self.optimizer_name = lr, weight_decay, optimizer
        self.max_epochs, self.patience = max_epochs, patience
        self.batch_size, self.gradient_clip = batch_size, gradient_clip
        self.device = resolve_device(device)
        self.threads = threads
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.progress = progress
        self.history: list[EpochRecord] = []
        self.best_epoch = 0
        self.best_loss = math.inf

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        optimizer = torch.optim.AdamW if self.optimizer_name == "adamw" else torch.optim.Adam
        return optimizer(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def _batches(self, num_nodes: int) -> list[Tensor | None]:
        if self.batch_size is None or self.batch_size >= num_nodes:
            return [None]
        permutation = torch.randperm(num_nodes, device=self.device)
        return list(permutation.split(self.batch_size))

    def _step(self, model, loss_fn, inputs, positives, index, optimizer):
        optimizer.zero_grad(set_to_none=True)
        output = model(inputs, index)
        if index is None:
            pairs = positives
        else:
            pairs = batch_positives(positives, index, inputs.num_nodes)
        parts = loss_fn(model.head(output.semantic), model.head(output.schema), pairs)
        parts.loss.backward()
        if self.gradient_clip:
            nn.utils.clip_grad_norm_(model.parameters(), self.gradient_clip)
        optimizer.step()
        return parts, output

    def fit(
        self,
        model: HeCo,
        loss_fn: HeCoLoss,
        inputs: GraphInputs,
        positive_index: Tensor,
        on_epoch: Callable[[EpochRecord, HeCoOutput], None] | None = None,
    ) -> HeCo:
        """Trains ``model``; returns it with the best (lowest-loss) weights loaded."""
        if self.threads:
            torch.set_num_threads(self.threads)
        model.to(self.device)
        inputs = inputs.to(self.device)
        positives = positive_index.to(self.device)
        optimizer = self._optimizer(model)
        best_state = copy.deepcopy(model.state_dict())
        stale = 0
        bar = tqdm(range(1, self.max_epochs + 1), disable=not self.progress, desc="train",
                   unit="epoch", dynamic_ncols=True)  # fmt: skip
        for epoch in bar:
            model.train()
            start = time.perf_counter()
            totals = torch.zeros(3, device=self.device)
            batches = self._batches(inputs.num_nodes)
            for index in batches:
                parts, output = self._step(model, loss_fn, inputs, positives, index, optimizer)
                totals += torch.stack([p.detach() for p in parts])
            loss, loss_metapath, loss_schema = (totals / len(batches)).tolist()
            seconds = time.perf_counter() - start
            if not math.isfinite(loss):
                model.load_state_dict(best_state)
                raise NonFiniteLossError(
                    f"loss became {loss} at epoch {epoch}; the best checkpoint (epoch "
                    f"{self.best_epoch}, loss {self.best_loss:.4f}) is kept"
                    + (f" at {self.checkpoint_path}" if self.checkpoint_path else "")
                )
            record = EpochRecord(
                epoch, loss, loss_metapath, loss_schema,
                optimizer.param_groups[0]["lr"], seconds, attention_values(output),
            )  # fmt: skip
            self.history.append(record)
            if on_epoch is not None:
                on_epoch(record, output)
            if loss < self.best_loss:
                self.best_loss, self.best_epoch, stale = loss, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
                if self.checkpoint_path:
                    torch.save({"epoch": epoch, "loss": loss, "model": best_state},
                               self.checkpoint_path)  # fmt: skip
            else:
                stale += 1
            bar.set_postfix(loss=f"{loss:.4f}", best=f"{self.best_loss:.4f}")
            if stale >= self.patience:
                break
        bar.close()
        model.load_state_dict(best_state)
        return model


@torch.no_grad()
def embed(
    model: HeCo, inputs: GraphInputs, batch_size: int | None = None
) -> tuple[Tensor, Tensor, HeCoOutput]:
    """Schema and meta-path view embeddings of every target node, in eval mode, exact,
    ``batch_size`` nodes at a time (``None``: all at once)."""
    model.eval()
    device = next(model.parameters()).device
    output = model.embed(inputs.to(device), batch_size)
    return output.schema.cpu(), output.semantic.cpu(), output
