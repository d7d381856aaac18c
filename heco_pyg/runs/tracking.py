"""The thin wandb adapter. ``logger=wandb`` runs offline unless ``logger.mode=online``;
``logger=none`` (``mode=disabled``) records nothing and never imports wandb (about a
second of start-up)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from heco_pyg.core.errors import UserError
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
        self.run = None
        if mode == "disabled":
            return
        import wandb

        try:
            self.run = wandb.init(
                mode=mode,  # type: ignore[arg-type]  # checked above
                project=project, name=name, group=group, tags=list(tags),
                dir=str(dir) if dir else None, reinit="finish_previous",
                settings=wandb.Settings(quiet=quiet),
            )  # fmt: skip
        except Exception as error:  # wandb's own errors are several lines, with no hint
            reason = redact(" ".join(str(error).split()))[:300].rstrip(".")
            raise UserError(
                f"wandb could not start (logger.mode={mode}): {reason or type(error).__name__}."
                " Log in (`wandb login` or WANDB_API_KEY), or train with logger.mode=offline "
                "(the default) or logger=none"
            ) from None

    @property
    def run_path(self) -> Path | None:
        """The wandb run folder (``.../wandb/offline-run-...``), or None when disabled."""
        if self.run is None:
            return None
        return Path(self.run.dir).parent

    def config(self, values: Mapping[str, Any]) -> None:
        """Records the run's resolved config, secrets redacted."""
        if self.run is not None:
            self.run.config.update(redact(dict(values)), allow_val_change=True)

    def log(self, values: Mapping[str, Any], step: int | None = None) -> None:
        if self.run is not None:
            self.run.log(dict(values), step=step)

    def histogram(self, values: Tensor | np.ndarray, num_bins: int = 32) -> Any | None:
        """A histogram of ``values`` to :meth:`log` (``None`` when disabled)."""
        if self.mode == "disabled":
            return None
        import wandb

        values = values.flatten().numpy() if isinstance(values, Tensor) else np.ravel(values)
        return wandb.Histogram(values, num_bins=num_bins)  # type: ignore[arg-type]  # ndarray

    def summary(self, values: Mapping[str, Any]) -> None:
        if self.run is None:
            return
        for key, value in values.items():
            self.run.summary[key] = value

    def images(self, paths: Mapping[str, Path]) -> None:
        """Logs image files (``{"plots/loss": loss.png, ...}``) as ``wandb.Image``s."""
        if self.run is None:
            return
        import wandb

        self.run.log({key: wandb.Image(str(path)) for key, path in paths.items()})

    def artifact(self, name: str, paths: Sequence[Path]) -> None:
        if not self.log_artifacts or self.run is None:
            return
        import wandb

        artifact = wandb.Artifact(name, type="embeddings")
        for path in paths:
            artifact.add_file(str(path))
        self.run.log_artifact(artifact)

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.finish()
