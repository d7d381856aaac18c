"""The training loop: full- or mini-batch steps, early stopping, best checkpoint, NaN guard,
weight averaging, resumable training state, stopping on request (a signal) after any step,
and data-parallel training over ``torch.distributed`` (launched with ``torchrun``)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from heco_pyg.core.runtime import configure_threads, is_main_process, resolve_device
from heco_pyg.nn.containers import GraphInputs, HeCoOutput
from heco_pyg.nn.heco import HeCo
from heco_pyg.training import checkpoint
from heco_pyg.training.batches import PositiveIndex, rank_batches, step_inputs
from heco_pyg.training.distributed import join_process_group
from heco_pyg.training.loss import HeCoLoss
from heco_pyg.training.objective import Objective, attention_values
from heco_pyg.training.optimizers import make_optimizers
from heco_pyg.training.progress import epoch_bar, log_stop, step_bar
from heco_pyg.training.state import (
    CheckpointStore,
    EpochRecord,
    TrainingState,
    set_rng_state,
    weights_copy,
)
from heco_pyg.training.stopping import EarlyStopping, WeightAverage

__all__ = ["EpochRecord", "NonFiniteLossError", "Objective", "Trainer", "TrainingState"]

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


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
            (:func:`heco_pyg.training.batches.positive_batches`), so the batch keeps its positive
            pairs; an epoch then has about ``1 + k`` times more steps. 0: random batches.
        gradient_clip: max gradient norm of the dense parameters (``None``: no clipping).
        device: ``auto``, ``cpu`` or ``cuda``.
        threads: torch intra-op threads: ``auto`` (the CPUs other jobs leave free,
            :func:`heco_pyg.core.runtime.auto_threads`), an int, or ``None``
            (torch's default).
        checkpoints: where the best model and the training state are saved
            (:class:`CheckpointStore`, e.g. the run's ``RunSession``; ``None``: in memory only).
            The best model is written with the training state when it changed since the
            last write (not at every improvement: on a slowly improving loss that was most
            epochs' writes), so the two saved files always agree.
        checkpoint_every: save the training state every this many epochs (and always when
            training stops or ends); 0: only then.
        resume: continue from the training state in ``checkpoints`` (model, optimizers,
            epoch and step, best loss and epoch, patience counter, RNG states, history);
            with none saved yet, start from the first epoch.
        progress: show a progress bar.
        progress_every: without a terminal, a log line every this many seconds (epoch,
            loss, best, elapsed); 0 or None: none.
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
        threads: int | str | None = None,
        checkpoints: CheckpointStore | None = None,
        checkpoint_every: int = 10,
        resume: bool = False,
        progress: bool = True,
        progress_every: float | None = 30.0,
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
        if max_epochs < 1:
            raise ValueError(f"trainer.max_epochs must be >= 1, got {max_epochs}")
        if checkpoint_every < 0:
            raise ValueError(f"trainer.checkpoint_every must be >= 0, got {checkpoint_every}")
        self.lr, self.weight_decay, self.optimizer_name = lr, weight_decay, optimizer
        self.max_epochs, self.patience = max_epochs, patience
        self.batch_size, self.gradient_clip = batch_size, gradient_clip
        self.batch_positives = batch_positives
        self.device = resolve_device(device)
        self.threads = threads
        self.stopping = dict(patience=patience, min_delta=min_delta, smoothing=smoothing,
                             min_epochs=min_epochs)  # fmt: skip
        EarlyStopping(**self.stopping)  # validates the settings before any training
        if ema_decay is not None:
            WeightAverage(ema_decay)
        self.ema_decay = ema_decay
        self.checkpoints = checkpoints
        self.checkpoint_every, self.resume = checkpoint_every, resume
        self.progress, self.progress_every = progress, progress_every
        self.seed = seed
        self.distributed, self.backend = distributed, backend
        self.rank, self.world_size = 0, 1
        self.state = TrainingState()
        self.stopped = False  # fit() ended on a stop request
        self._best_unsaved = False  # the best state changed since checkpoints last saved it

    @property
    def history(self) -> list[EpochRecord]:
        return self.state.history

    @property
    def best_epoch(self) -> int:
        return self.state.best_epoch

    @property
    def best_loss(self) -> float:
        return self.state.best_loss

    def make_optimizers(self, model: nn.Module) -> list[torch.optim.Optimizer]:
        """:func:`heco_pyg.training.optimizers.make_optimizers` with this trainer's settings."""
        return make_optimizers(model, self.optimizer_name, self.lr, self.weight_decay)

    def batches(
        self, num_nodes: int, epoch: int, positives: PositiveIndex | None = None
    ) -> list[Tensor | None]:
        """This rank's batches of one epoch, on the host
        (:func:`heco_pyg.training.batches.rank_batches`)."""
        return rank_batches(num_nodes, epoch, self.batch_size, self.batch_positives, self.seed,
                            self.rank, self.world_size, positives)  # fmt: skip

    @staticmethod
    def _snapshot_if_best(model: nn.Module, loss: Tensor, stopping: EarlyStopping) -> dict | None:
        if stopping.improves(float(loss.detach())):
            return weights_copy(model.state_dict())
        return None

    def fit(
        self,
        model: HeCo,
        loss_fn: HeCoLoss,
        inputs: GraphInputs,
        positive_index: Tensor,
        on_epoch: Callable[[EpochRecord, HeCoOutput], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> HeCo:
        """Trains ``model``; returns it with the best (lowest-loss) weights loaded.

        ``should_stop`` is asked after every step (under DDP, a stop on any rank stops them
        all at the same step): when it says yes, the training state is saved and ``fit``
        returns early with :attr:`stopped` set. ``on_epoch`` may have ``state_dict`` /
        ``load_state_dict``: its state is saved and resumed with the trainer's.
        """
        configure_threads(self.threads)
        if self.distributed:
            self.rank, self.world_size, self.device = join_process_group(
                model, self.backend, self.device
            )
        model.to(self.device)
        inputs = inputs.to(self.device)
        host_positives = PositiveIndex(positive_index.cpu(), inputs.num_nodes)
        positives = host_positives.to(self.device)
        optimizers = self.make_optimizers(model)
        dense_parameters = optimizers[0].param_groups[0]["params"]
        self.state = TrainingState(best_model=weights_copy(model.state_dict()))
        rng = self._restore(model, optimizers, on_epoch) if self.resume else None
        state, self.stopped, self._best_unsaved = self.state, False, False
        # The stopping rule and the weight average carry their state in ``state`` (resumed).
        stopping = EarlyStopping(**self.stopping)
        stopping.load_state_dict(state.stopping)
        average = WeightAverage(self.ema_decay) if self.ema_decay is not None else None
        if average is not None:
            average.state = state.average
        objective: nn.Module = Objective(model, loss_fn)
        if self.distributed:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            objective = DistributedDataParallel(objective, device_ids=device_ids)
        save_last = lambda: self.save_last(model, optimizers, on_epoch)
        saved_epoch = state.epoch if rng is not None else -1
        if rng is not None:
            set_rng_state(rng)  # last: nothing may draw between here and the first step
        bar = epoch_bar(self.max_epochs, self.patience, self.progress, initial=state.epoch,
                        every=self.progress_every)  # fmt: skip
        for epoch in range(state.epoch + 1, self.max_epochs + 1):
            if stopping.should_stop:
                break
            model.train()
            start = time.perf_counter()
            totals = torch.zeros(3, device=self.device) if state.totals is None else state.totals
            batches = self.batches(
                inputs.num_nodes, epoch, host_positives if self.batch_positives else None
            )
            pending_state, inside = None, False
            for step, host_index in enumerate(step_bar(batches, epoch, self.progress)):
                if step < state.step:
                    continue  # taken before the stop this run resumes from
                index, pairs = step_inputs(host_index, host_positives, positives, self.device)
                for optimizer in optimizers:
                    optimizer.zero_grad(set_to_none=True)
                parts, output = objective(inputs, index, pairs)
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
                self.stopped = self._stop_requested(should_stop)
                if self.stopped and step + 1 < len(batches):  # inside an epoch: save the step
                    state.step, state.totals, inside = step + 1, totals, True
                    break
            if inside:
                save_last()
                break
            state.step, state.totals = 0, None
            totals /= len(batches)
            if self.distributed:  # every rank must take the same early-stopping decision
                dist.all_reduce(totals)
                totals /= self.world_size
            loss, loss_metapath, loss_schema = totals.tolist()
            seconds = time.perf_counter() - start
            if not math.isfinite(loss):
                model.load_state_dict(state.best_model)
                if self._best_unsaved:
                    self.save_best()
                raise NonFiniteLossError(
                    f"loss became {loss} at epoch {epoch}; the best checkpoint (epoch "
                    f"{state.best_epoch}, loss {state.best_loss:.4f}) is kept"
                )
            record = EpochRecord(
                epoch, loss, loss_metapath, loss_schema,
                optimizers[0].param_groups[0]["lr"], seconds, attention_values(output),
            )  # fmt: skip
            state.history.append(record)
            state.epoch = epoch
            if on_epoch is not None and is_main_process():
                on_epoch(record, output)
            if average is not None:
                average.update(model)
                state.average = average.state
            improved = stopping.step(loss)
            state.stopping = stopping.state_dict()
            state.stale = stopping.stale
            if improved:
                state.best_loss, state.best_epoch = stopping.best, epoch
                if average is not None:  # the averaged weights are the model
                    state.best_model = weights_copy(average.state)
                else:
                    state.best_model = pending_state or weights_copy(model.state_dict())
                self._best_unsaved = True  # written with the next training state
            bar.update()
            bar.set_postfix(loss=f"{loss:.4f}", best=f"{state.best_loss:.4f}")
            if self.stopped or (self.checkpoint_every and epoch % self.checkpoint_every == 0):
                save_last()
                saved_epoch = epoch
            if self.stopped:
                break
        if not self.stopped and saved_epoch != state.epoch:
            save_last()  # the final state: a resumed run continues (more epochs) from here
        bar.close()
        if not self.stopped:
            log_stop(state.epoch, self.max_epochs, state.best_epoch, state.best_loss)
        model.load_state_dict(state.best_model)
        return model

    def _stop_requested(self, should_stop: Callable[[], bool] | None) -> bool:
        if should_stop is None:
            return False
        stop = bool(should_stop())
        if self.distributed:  # one rank's signal stops every rank at this step
            flag = torch.tensor([float(stop)], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            stop = bool(flag.item())
        return stop

    def save_best(self) -> None:
        """Writes the best weights so far (:func:`heco_pyg.training.checkpoint.save_best`)."""
        checkpoint.save_best(self.checkpoints, self.state)

    def state_dict(
        self, model: nn.Module, optimizers: list[torch.optim.Optimizer], on_epoch: Any = None
    ) -> dict[str, Any]:
        """The training state (:func:`heco_pyg.training.checkpoint.training_state`;
        collective under DDP: every rank calls it)."""
        return checkpoint.training_state(self.state, model, optimizers, on_epoch,
                                         self.world_size)  # fmt: skip

    def save_last(self, model, optimizers, on_epoch=None) -> None:
        """Writes the training state, the best weights first when they changed since the
        last write (a kill between the two writes then leaves a newer best)."""
        if self.checkpoints is None:
            return
        if self._best_unsaved:
            self.save_best()
            self._best_unsaved = False
        checkpoint.save_last(self.checkpoints, self.state, model, optimizers, on_epoch,
                             self.world_size)  # fmt: skip

    def _restore(self, model, optimizers, on_epoch) -> dict[str, Any] | None:
        """Loads the saved training state into the model, optimizers, :attr:`state` and
        ``on_epoch``; returns this rank's RNG states (set just before the first step)."""
        restored = checkpoint.restore(self.checkpoints, model, optimizers, on_epoch,
                                      self.world_size, self.rank, self.device)  # fmt: skip
        if restored is None:
            return None
        self.state, rng = restored
        if self.state.best_epoch:
            self.save_best()  # the best as of this state (a killed run may have saved a later one)
        return rng
