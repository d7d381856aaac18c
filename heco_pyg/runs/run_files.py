"""A training run's folder by name: the only code that knows its file names (:class:`RunFiles`,
the base of :class:`~heco_pyg.runs.run_dir.RunDir`), and how its manifest is read and
written. The folder::

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
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from heco_pyg.core.atomic import FileStamp, dumps_strict, file_stamp, loads_strict, write_atomic
from heco_pyg.core.errors import RunError
from heco_pyg.runs.manifest import manifest_digest, train_command
from heco_pyg.training.embedding import VIEWS

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


class RunFiles:
    """The folder of one training run (Hydra's run dir), by name.

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
        return len(read_table(self.ids_path))

    def write_manifest(self, manifest: Mapping) -> None:
        """``run.json``, sealed: its ``digest`` (:func:`~heco_pyg.runs.manifest.manifest_digest`)
        is recomputed on every write and checked on every read."""
        manifest = {k: v for k, v in manifest.items() if k != "digest"}
        manifest["digest"] = manifest_digest(manifest)
        write_atomic(self.manifest_path, dumps_strict(manifest, indent=2) + "\n")

    def manifest_or_none(self, unreadable_ok: bool = False) -> dict | None:
        """The manifest, None without one (or, with ``unreadable_ok``, when it cannot be
        read: ``overwrite=true`` moves such a run aside like any other)."""
        if not self.manifest_path.is_file():
            return None
        try:
            return self.manifest()
        except RunError:
            if unreadable_ok:
                return None
            raise

    # Readers: every read checks the manifest first.
    def manifest(self) -> dict:
        """``run.json`` (strict JSON)."""
        if not self.manifest_path.is_file():
            raise RunError(
                f"{self.path}: no run.json, so not a training run of this heco_pyg (or one "
                "trained before run manifests); train it again: python -m heco_pyg.train ... "
                f"hydra.run.dir={self.path} overwrite=true"
            )
        try:
            text = self.manifest_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise RunError(f"{self.manifest_path}: unreadable ({type(error).__name__}); "
                           "overwrite=true moves the run aside") from None  # fmt: skip
        manifest = loads_strict(text, str(self.manifest_path), RunError)
        if not isinstance(manifest, dict):
            raise RunError(f"{self.manifest_path}: a JSON {type(manifest).__name__}, not a run "
                           "manifest (an object); overwrite=true moves the run aside")  # fmt: skip
        if "digest" in manifest and manifest["digest"] != manifest_digest(manifest):
            raise RunError(f"{self.manifest_path}: its digest differs from its content (edited "
                           "after the run wrote it); restore the file, or retrain")  # fmt: skip
        return manifest

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

    @classmethod
    def in_sweep(cls, sweep_dir: str | os.PathLike) -> list[RunFiles]:
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


def read_table(path: Path, dtype: type | None = str) -> pd.DataFrame:
    """A run's CSV file (``ids.csv``, ``history.csv``), or a one-line :class:`RunError`."""
    try:
        return pd.read_csv(path, dtype=dtype, keep_default_na=dtype is None)
    except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as error:
        raise RunError(f"{path}: not a readable CSV table ({type(error).__name__}); retrain, "
                       "or restore the file") from None  # fmt: skip
