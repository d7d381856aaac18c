"""A training run's folder: the only code that knows its file names and formats, and the
only writer of its manifest.

Everything a run writes goes through :class:`RunDir`, and every reader (evaluate,
recommend, report, sweep summaries, cold start) reads through it::

    R/
      run.json                             the manifest: status, config, code, times, files
      .hydra/config.yaml, overrides.yaml   Hydra's saved config
      checkpoint.pt                        the best model state ({"epoch", "loss", "model"})
      last.pt                              the latest training state (resume from it)
      embeddings/{schema,semantic,fused}.npy, ids.csv
      papers.csv                           paper_id, title, doi (when the graph knows them)
      history.csv                          one row per epoch
      metrics.json                         the end-of-training evaluation (strict JSON)
      eval.json, eval.md                   the paper's protocol (``heco_pyg.evaluate``)
      recommend_eval.json, recommend_eval.md  held-out citations (``task=recommend``)
      loss.png, attention.png              training curves (:mod:`heco_pyg.runs.plots`)
      index/                               faiss indexes built by ``heco_pyg.recommend``
      wandb/                               the offline wandb run
      previous/<started>/                  a run moved aside by ``overwrite=true``

**The manifest.** ``run.json`` says whether the run is ``running``, ``complete``,
``interrupted`` (stopped by a signal; its outputs are the best state's) or ``failed`` (with
the error's line), and holds the config (and its SHA-256), the package version, the git
commit, start and end times, the epochs done, and each output file's size and SHA-256.
Readers accept a ``complete`` or ``interrupted`` run whose files match the manifest and
refuse anything else with one line (:class:`~heco_pyg.cli.command.RunError`) saying what
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
from omegaconf import DictConfig, OmegaConf

from heco_pyg.core.atomic import (
    FileStamp,
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
from heco_pyg.runs.manifest import (
    READABLE,
    is_alive,
    train_command,
)
from heco_pyg.training.embedding import VIEWS

log = logging.getLogger(__name__)

__all__ = ["RunDir", "RunError", "write_atomic"]

#: The files a run's manifest describes (relative to the run folder), when present.
OUTPUTS = (
    *(f"embeddings/{view}.npy" for view in VIEWS),
    "embeddings/ids.csv", "papers.csv", "history.csv", "metrics.json", "checkpoint.pt",
    "last.pt", "eval.json", "eval.md", "recommend_eval.json", "recommend_eval.md",
    "loss.png", "attention.png",
)  # fmt: skip
#: Names whose presence means the folder holds a run.
RUN_MARKERS = ("run.json", "checkpoint.pt", "last.pt", "embeddings", "history.csv",
               "metrics.json")  # fmt: skip
EVALUATIONS = ("eval", "recommend_eval")


class RunDir:
    """The folder of one training run (Hydra's run dir).

    Args:
        path: the folder; it need not exist yet for writing.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._stamps: dict[str, tuple[int, int, FileStamp]] = {}  # written by this process
        self._checked: dict[str, tuple[int, int]] = {}  # verified against the manifest

    # The file names, in one place.
    @property
    def manifest_path(self) -> Path:
        return self.path / "run.json"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def last_checkpoint(self) -> Path:
        return self.path / "last.pt"

    @property
    def embeddings_dir(self) -> Path:
        return self.path / "embeddings"

    def embedding_path(self, view: str) -> Path:
        if view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
        return self.embeddings_dir / f"{view}.npy"

    @property
    def ids_path(self) -> Path:
        return self.embeddings_dir / "ids.csv"

    @property
    def papers_path(self) -> Path:
        return self.path / "papers.csv"

    @property
    def history_path(self) -> Path:
        return self.path / "history.csv"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def config_path(self) -> Path:
        return self.path / ".hydra" / "config.yaml"

    @property
    def overrides_path(self) -> Path:
        return self.path / ".hydra" / "overrides.yaml"

    @property
    def index_dir(self) -> Path:
        return self.path / "index"

    @property
    def loss_plot(self) -> Path:
        return self.path / "loss.png"

    @property
    def attention_plot(self) -> Path:
        return self.path / "attention.png"

    @property
    def previous_dir(self) -> Path:
        return self.path / "previous"

    def report_path(self, format: str) -> Path:
        return self.path / f"report.{format}"

    def _name(self, path: Path) -> str:
        return path.relative_to(self.path).as_posix()

    def _remember(self, path: Path, stamp: FileStamp) -> None:
        stat = path.stat()
        self._stamps[self._name(path)] = (stat.st_size, stat.st_mtime_ns, stamp)

    def stamp(self, path: Path) -> FileStamp:
        """Size and SHA-256 of a run file: remembered from the write when unchanged since."""
        stat = path.stat()
        cached = self._stamps.get(self._name(path))
        if cached and cached[:2] == (stat.st_size, stat.st_mtime_ns):
            return cached[2]
        return file_stamp(path)

    def forget_stamps(self) -> None:
        """Forgets the files this process wrote (they were moved away)."""
        self._stamps.clear()

    def holds_run(self) -> bool:
        """Whether the folder holds (the outputs of) a run."""
        return any((self.path / name).exists() for name in RUN_MARKERS)

    def count_rows(self) -> int:
        return len(pd.read_csv(self.ids_path, dtype=str, keep_default_na=False))

    def write_manifest(self, manifest: Mapping) -> None:
        write_atomic(self.manifest_path, dumps_strict(manifest, indent=2) + "\n")

    def manifest_or_none(self) -> dict | None:
        if not self.manifest_path.is_file():
            return None
        return self.manifest()

    # Readers: every read checks the manifest first.
    def manifest(self) -> dict:
        """``run.json`` (strict JSON)."""
        if not self.manifest_path.is_file():
            raise RunError(
                f"{self.path}: no run.json, so not a training run of this heco_pyg (or one "
                "trained before run manifests); train it again: python -m heco_pyg.train ... "
                f"hydra.run.dir={self.path} overwrite=true"
            )
        return loads_strict(self.manifest_path.read_text(), str(self.manifest_path), RunError)

    def status(self) -> str:
        """The manifest's status, or ``missing`` without one."""
        try:
            return str(self.manifest().get("status"))
        except RunError:
            return "missing"

    def resume_command(self, manifest: Mapping | None = None) -> str:
        manifest = manifest if manifest is not None else self.manifest()
        return train_command(manifest.get("overrides") or [], self.path, True,
                             int(manifest.get("world_size") or 1))  # fmt: skip

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
        return OmegaConf.create(manifest["config"])

    def overrides(self) -> list[str]:
        """The run's command-line overrides (``[]`` when Hydra saved none)."""
        if not self.overrides_path.is_file():
            return []
        return list(OmegaConf.load(self.overrides_path) or [])

    def ids(self) -> list[str]:
        path = self.verified(self.ids_path)
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "paper_id" not in table.columns:
            raise RunError(f"{path}: needs a paper_id column")
        return table["paper_id"].tolist()

    def embeddings(self, view: str) -> tuple[torch.Tensor, list[str]]:
        """``embeddings/<view>.npy`` (``[N, C]``) and the paper id of each row."""
        path = self.verified(self.embedding_path(view))
        try:
            z = torch.from_numpy(np.load(path, allow_pickle=False)).float()
        except (ValueError, OSError, EOFError, TypeError) as error:
            raise RunError(f"{path}: not a plain float array ({type(error).__name__})") from None
        if z.dim() != 2 or not torch.isfinite(z).all():
            bad = (
                (~torch.isfinite(z)).any(dim=-1).nonzero().view(-1)[:5].tolist() if z.dim() else []
            )
            raise RunError(f"{path}: expected finite [N, C] embeddings (rows {bad} hold NaN or "
                            "inf); retrain, or restore the file")  # fmt: skip
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
        return pd.read_csv(path) if path is not None else None

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

    def write_evaluation(self, name: str, result: Mapping, table: str) -> tuple[Path, Path]:
        """``<name>.json`` (strict JSON) and ``<name>.md`` (``eval``: the paper's protocol;
        ``recommend_eval``: held-out citations); a sealed run's manifest records them."""
        if name not in EVALUATIONS:
            raise ValueError(f"unknown evaluation output {name!r}")
        paths = (self.path / f"{name}.json", self.path / f"{name}.md")
        texts = (dumps_strict(dict(result), indent=2), table)
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

    @classmethod
    def in_sweep(cls, sweep_dir: str | os.PathLike) -> list[RunDir]:
        """The run folders of a sweep dir (those with Hydra's ``overrides.yaml``), in job
        order (numbered folders first, by number)."""
        found = [p.parents[1] for p in Path(sweep_dir).glob("*/.hydra/overrides.yaml")]
        found.sort(key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0,
                                  p.name))  # fmt: skip
        return [cls(p) for p in found]

    def is_training_run(self) -> bool:
        return self.manifest_path.is_file() or self.history_path.is_file()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self.path)!r})"
