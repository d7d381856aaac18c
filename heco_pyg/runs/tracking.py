"""The thin wandb adapter. ``logger=wandb`` runs offline unless ``logger.mode=online``;
``logger=none`` is the same code path with wandb's ``disabled`` mode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import wandb
from torch import Tensor

from heco_pyg.core.secrets import redact


class Tracker:
    """Logs per-epoch series, a run summary and (opt-in) the outputs as an Artifact.

    Args:
        mode: ``offline`` (default, no account or network needed), ``online`` or ``disabled``.
        project, name, group, tags: wandb run metadata (``group`` = sweep name).
        log_artifacts: upload the embeddings and checkpoint as a wandb Artifact.
        dir: where wandb writes its files (the Hydra run dir).
        quiet: leave out wandb's console summary (its sparkline table at the end of a run;
            the run's own summary says what happened).
    """

    def __init__(
        self,
        mode: str = "offline",
        project: str = "heco_pyg",
        name: str | None = None,
        group: str | None = None,
        tags: Sequence[str] = (),
        log_artifacts: bool = False,
        dir: str | Path | None = None,
        quiet: bool = True,
    ) -> None:
        if mode not in ("offline", "online", "disabled"):
            raise ValueError(f"logger.mode must be offline, online or disabled, got {mode!r}")
        self.mode = mode
        self.log_artifacts = log_artifacts
        self.run = wandb.init(
            mode=mode, project=project, name=name, group=group, tags=list(tags),
            dir=str(dir) if dir else None, reinit="finish_previous",
            settings=wandb.Settings(quiet=quiet),
        )  # fmt: skip

    @property
    def run_path(self) -> Path | None:
        """The wandb run folder (``.../wandb/offline-run-...``), or None when disabled."""
        if self.mode == "disabled":
            return None
        return Path(self.run.dir).parent

    def config(self, values: Mapping[str, Any]) -> None:
        """Records the run's resolved config, secrets redacted."""
        self.run.config.update(redact(dict(values)), allow_val_change=True)

    def log(self, values: Mapping[str, Any], step: int | None = None) -> None:
        self.run.log(dict(values), step=step)

    def histogram(self, values: Tensor | np.ndarray, num_bins: int = 32) -> Any | None:
        """A histogram of ``values`` to :meth:`log` (``None`` when disabled)."""
        if self.mode == "disabled":
            return None
        values = values.flatten().numpy() if isinstance(values, Tensor) else np.ravel(values)
        return wandb.Histogram(values, num_bins=num_bins)

    def summary(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            self.run.summary[key] = value

    def images(self, paths: Mapping[str, Path]) -> None:
        """Logs image files (``{"plots/loss": loss.png, ...}``) as ``wandb.Image``s."""
        if self.mode == "disabled":
            return
        self.run.log({key: wandb.Image(str(path)) for key, path in paths.items()})

    def artifact(self, name: str, paths: Sequence[Path]) -> None:
        if not self.log_artifacts or self.mode == "disabled":
            return
        artifact = wandb.Artifact(name, type="embeddings")
        for path in paths:
            artifact.add_file(str(path))
        self.run.log_artifact(artifact)

    def finish(self) -> None:
        self.run.finish()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.finish()
