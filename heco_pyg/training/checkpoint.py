"""The trainer's checkpoints: the best weights (``save_best``), the resumable training state
(``save_last``, written every ``trainer.checkpoint_every`` epochs and on a stop) and reading
it back (``restore``). Where they go is a :class:`~heco_pyg.training.state.CheckpointStore`
(a run: :class:`heco_pyg.runs.session.RunSession` or a bare
:class:`heco_pyg.runs.run_dir.RunDir`); ``None`` keeps nothing.

Under DDP :func:`training_state` and :func:`save_last` are collective (every rank calls
them: the RNG states of all ranks are gathered); rank 0 writes.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from heco_pyg.core.runtime import is_main_process
from heco_pyg.training.state import (
    PER_RANK,
    STATE_FORMAT,
    CheckpointStore,
    TrainingState,
    rng_state,
)

log = logging.getLogger(__name__)


def save_best(store: CheckpointStore | None, state: TrainingState) -> None:
    """Writes the best weights of ``state`` (epoch, loss, model) on rank 0."""
    if store is not None and is_main_process():
        best = {"epoch": state.best_epoch, "loss": state.best_loss, "model": state.best_model}
        store.save_best({"format": STATE_FORMAT, **best})


def training_state(
    state: TrainingState,
    model: nn.Module,
    optimizers: list[torch.optim.Optimizer],
    on_epoch: Any = None,
    world_size: int = 1,
) -> dict[str, Any]:
    """The training state: the model's current weights, the optimizers' states, the
    loop's :class:`TrainingState`, ``on_epoch``'s state, and for every rank its RNG
    states and its :data:`PER_RANK` fields (collective when ``world_size > 1``)."""
    loop = state.state_dict()
    own = {"rng": rng_state()} | {name: loop.pop(name) for name in PER_RANK}
    own = {k: v.cpu() if isinstance(v, Tensor) else v for k, v in own.items()}
    ranks = [own]
    if world_size > 1:
        ranks = [None] * world_size
        dist.all_gather_object(ranks, own)
    saved = {
        "format": STATE_FORMAT,
        "world_size": world_size,
        "model": model.state_dict(),
        "optimizers": [optimizer.state_dict() for optimizer in optimizers],
        "loop": loop,
        "ranks": ranks,
    }
    if hasattr(on_epoch, "state_dict"):
        saved["on_epoch"] = on_epoch.state_dict()
    return saved


def save_last(
    store: CheckpointStore | None,
    state: TrainingState,
    model: nn.Module,
    optimizers: list[torch.optim.Optimizer],
    on_epoch: Any = None,
    world_size: int = 1,
) -> None:
    """Writes the training state (:func:`training_state`; every rank calls this)."""
    if store is None:
        return
    saved = training_state(state, model, optimizers, on_epoch, world_size)
    if is_main_process():
        store.save_last(saved)


def resume_problem(saved: Any, model: nn.Module, world_size: int = 1) -> str | None:
    """What makes the saved training state ``saved`` (the resumable one) unusable to resume
    ``model`` with ``world_size`` processes, or None: its format, its keys, the model's
    parameter names and shapes, finite values, the loop's state. Checked before a resume
    touches the run (:func:`restore` would find the same problems only after)."""
    if not isinstance(saved, dict):
        return f"not a training state (a {type(saved).__name__})"
    if saved.get("format") != STATE_FORMAT:
        return f"format {saved.get('format')!r}, this trainer reads {STATE_FORMAT}"
    missing = [k for k in ("world_size", "model", "optimizers", "loop", "ranks") if k not in saved]
    if missing:
        return f"missing {', '.join(missing)}"
    if saved["world_size"] != world_size or not isinstance(saved["ranks"], list):
        return (f"written by {saved['world_size']} processes, resumed by {world_size}: resume "
                "with the same number")  # fmt: skip
    expected = model.state_dict()
    weights = saved["model"]
    if not isinstance(weights, dict) or set(weights) != set(expected):
        return "its model weights are not this model's (another model or data)"
    for name, tensor in weights.items():
        if not isinstance(tensor, Tensor) or tensor.shape != expected[name].shape:
            return f"its weight {name} has another shape than this model's (another graph?)"
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            return f"its weight {name} holds NaN or inf"
    try:
        TrainingState.from_state_dict(saved["loop"], "cpu")
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        return f"its loop state is unreadable ({type(error).__name__})"
    return None


def restore(
    store: CheckpointStore | None,
    model: nn.Module,
    optimizers: list[torch.optim.Optimizer],
    on_epoch: Any = None,
    world_size: int = 1,
    rank: int = 0,
    device: torch.device | str = "cpu",
) -> tuple[TrainingState, dict[str, Any]] | None:
    """Loads the saved training state into the model, the optimizers and ``on_epoch``;
    returns the loop's :class:`TrainingState` and this rank's RNG states (to set just
    before the first step), or ``None`` when nothing is saved yet."""
    saved = store.last_state() if store is not None else None
    if saved is None:
        log.info("trainer.resume: no saved training state yet, starting at epoch 1")
        return None
    if saved.get("format") != STATE_FORMAT:
        raise ValueError(f"saved training state has format {saved.get('format')}, this "
                         f"trainer reads {STATE_FORMAT}")  # fmt: skip
    if saved["world_size"] != world_size:
        raise ValueError(
            f"the run was trained by {saved['world_size']} processes and is resumed by "
            f"{world_size}: resume it with the same number (the batches of a step "
            "depend on it)"
        )
    if len(saved["optimizers"]) != len(optimizers):
        raise ValueError("the saved training state has other optimizers than this model")
    model.load_state_dict(saved["model"])
    for optimizer, optimizer_state in zip(optimizers, saved["optimizers"], strict=True):
        optimizer.load_state_dict(optimizer_state)
    own = saved["ranks"][rank]
    loop = saved["loop"] | {name: own[name] for name in PER_RANK if name in own}
    state = TrainingState.from_state_dict(loop, device)
    if "on_epoch" in saved and hasattr(on_epoch, "load_state_dict"):
        on_epoch.load_state_dict(saved["on_epoch"])
    log.info("trainer.resume: epoch %d%s done, best epoch %d (loss %.4f)", state.epoch,
             f" and {state.step} steps of the next" if state.step else "",
             state.best_epoch, state.best_loss)  # fmt: skip
    return state, own["rng"]
