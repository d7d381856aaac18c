"""A training run's folder, read and written: every output goes through :class:`RunDir`
(the file names: :class:`~heco_pyg.runs.run_files.RunFiles`; the run's life, from claiming
the folder to sealing the manifest: :class:`~heco_pyg.runs.session.RunSession`), and every
reader (evaluate, recommend, report, sweep summaries, cold start) reads through it.

**The manifest.** ``run.json`` says whether the run is ``running``, ``complete``,
``interrupted`` (stopped by a signal; its outputs are the best state's) or ``failed`` (with
the error's line), and holds the config (and its SHA-256), the package version, the git
commit, start and end times, the epochs done, and each output file's size and SHA-256.
Readers accept a ``complete`` or ``interrupted`` run whose files match the manifest and
refuse anything else with one line (:class:`~heco_pyg.core.errors.RunError`) saying what
is wrong and what to run.

**Writes** are atomic (:mod:`heco_pyg.core.atomic`): a temporary file in the same folder,
fsync, ``os.replace``. The embeddings, their ids and ``papers.csv`` are staged together and
renamed into place as one set, and the manifest is written last, so a reader never sees a
mix of two runs.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from heco_pyg.core.atomic import (
    atomic_path,
    dumps_strict,
    file_stamp,
    fsync_dir,
    loads_strict,
    save_numpy,
    save_torch,
    write_atomic,
    write_bytes,
)
from heco_pyg.core.errors import RunError
from heco_pyg.runs.embedding_file import read_embeddings
from heco_pyg.runs.manifest import (
    READABLE,
    is_alive,
)
from heco_pyg.runs.run_files import EVALUATIONS, RunFiles, read_table
from heco_pyg.runs.saved_config import checked_config

log = logging.getLogger(__name__)

__all__ = ["RunDir", "RunError", "write_atomic"]


class RunDir(RunFiles):
    """The folder of one training run (Hydra's run dir): checked reads and staged writes.

    Args:
        path: the folder; it need not exist yet for writing.
    """

    def check(self) -> dict:
        """The manifest of a readable (``complete`` or ``interrupted``) run; otherwise
        :class:`RunError` saying what is wrong and what to run."""
        manifest = self.manifest()
        status = manifest.get("status")
        if status in READABLE:
            return manifest
        resume = self.resume_command(manifest)
        epochs = manifest.get("epochs_done", 0)
        if status == "running" and is_alive(manifest):
            message = (f"training is still running (pid {manifest['pid']}, {epochs} epochs "
                       "saved); wait for it to finish")  # fmt: skip
        elif status == "running":
            message = (f"training did not finish (run.json says running, {epochs} epochs "
                       f"saved: the process was killed?); resume it: {resume}")  # fmt: skip
        elif status == "failed":
            message = (f"training failed ({manifest.get('error')}); fix the cause, then "
                       f"resume ({resume}) or start over with overwrite=true")  # fmt: skip
        else:
            message = f"run.json has an unknown status {status!r}"
        raise RunError(f"{self.path}: {message}")

    def readable(self) -> bool:
        try:
            self.check()
        except RunError:
            return False
        return True

    def verified(self, path: Path, required: bool = True) -> Path | None:
        """``path`` (a file of this run) once it matches the manifest: listed, the same size
        and SHA-256. ``required=False``: None when the run has no such file."""
        manifest = self.check()
        name = self._name(path)
        entry = (manifest.get("files") or {}).get(name)
        rewrite = f"rewrite the outputs: {self.resume_command(manifest)}"
        if entry is None:
            if not required:
                return None
            if manifest.get("status") == "interrupted" and not manifest.get("epochs_done"):
                raise RunError(f"{path}: the run was interrupted before its first epoch "
                               f"ended, so it has no outputs yet; resume it: "
                               f"{self.resume_command(manifest)}")  # fmt: skip
            raise RunError(f"{path}: not among the outputs run.json lists for this "
                           f"{manifest.get('status')} run")  # fmt: skip
        if not path.is_file():
            raise RunError(f"{path}: missing, though run.json lists it; {rewrite}")
        stat = path.stat()
        if stat.st_size != entry["bytes"]:
            raise RunError(f"{path}: {stat.st_size} bytes, but run.json says {entry['bytes']} "
                           f"(changed or truncated after training); {rewrite}")  # fmt: skip
        key = (stat.st_size, stat.st_mtime_ns)
        if self._checked.get(name) != key:
            if file_stamp(path).sha256 != entry["sha256"]:
                raise RunError(f"{path}: its SHA-256 differs from run.json's (the file changed "
                               f"after training); {rewrite}")  # fmt: skip
            self._checked[name] = key
        return path

    def verify(self) -> dict:
        """The manifest, once every file it lists matches (size and SHA-256)."""
        manifest = self.check()
        for name in manifest.get("files") or {}:
            self.verified(self.path / name)
        return manifest

    def config(self) -> DictConfig:
        """The config the run was trained with (unresolved; from its manifest)."""
        manifest = self.check()
        if manifest.get("config") is None:
            raise RunError(f"{self.manifest_path}: holds no config")
        return checked_config(manifest["config"], self.manifest_path)

    def overrides(self) -> list[str]:
        """The run's command-line overrides (``[]`` when Hydra saved none)."""
        if not self.overrides_path.is_file():
            return []
        try:
            overrides = OmegaConf.load(self.overrides_path) or []
        except Exception as error:  # YAML errors (a python tag, a syntax error) of all kinds
            raise RunError(f"{self.overrides_path}: not a YAML list of overrides "
                           f"({type(error).__name__})") from None  # fmt: skip
        if not isinstance(overrides, (ListConfig, list)):
            raise RunError(f"{self.overrides_path}: not a YAML list of overrides")
        return [str(item) for item in overrides]

    def ids(self) -> list[str]:
        path = self.verified(self.ids_path)
        table = read_table(path)
        if "paper_id" not in table.columns:
            raise RunError(f"{path}: needs a paper_id column")
        return table["paper_id"].tolist()

    def embeddings(self, view: str) -> tuple[torch.Tensor, list[str]]:
        """``embeddings/<view>.npy`` (``[N, C]``) and the paper id of each row."""
        path = self.verified(self.embedding_path(view))
        z = torch.from_numpy(read_embeddings(path)).float()  # real, [N, C], unit rows
        ids = self.ids()
        rows = self.manifest().get("rows")
        if not len(ids) == z.size(0) == rows:
            raise RunError(f"{path}: {z.size(0)} rows, {self.ids_path.name} {len(ids)}, "
                           f"run.json {rows}: they must agree")  # fmt: skip
        return z, ids

    def papers(self) -> Path | None:
        """``papers.csv`` when the run has one."""
        return self.verified(self.papers_path, required=False)

    def history(self, required: bool = False) -> pd.DataFrame | None:
        path = self.verified(self.history_path, required=required)
        return read_table(path, dtype=None) if path is not None else None

    def metrics(self) -> dict | None:
        path = self.verified(self.metrics_path, required=False)
        if path is None:
            return None
        return loads_strict(path.read_text(), str(path), RunError)

    def evaluation(self, name: str) -> dict | None:
        """``<name>.json`` of :meth:`write_evaluation`, when the run has it."""
        if name not in EVALUATIONS:
            raise ValueError(f"unknown evaluation output {name!r}")
        path = self.verified(self.path / f"{name}.json", required=False)
        return None if path is None else loads_strict(path.read_text(), str(path), RunError)

    def checkpoint_state(self) -> dict:
        """The best model's ``state_dict`` (loaded with ``weights_only=True``: tensors only,
        nothing is unpickled)."""
        checkpoint = torch.load(self.verified(self.checkpoint), map_location="cpu",
                                weights_only=True)  # fmt: skip
        return checkpoint["model"]

    # Writers.
    def write_embeddings(self, embeddings: Mapping[str, np.ndarray], ids: Sequence[str],
                         titles: Sequence[str] | None = None,
                         dois: Sequence[str] | None = None) -> list[Path]:  # fmt: skip
        """``embeddings/<view>.npy`` (float32), ``embeddings/ids.csv`` (``row``,
        ``paper_id``) and, when titles or DOIs are known, ``papers.csv`` (``paper_id``,
        ``title``, ``doi``), committed together: written into a staging folder and renamed
        into place as one set. Rows that are not finite or all zero are an error (nothing
        is written). Returns the paths written."""
        arrays = {view: np.asarray(z, dtype=np.float32) for view, z in embeddings.items()}
        for view, z in arrays.items():
            self.embedding_path(view)  # a known view
            if z.ndim != 2 or z.shape[0] != len(ids):
                raise ValueError(f"{view} embeddings have shape {z.shape}, expected "
                                 f"({len(ids)}, C)")  # fmt: skip
            bad = np.flatnonzero(~np.isfinite(z).all(axis=1) | ~z.any(axis=1))
            if bad.size:
                shown = ", ".join(map(str, bad[:5])) + (", ..." if bad.size > 5 else "")
                raise RunError(
                    f"{view} embeddings: {bad.size} of {len(z)} rows are NaN, infinite or all "
                    f"zero (rows {shown}); nothing written: the model's output is degenerate"
                )
        staging = self.path / ".staging"
        if staging.exists():
            shutil.rmtree(staging)  # left by a killed write: never read
        new = staging / self.embeddings_dir.name
        new.mkdir(parents=True)
        written = []  # (final path, stamp)
        for view, z in arrays.items():
            final = self.embedding_path(view)
            written.append((final, save_numpy(new / final.name, z)))
        table = pd.DataFrame({"row": range(len(ids)), "paper_id": list(ids)})
        stamp = write_bytes(new / self.ids_path.name, table.to_csv(index=False).encode())
        written.append((self.ids_path, stamp))
        if titles is not None or dois is not None:
            blank = [""] * len(ids)
            table = pd.DataFrame({"paper_id": list(ids), "title": list(titles or blank),
                                  "doi": list(dois or blank)})  # fmt: skip
            stamp = write_bytes(staging / self.papers_path.name,
                                table.to_csv(index=False).encode())  # fmt: skip
            written.append((self.papers_path, stamp))
        fsync_dir(new)
        # The swap: the old set out, the new set in; then the staging folder goes.
        replaced = staging / "replaced"
        replaced.mkdir()
        if self.embeddings_dir.exists():
            os.rename(self.embeddings_dir, replaced / self.embeddings_dir.name)
        os.rename(new, self.embeddings_dir)
        if (staging / self.papers_path.name).exists():
            os.replace(staging / self.papers_path.name, self.papers_path)
        elif self.papers_path.exists():
            os.rename(self.papers_path, replaced / self.papers_path.name)
        fsync_dir(self.path)
        shutil.rmtree(staging)
        for path, stamp in written:
            self._remember(path, stamp)
        return [path for path, _ in written]

    def write_history(self, rows: Sequence[Mapping[str, float]]) -> pd.DataFrame:
        history = pd.DataFrame(list(rows))
        stamp = write_bytes(self.history_path, history.to_csv(index=False).encode())
        self._remember(self.history_path, stamp)
        return history

    def write_metrics(self, metrics: Mapping) -> Path:
        """``metrics.json``, strict JSON: undefined values (NaN) are ``null``."""
        text = dumps_strict(dict(metrics), indent=2, sort_keys=True)
        self._remember(self.metrics_path, write_bytes(self.metrics_path, text.encode()))
        return self.metrics_path

    def write_evaluation(self, name: str, result: Mapping, table: str,
                         metrics: Mapping | None = None) -> tuple[Path, ...]:  # fmt: skip
        """``<name>.json`` (strict JSON) and ``<name>.md`` (``eval``: the paper's protocol;
        ``recommend_eval``: held-out citations); a sealed run's manifest records them.
        ``metrics``: keys that replace theirs in ``metrics.json`` (the same evaluation run
        again, e.g. with more repeats), so that the files never disagree."""
        if name not in EVALUATIONS:
            raise ValueError(f"unknown evaluation output {name!r}")
        paths = (self.path / f"{name}.json", self.path / f"{name}.md")
        texts = (dumps_strict(dict(result), indent=2), table)
        if metrics and (previous := self.metrics()) is not None:
            paths += (self.metrics_path,)
            texts += (dumps_strict(previous | dict(metrics), indent=2, sort_keys=True),)
        for path, text in zip(paths, texts, strict=True):
            self._remember(path, write_bytes(path, text.encode()))
        manifest = self.manifest_or_none()
        if manifest is not None and manifest.get("status") in READABLE:
            files = manifest.setdefault("files", {})
            files |= {self._name(p): self.stamp(p).as_dict() for p in paths}
            self.write_manifest(manifest)
        return paths

    def save_best(self, state: Mapping[str, Any]) -> None:
        """``checkpoint.pt``: the best model state (``{"epoch", "loss", "model"}``)."""
        self._remember(self.checkpoint, save_torch(self.checkpoint, dict(state)))

    def save_last(self, state: Mapping[str, Any]) -> None:
        """``last.pt``: the latest training state (what ``trainer.resume=true`` loads)."""
        self._remember(self.last_checkpoint, save_torch(self.last_checkpoint, dict(state)))

    def last_state(self) -> dict | None:
        """The latest training state, or None when the run saved none yet."""
        if not self.last_checkpoint.is_file():
            return None
        try:
            return torch.load(self.last_checkpoint, map_location="cpu", weights_only=True)
        except Exception as error:
            raise RunError(f"{self.last_checkpoint}: cannot be read ({error}); start over with "
                           "overwrite=true") from error  # fmt: skip

    def figure_path(self, path: Path):
        """A temporary path for a figure, renamed to ``path`` when written (``with``)."""
        return atomic_path(path)
