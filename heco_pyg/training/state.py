"""What a saved training state holds, and the pieces the trainer saves it with: one epoch's
record, the loop's state (:class:`TrainingState`), every RNG's state, and the store the
states go to (:class:`CheckpointStore`, the run's ``RunSession``)."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

#: The layout version of a saved training state.
STATE_FORMAT = 1


@dataclass
class EpochRecord:
    """One epoch of the run's history."""

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


@dataclass
class TrainingState:
    """Everything the loop carries from one step to the next, in one place: what a saved
    training state holds besides the model, the optimizers and the RNGs, and what a resumed
    run restores. A new field is saved and restored with the others (tensors, numbers,
    strings, and lists or dicts of them); give it a default, so states saved before it
    existed still load. Under DDP every rank holds the same values (rank 0 saves them), but
    for :data:`PER_RANK` fields, saved for each rank.
    """

    epoch: int = 0  # epochs completed
    step: int = 0  # steps of epoch + 1 already taken (a stop inside an epoch)
    totals: Tensor | None = None  # this rank's summed (loss, L_mp, L_sc) of those steps
    best_epoch: int = 0
    best_loss: float = math.inf
    best_model: dict[str, Tensor] | None = None  # the weights of the best epoch
    stale: int = 0  # epochs since the best
    history: list[EpochRecord] = field(default_factory=list)
    stopping: dict[str, Any] = field(default_factory=dict)  # EarlyStopping.state_dict()
    average: dict[str, Tensor] | None = None  # the weight average (trainer.ema_decay)

    def state_dict(self) -> dict[str, Any]:
        state = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        state["history"] = [dataclasses.asdict(record) for record in self.history]
        return state

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any], device: torch.device) -> TrainingState:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in state.items() if k in names}
        values["history"] = [EpochRecord(**r) for r in state.get("history", [])]
        move = lambda t: t.to(device) if isinstance(t, Tensor) else t
        values["totals"] = move(values.get("totals"))
        for name in ("best_model", "average"):
            if values.get(name) is not None:
                values[name] = {k: move(v) for k, v in values[name].items()}
        return cls(**values)


#: The fields of :class:`TrainingState` that differ between DDP ranks.
PER_RANK = ("totals",)


class CheckpointStore(Protocol):
    """Where the trainer keeps its states (:class:`heco_pyg.runs.session.RunSession`)."""

    def save_best(self, state: Mapping[str, Any]) -> None:
        """The best model: ``{"epoch", "loss", "model"}``."""

    def save_last(self, state: Mapping[str, Any]) -> None:
        """The latest training state (:meth:`Trainer.state_dict`)."""

    def last_state(self) -> Mapping[str, Any] | None:
        """The latest saved training state, None when there is none."""


def rng_state() -> dict[str, Any]:
    """This process's python, numpy, torch (and CUDA) random states, as tensors and
    numbers (loadable with ``weights_only=True``)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
                  "position": int(position), "has_gauss": int(has_gauss),
                  "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }  # fmt: skip
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Puts back what :func:`rng_state` saved (CUDA's when the same GPUs are visible)."""
    random.setstate(state["python"])
    numpy = state["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32),
                         numpy["position"], numpy["has_gauss"], numpy["gauss"]))  # fmt: skip
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def weights_copy(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A copy of a state dict (its metadata kept): one ``clone`` per tensor, ~6x faster
    than ``copy.deepcopy`` (the best weights are copied at most epochs)."""
    copied = type(state)((name, value.clone()) for name, value in state.items())
    if hasattr(state, "_metadata"):  # an OrderedDict from state_dict()
        copied._metadata = state._metadata
    return copied
