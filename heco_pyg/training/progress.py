"""Progress of the training loop: an epoch bar whose ETA does not pretend to know when
early stopping ends the run, a step bar inside mini-batch epochs, and one log line when
the loop stops. Bars are drawn on a terminal only; elsewhere (``make train | tee``, nohup,
SLURM) a log line every ``trainer.progress_every`` seconds says where training is. Rank 0
only under ``torchrun``."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from tqdm.auto import tqdm

from heco_pyg.core.phases import duration
from heco_pyg.core.progress import bars_enabled
from heco_pyg.core.runtime import is_main_process

log = logging.getLogger(__name__)

#: No remaining-time estimate: with early stopping the last epoch is unknown.
NO_ETA = "{desc}: {n_fmt} epochs [{elapsed}, {rate_fmt}{postfix}]"


def epoch_bar_format(max_epochs: int, patience: int) -> str | None:
    """:data:`NO_ETA` when early stopping may end the run before ``max_epochs``, else
    tqdm's default (a full bar with its ETA)."""
    return NO_ETA if patience < max_epochs else None


class EpochProgress(tqdm):
    """The epoch bar, and where no bar is drawn (the output is not a terminal: ``tee``,
    ``nohup``, SLURM) one log line every ``every`` seconds with the epoch, the loss, the
    best loss and the elapsed time (``every`` 0 or None: none)."""

    def __init__(self, *args, every: float | None = 30.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.every = every if every and self.disable and is_main_process() else None
        self.started = self.last_line = time.monotonic()

    def update(self, n: float | None = 1) -> bool | None:
        if self.disable:  # a disabled tqdm counts nothing: the log lines need the epoch
            self.n += n or 0
        return super().update(n)

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **values) -> None:
        super().set_postfix(ordered_dict, refresh, **values)
        now = time.monotonic()
        if self.every is not None and now - self.last_line >= self.every:
            self.last_line = now
            cells = " ".join(f"{k} {v}" for k, v in values.items())
            log.info("training: epoch %d/%s %s, elapsed %s", self.n, self.total, cells,
                     duration(now - self.started))  # fmt: skip


def epoch_bar(max_epochs: int, patience: int, progress: bool = True, initial: int = 0,
              every: float | None = 30.0) -> EpochProgress:  # fmt: skip
    """A bar over epochs ``1..max_epochs`` (advance it with ``update()``, then
    ``set_postfix(loss=..., best=...)``; ``initial``: the epochs a resumed run has done);
    with ``patience < max_epochs`` (early stopping may end the run at any epoch) it shows
    elapsed time and rate but no ETA. Without a terminal: a log line every ``every``
    seconds instead (:class:`EpochProgress`)."""
    if is_main_process():
        stopping = (
            f", early stop after {patience} without improvement" if patience < max_epochs else ""
        )
        log.info("training: up to %d epochs%s", max_epochs, stopping)
    return EpochProgress(total=max_epochs, initial=initial, desc="train", unit="epoch",
                         dynamic_ncols=True, bar_format=epoch_bar_format(max_epochs, patience),
                         disable=not bars_enabled(progress), every=every)  # fmt: skip


def step_bar(batches: Sequence, epoch: int, progress: bool = True) -> Sequence | tqdm:
    """The steps of one mini-batch epoch as a transient bar (full batch: no bar)."""
    if len(batches) <= 1 or not bars_enabled(progress):
        return batches
    return tqdm(batches, desc=f"epoch {epoch}", unit="step", leave=False, dynamic_ncols=True)


def stop_reason(epochs: int, max_epochs: int, best_epoch: int) -> str:
    """Why the loop stopped: ``early stop at epoch e (best epoch b)`` or ``max epochs``."""
    if epochs < max_epochs:
        stale = epochs - best_epoch
        return (
            f"early stop at epoch {epochs} (best epoch {best_epoch}, {stale} without improvement)"
        )
    return f"max epochs ({max_epochs}) reached (best epoch {best_epoch})"


def log_stop(epochs: int, max_epochs: int, best_epoch: int, best_loss: float) -> None:
    """The one line that says how training ended."""
    if is_main_process():
        log.info(
            "training: %s, best loss %.4f", stop_reason(epochs, max_epochs, best_epoch), best_loss
        )
