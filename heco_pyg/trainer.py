"""The training loop: full- or mini-batch steps, early stopping, best checkpoint, NaN guard,
weight averaging, and data-parallel training over ``torch.distributed`` (``torchrun``)."""

from __future__ import annotations

import copy
import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from heco_pyg.batches import positive_batches, random_batches
from heco_pyg.loss import HeCoLoss, LossParts, PositiveIndex
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


def sparse_tables(model: nn.Module) -> list[nn.Parameter]:
    """The weights of embedding tables with sparse gradients (``model.sparse_embeddings``)."""
    return [m.weight for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse]


def is_main_process() -> bool:
    """True outside distributed training and on rank 0 inside it."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


class EarlyStopping:
    """Patience on a smoothed loss with a relative improvement threshold.

    The monitored value is the mean of the last ``smoothing`` epoch losses; it improves
    when it falls below ``best - min_delta * |best|``. Training stops once ``patience``
    epochs in a row brought no improvement, but never before epoch ``min_epochs``.
    ``smoothing=1, min_delta=0, min_epochs=0`` is plain patience on the raw loss (strict
    improvement), the official HeCo rule.
    """

    def __init__(
        self, patience: int, min_delta: float = 0.0, smoothing: int = 1, min_epochs: int = 0
    ) -> None:
        if smoothing < 1 or min_delta < 0 or min_epochs < 0:
            raise ValueError(
                "early stopping needs smoothing >= 1, min_delta >= 0 and min_epochs >= 0, got "
                f"{smoothing}, {min_delta}, {min_epochs}"
            )
        self.patience, self.min_delta = patience, min_delta
        self.smoothing, self.min_epochs = smoothing, min_epochs
        self.recent: deque[float] = deque(maxlen=smoothing)
        self.best, self.best_epoch, self.stale, self.epoch = math.inf, 0, 0, 0

    def _smoothed(self, loss: float) -> float:
        window = [*self.recent, loss][-self.smoothing :]
        return sum(window) / len(window)

    def improves(self, loss: float) -> bool:
        """Whether recording ``loss`` as the next epoch's loss would be an improvement."""
        threshold = self.best
        if self.min_delta and math.isfinite(self.best):
            threshold -= self.min_delta * abs(self.best)
        return self._smoothed(loss) < threshold

    def step(self, loss: float) -> bool:
        """Records one epoch's loss; True when the smoothed loss improved."""
        improved, smoothed = self.improves(loss), self._smoothed(loss)
        self.epoch += 1
        self.recent.append(loss)
        if improved:
            self.best, self.best_epoch, self.stale = smoothed, self.epoch, 0
            return True
        self.stale += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.stale >= self.patience and self.epoch >= self.min_epochs


class WeightAverage:
    """Exponential moving average of a model's weights, ``avg <- decay avg + (1 - decay) w``,
    updated once per epoch; it starts from the weights after the first epoch. Integer
    buffers are copied."""

    def __init__(self, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"trainer.ema_decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.state: dict[str, Tensor] | None = None

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        current = model.state_dict()
        if self.state is None:
            self.state = {k: v.detach().clone() for k, v in current.items()}
            return
        for key, value in current.items():
            average = self.state[key]
            if average.is_floating_point():
                average.lerp_(value, 1.0 - self.decay)
            else:
                average.copy_(value)


class Objective(nn.Module):
    """Model + loss as one module, so that DistributedDataParallel sees the whole step."""

    def __init__(self, model: HeCo, loss_fn: HeCoLoss) -> None:
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(
        self, inputs: GraphInputs, index: Tensor | None, pairs: Tensor
    ) -> tuple[LossParts, HeCoOutput]:
        output = self.model(inputs, index)
        head = self.model.head
        return self.loss_fn(head(output.semantic), head(output.schema), pairs), output


class Trainer:
    """Fits a :class:`HeCo` model with :class:`HeCoLoss`.

    Args:
        lr, weight_decay: optimiser settings.
        optimizer: ``adamw`` or ``adam``.
        max_epochs: upper bound on epochs.
        patience: stop after this many epochs without a loss improvement.
        min_delta: relative improvement the (smoothed) loss must make to count
            (0: any decrease, the official rule).
        smoothing: early stopping watches the mean loss of the last ``smoothing`` epochs
            (1: the raw epoch loss).
        min_epochs: never stop before this epoch.
        ema_decay: ``None``: the checkpoint is the raw weights at the best loss. A float:
            an exponential moving average of the weights with this decay (per epoch) is
            kept, and the checkpoint, the returned model and so the embeddings are the
            averaged weights at the best (smoothed) loss. See :class:`WeightAverage`.
            ``best_loss`` and ``best_epoch`` are those of the smoothed loss.
        batch_size: ``None`` for full batch, else target nodes per step (in-batch
            positives and negatives).
        batch_positives: mini-batches only: ``k > 0`` builds each batch from
            ``batch_size // (1 + k)`` seed nodes plus up to ``k`` HeCo positives of each
            (:func:`heco_pyg.batches.positive_batches`), so the batch keeps its positive
            pairs; an epoch then has about ``1 + k`` times more steps. 0: random batches.
        gradient_clip: max gradient norm of the dense parameters (``None``: no clipping).
        device: ``auto``, ``cpu`` or ``cuda``.
        threads: torch intra-op threads (``None`` keeps torch's default).
        checkpoint_path: where the best state is saved (``None``: kept in memory only).
        progress: show a progress bar.
        seed: seeds the batch order (the same on every rank).
        distributed: data-parallel over ``torch.distributed`` (``torchrun`` sets the
            rendezvous); each rank takes every ``world_size``-th batch of one global order,
            gradients are averaged by DDP, so a step sees ``world_size`` batches.
        backend: ``auto`` (``nccl`` on CUDA, ``gloo`` on CPU), ``gloo`` or ``nccl``. NCCL
            cannot all-reduce sparse gradients: with sparse embedding tables ``fit`` stops
            before the first step and asks for ``model.sparse_embeddings=false`` or gloo.
    """

    def __init__(
        self,
        lr: float = 0.001,
        weight_decay: float = 0.0,
        optimizer: str = "adamw",
        max_epochs: int = 200,
        patience: int = 20,
        min_delta: float = 0.0,
        smoothing: int = 1,
        min_epochs: int = 0,
        ema_decay: float | None = None,
        batch_size: int | None = None,
        batch_positives: int = 0,
        gradient_clip: float | None = 5.0,
        device: str = "auto",
        threads: int | None = None,
        checkpoint_path: str | Path | None = None,
        progress: bool = True,
        seed: int = 0,
        distributed: bool = False,
        backend: str = "auto",
    ) -> None:
        if optimizer not in ("adam", "adamw"):
            raise ValueError(f"trainer.optimizer must be adam or adamw, got {optimizer!r}")
        if distributed and not batch_size:
            raise ValueError("distributed training needs trainer.batch_size (mini-batches)")
        if batch_positives < 0:
            raise ValueError(f"trainer.batch_positives must be >= 0, got {batch_positives}")
        self.lr, self.weight_decay, self.optimizer_name = lr, weight_decay, optimizer
        self.max_epochs, self.patience = max_epochs, patience
        self.stopping = dict(patience=patience, min_delta=min_delta, smoothing=smoothing,
                             min_epochs=min_epochs)  # fmt: skip
        EarlyStopping(**self.stopping)  # validates the settings before any training
        if ema_decay is not None:
            WeightAverage(ema_decay)
        self.ema_decay = ema_decay
        self.batch_size, self.gradient_clip = batch_size, gradient_clip
        self.batch_positives = batch_positives
        self.device = resolve_device(device)
        self.threads = threads
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.progress = progress
        self.seed = seed
        self.distributed, self.backend = distributed, backend
        self.rank, self.world_size = 0, 1
        self.history: list[EpochRecord] = []
        self.best_epoch = 0
        self.best_loss = math.inf

    def _backend(self) -> str:
        if dist.is_initialized():
            return dist.get_backend()
        if self.backend == "auto":
            return "nccl" if self.device.type == "cuda" else "gloo"
        return self.backend

    def _setup_distributed(self, model: nn.Module) -> None:
        if self._backend() == "nccl" and sparse_tables(model):
            raise ValueError(
                "trainer=ddp with the nccl backend cannot all-reduce the sparse gradients of "
                "model.sparse_embeddings=true (NCCL has no sparse all-reduce); set "
                "model.sparse_embeddings=false (dense gradients for the embedding tables) or "
                "trainer.backend=gloo"
            )
        if not dist.is_initialized():
            dist.init_process_group(self._backend())
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        if self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(self.device)

    def _optimizers(self, model: nn.Module) -> list[torch.optim.Optimizer]:
        """Adam(W) for the dense parameters; SparseAdam for sparse embedding tables."""
        sparse = sparse_tables(model)
        dense = [p for p in model.parameters() if all(p is not q for q in sparse)]
        optimizer = torch.optim.AdamW if self.optimizer_name == "adamw" else torch.optim.Adam
        optimizers = [optimizer(dense, lr=self.lr, weight_decay=self.weight_decay)]
        if sparse:
            optimizers.append(torch.optim.SparseAdam(sparse, lr=self.lr))
        return optimizers

    @staticmethod
    def _snapshot_if_best(model: nn.Module, loss: Tensor, stopping: EarlyStopping) -> dict | None:
        if stopping.improves(float(loss.detach())):
            return copy.deepcopy(model.state_dict())
        return None

    def batches(
        self, num_nodes: int, epoch: int, positives: PositiveIndex | None = None
    ) -> list[Tensor | None]:
        """This rank's batches of one epoch: a seeded global order, every rank's share.

        ``positives`` (on the CPU) is needed when ``batch_positives > 0``."""
        if self.batch_size is None or (self.batch_size >= num_nodes and self.world_size == 1):
            return [None]
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        if self.batch_positives:
            if positives is None:
                raise ValueError("trainer.batch_positives > 0 needs the positive index")
            batches = positive_batches(positives, self.batch_size, self.batch_positives, generator)
        else:
            batches = random_batches(num_nodes, self.batch_size, generator)
        usable = len(batches) // self.world_size * self.world_size
        if usable == 0:
            raise ValueError(f"{len(batches)} batches cannot be shared by {self.world_size} ranks")
        return [b.to(self.device) for b in batches[self.rank : usable : self.world_size]]

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
        if self.distributed:
            self._setup_distributed(model)
        model.to(self.device)
        inputs = inputs.to(self.device)
        positives = PositiveIndex(positive_index.to(self.device), inputs.num_nodes)
        sampling_positives = positives.to("cpu") if self.batch_positives else None
        objective: nn.Module = Objective(model, loss_fn)
        if self.distributed:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            objective = DistributedDataParallel(objective, device_ids=device_ids)
        optimizers = self._optimizers(model)
        dense_parameters = optimizers[0].param_groups[0]["params"]
        best_state = copy.deepcopy(model.state_dict())
        stopping = EarlyStopping(**self.stopping)
        average = WeightAverage(self.ema_decay) if self.ema_decay is not None else None
        bar = tqdm(range(1, self.max_epochs + 1), desc="train", unit="epoch", dynamic_ncols=True,
                   disable=not (self.progress and is_main_process()))  # fmt: skip
        for epoch in bar:
            model.train()
            start = time.perf_counter()
            totals = torch.zeros(3, device=self.device)
            batches = self.batches(inputs.num_nodes, epoch, sampling_positives)
            pending_state = None
            for index in batches:
                for optimizer in optimizers:
                    optimizer.zero_grad(set_to_none=True)
                parts, output = objective(inputs, index, positives.batch(index))
                if len(batches) == 1 and not self.distributed and average is None:
                    # Full batch: keep the weights that produced the loss (as the official
                    # code does), i.e. before this step changes them.
                    pending_state = self._snapshot_if_best(model, parts.loss, stopping)
                parts.loss.backward()
                if self.gradient_clip:
                    nn.utils.clip_grad_norm_(dense_parameters, self.gradient_clip)
                for optimizer in optimizers:
                    optimizer.step()
                totals += torch.stack([p.detach() for p in parts])
            totals /= len(batches)
            if self.distributed:  # every rank must take the same early-stopping decision
                dist.all_reduce(totals)
                totals /= self.world_size
            loss, loss_metapath, loss_schema = totals.tolist()
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
                optimizers[0].param_groups[0]["lr"], seconds, attention_values(output),
            )  # fmt: skip
            self.history.append(record)
            if on_epoch is not None and is_main_process():
                on_epoch(record, output)
            if average is not None:
                average.update(model)
            if stopping.step(loss):
                self.best_loss, self.best_epoch = stopping.best, epoch
                if average is not None:  # the averaged weights are the model
                    best_state = copy.deepcopy(average.state)
                else:
                    best_state = pending_state or copy.deepcopy(model.state_dict())
                if self.checkpoint_path and is_main_process():
                    torch.save({"epoch": epoch, "loss": self.best_loss, "model": best_state},
                               self.checkpoint_path)  # fmt: skip
            bar.set_postfix(loss=f"{loss:.4f}", best=f"{self.best_loss:.4f}")
            if stopping.should_stop:
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
