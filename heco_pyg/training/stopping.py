"""When training stops and which weights it keeps: early stopping on a smoothed loss with a
relative improvement threshold, and an exponential moving average of the weights."""

from __future__ import annotations

import math
from collections import deque

import torch
from torch import Tensor, nn


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

    def state_dict(self) -> dict:
        """What a resumed run needs: the window, the best, the counters."""
        return {"recent": list(self.recent), "best": self.best, "best_epoch": self.best_epoch,
                "stale": self.stale, "epoch": self.epoch}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        """Restores :meth:`state_dict` (an empty dict: a fresh start)."""
        if not state:
            return
        self.recent.clear()
        self.recent.extend(state["recent"])
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.stale, self.epoch = state["stale"], state["epoch"]

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
