"""A training run's life in its folder, as one session: claim the folder (refuse one that
holds another run, or move it aside with ``overwrite=true``), record progress, and seal the
run ``complete``, ``interrupted`` or ``failed``.

``train`` enters the session once::

    session = RunSession(RunDir(path), config, resume=..., overwrite=...)
    session.check_start()              # before any work: a refused folder costs nothing
    with session.building():           # a signal here leaves the folder as it was
        ...                            # build the graph and the model
    with session.training(trainer, stop, overrides):   # claims the folder
        ...                            # fit, write the outputs, evaluate
        session.complete(trainer)      # an error or a signal seals it failed / interrupted

The session is also the trainer's checkpoint store: each saved training state records the
epochs it holds in ``run.json`` (a killed run says how far it got). File names, checked
reads and staged writes stay with :class:`~heco_pyg.runs.run_dir.RunDir`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import OmegaConf

from heco_pyg.core.atomic import fsync_dir, write_atomic
from heco_pyg.core.errors import Interrupted, RunError, signal_name
from heco_pyg.runs import resume_guard
from heco_pyg.runs.manifest import (
    FORMAT,
    config_differences,
    config_hash,
    git_commit,
    is_alive,
    now,
    package_version,
    process,
)
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.runs.run_files import OUTPUTS

if TYPE_CHECKING:
    from heco_pyg.training.interrupt import SignalStop
    from heco_pyg.training.trainer import Trainer

log = logging.getLogger(__name__)


class RunSession:
    """One training run's life in ``run``'s folder.

    Args:
        run: the folder.
        config: the run's saved (unresolved) config, for the manifest.
        resume: continue the run the folder holds (``trainer.resume=true``).
        overwrite: move the run the folder holds aside first (``overwrite=true``).
        writer: this process writes the manifest (rank 0 under ``torchrun``).
    """

    def __init__(self, run: RunDir, config: Mapping | None = None, *, resume: bool = False,
                 overwrite: bool = False, writer: bool = True) -> None:  # fmt: skip
        self.run = run
        self.config = dict(config or {})
        self.resume, self.overwrite, self.writer = bool(resume), bool(overwrite), writer

    # The trainer's checkpoint store (heco_pyg.training.state.CheckpointStore).
    def save_best(self, state: Mapping[str, Any]) -> None:
        self.run.save_best(state)

    def save_last(self, state: Mapping[str, Any]) -> None:
        """Writes the training state and records the epochs it holds."""
        self.run.save_last(state)
        loop = state.get("loop") or {}
        self.progress(loop.get("epoch", 0), loop.get("best_epoch"))

    def last_state(self) -> dict | None:
        return self.run.last_state()

    # The recipe's view: enter once, seal on the way out.
    @contextmanager
    def building(self, overrides: Sequence[str] = ()) -> Iterator[None]:
        """Around the graph build: a signal stops it with the folder as it was; an error
        leaves a new folder marked ``failed`` (with the error line), never bare."""
        try:
            yield
        except Interrupted as interrupted:
            name = signal_name(interrupted.signum)
            raise Interrupted(interrupted.signum, f"{name}: stopped while building the graph; "
                              f"{self.run.path} is as it was") from None  # fmt: skip
        except Exception as error:
            if self.writer and not self.run.holds_run():
                self.start(overrides)
                self.finish("failed", error=f"{type(error).__name__}: {error}")
            raise

    @contextmanager
    def training(self, trainer: Trainer, stop: SignalStop, overrides: Sequence[str] = (),
                 world_size: int = 1) -> Iterator[RunDir]:  # fmt: skip
        """Claims the folder (:meth:`start`) and yields it; on the way out by a signal
        seals the run ``interrupted`` and re-raises with the line that says how to resume
        (:func:`stop_message`), by an error seals it ``failed``. The recipe seals a run that
        ends well itself (:meth:`complete`)."""
        if self.writer:
            self.start(overrides, world_size)
        try:
            yield self.run
        except Interrupted as interrupted:
            if self.writer:
                with stop.deferred():
                    self.finish("interrupted", epochs_done=trainer.state.epoch,
                                best_epoch=trainer.best_epoch)  # fmt: skip
            raise Interrupted(interrupted.signum, stop_message(self.run, interrupted.signum,
                                                               trainer)) from None  # fmt: skip
        except BaseException as error:
            if self.writer:
                with stop.deferred():
                    self.finish("failed", error=f"{type(error).__name__}: {error}",
                                epochs_done=trainer.state.epoch)  # fmt: skip
            raise

    def complete(self, trainer: Trainer) -> dict:
        """Seals a run that ended well."""
        return self.finish("complete", epochs_done=trainer.state.epoch,
                           best_epoch=trainer.best_epoch)  # fmt: skip

    # The steps.
    def check_start(self) -> None:
        """Refuses to train into a folder that holds a run, unless ``resume`` (the config
        must then be the run's, but for :data:`~heco_pyg.runs.manifest.RESUMABLE_KEYS`) or
        ``overwrite``. Writes nothing but, on a refusal, the run's own ``.hydra`` files back
        (Hydra has already replaced them with the refused command's)."""
        if self.resume and self.overwrite:
            raise RunError("trainer.resume=true and overwrite=true: choose one")
        if not self.run.holds_run():
            return  # a new run (resume=true in an empty folder starts one)
        manifest = self.run.manifest_or_none(unreadable_ok=self.overwrite)
        if manifest is not None and manifest.get("status") == "running" and is_alive(manifest):
            self._restore_hydra(manifest)
            raise RunError(
                f"{self.run.path}: another process (pid {manifest['pid']} on {manifest['host']}) "
                "is training into this folder; wait for it, or choose another hydra.run.dir"
            )
        if self.overwrite:
            return
        if manifest is None:
            raise RunError(
                f"{self.run.path} holds the outputs of a run without run.json (one from before "
                "run manifests, or not a training run): move them away, choose another "
                "hydra.run.dir, or set overwrite=true to move them into "
                f"{self.run.previous_dir}/"
            )
        if not self.resume:
            self._restore_hydra(manifest)
            raise RunError(
                f"{self.run.path} already holds a run ({self._describe(manifest)}): continue it "
                "with trainer.resume=true, start over with overwrite=true (its outputs move "
                f"to {self.run.previous_dir}/), or choose another hydra.run.dir"
            )
        differences = config_differences(manifest.get("config") or {}, self.config)
        if differences:
            self._restore_hydra(manifest)
            raise RunError(
                f"{self.run.path}: trainer.resume=true needs the config the run started with, "
                f"but {'; '.join(differences)} (only trainer.max_epochs may change)"
            )

    def start(self, overrides: Sequence[str] = (), world_size: int = 1) -> dict:
        """Claims the folder for a run with ``config`` (the saved, unresolved config):
        ``overwrite`` first moves a previous run's outputs to ``previous/<its start>/``;
        then writes the manifest with status ``running``."""
        self.check_start()
        self.run.path.mkdir(parents=True, exist_ok=True)
        previous = self.run.manifest_or_none(unreadable_ok=self.overwrite)
        if self.overwrite and self.run.holds_run():
            self._move_aside(previous)
            previous = None
        if self.resume:
            resume_guard.keep(self.run, previous)
        started = now()
        continuing = self.resume and previous is not None
        manifest = {
            "format": FORMAT,
            "status": "running",
            "error": None,
            "overrides": list(overrides),
            "config_hash": config_hash(self.config),
            "package_version": package_version(),
            "git_commit": git_commit(),
            **process(),
            "world_size": int(world_size),
            "started": previous["started"] if continuing else started,
            "resumed": [*previous.get("resumed", []), started] if continuing else [],
            "ended": None,
            "epochs_done": int(previous.get("epochs_done", 0)) if continuing else 0,
            "best_epoch": previous.get("best_epoch") if continuing else None,
            "rows": None,
            "files": {},
            "config": dict(self.config),
        }
        self.run.write_manifest(manifest)
        return manifest

    def progress(self, epochs_done: int, best_epoch: int | None = None) -> None:
        """Records the epochs a saved training state holds (a killed run says how far it
        got)."""
        manifest = self.run.manifest_or_none()
        if manifest is None:
            return
        manifest["epochs_done"], manifest["best_epoch"] = int(epochs_done), best_epoch
        self.run.write_manifest(manifest)

    def finish(self, status: str, *, epochs_done: int | None = None,
               best_epoch: int | None = None, error: str | None = None) -> dict:  # fmt: skip
        """Seals the run: ``status`` (``complete``, ``interrupted`` or ``failed`` with the
        ``error`` line), the end time, and each output file's size and SHA-256."""
        if status not in ("complete", "interrupted", "failed"):
            raise ValueError(f"cannot finish a run as {status!r}")
        line = error.strip().splitlines()[0] if error and error.strip() else None
        if status == "complete":
            resume_guard.drop(self.run)
        else:  # a failed resume of a complete run gives its outputs back
            restored = resume_guard.give_back(self.run, {"status": status, "error": line,
                                                         "ended": now()})  # fmt: skip
            if restored is not None:
                return restored
        manifest = self.run.manifest_or_none() or {"format": FORMAT, "config": None}
        files = {name: self.run.stamp(self.run.path / name).as_dict() for name in OUTPUTS
                 if (self.run.path / name).is_file()}  # fmt: skip
        manifest |= {
            "status": status,
            "error": line,
            "ended": now(),
            "files": files,
            "rows": self.run.count_rows() if "embeddings/ids.csv" in files else None,
        }
        if epochs_done is not None:
            manifest["epochs_done"] = int(epochs_done)
        if best_epoch is not None:
            manifest["best_epoch"] = int(best_epoch)
        self.run.write_manifest(manifest)
        return manifest

    @staticmethod
    def _describe(manifest: Mapping) -> str:
        text = f"{manifest.get('status')}, started {manifest.get('started')}"
        return text + f", {manifest.get('epochs_done', 0)} epochs"

    def _restore_hydra(self, manifest: Mapping | None, folder: Path | None = None) -> None:
        """Writes the run's ``.hydra/config.yaml`` and ``overrides.yaml`` from its
        manifest (into ``folder``, default: the run's own ``.hydra`` when Hydra made one)."""
        if not manifest or manifest.get("config") is None:
            return
        folder = folder or self.run.config_path.parent
        if folder == self.run.config_path.parent and not folder.is_dir():
            return
        write_atomic(folder / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(
            manifest["config"])))  # fmt: skip
        write_atomic(folder / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(
            list(manifest.get("overrides", [])))))  # fmt: skip

    def _move_aside(self, manifest: Mapping | None) -> Path:
        """Moves every output of the run here (all but ``.hydra``, Hydra's log and
        ``previous/``) into ``previous/<its start time>/``, with its ``.hydra`` files."""
        stamp = re.sub(r"[^0-9A-Za-z]+", "-", str((manifest or {}).get("started") or now()))
        target = self.run.previous_dir / stamp.strip("-")
        suffix = 1
        while target.exists():
            suffix += 1
            target = self.run.previous_dir / f"{stamp.strip('-')}-{suffix}"
        target.mkdir(parents=True)
        for entry in sorted(self.run.path.iterdir()):
            if entry.name in (".hydra", self.run.previous_dir.name) or entry.suffix == ".log":
                continue
            os.rename(entry, target / entry.name)
        self._restore_hydra(manifest, target / ".hydra")
        fsync_dir(self.run.path)
        self.run.forget_stamps()
        log.warning("overwrite=true: the previous run's outputs moved to %s", target)
        return target


def stop_message(run: RunDir, signum: int, trainer: Trainer) -> str:
    """The one line an interrupted run prints: where it stopped, what it kept, and the
    command that resumes it."""
    state = trainer.state
    if not state.best_epoch:
        where = "before the first epoch ended; nothing to read yet"
    else:
        steps = f" and {state.step} steps of epoch {state.epoch + 1}" if state.step else ""
        where = f"after epoch {state.epoch}{steps}; the best epoch's ({state.best_epoch}) " \
                "outputs are written"  # fmt: skip
        if not (trainer.stopped or state.step):
            where = f"after training ({state.epoch} epochs), before the evaluation ended"
    try:
        resume = run.resume_command()
    except RunError:  # no manifest here (another node's rank)
        resume = f"the same command with hydra.run.dir={run.path} trainer.resume=true"
    return f"{signal_name(signum)}: {run.path} stopped {where}; resume: {resume}"
