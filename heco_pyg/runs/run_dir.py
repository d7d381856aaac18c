"""A training run's folder: the only code that knows its file names and formats.

Everything a run writes goes through :class:`RunDir`, and every reader (evaluate,
recommend, report, sweep summaries, cold start) reads through it::

    R/
      .hydra/config.yaml, overrides.yaml   Hydra's saved config (the run is reproducible from it)
      checkpoint.pt                        the best model state ({"epoch", "loss", "model"})
      embeddings/{schema,semantic,fused}.npy, ids.csv
      papers.csv                           paper_id, title, doi (when the graph knows them)
      history.csv                          one row per epoch
      metrics.json                         the end-of-training evaluation
      eval.json, eval.md                   the paper's protocol (``heco_pyg.evaluate``)
      recommend_eval.json, recommend_eval.md  held-out citations (``task=recommend``)
      loss.png, attention.png              training curves (:mod:`heco_pyg.runs.plots`)
      index/                               faiss indexes built by ``heco_pyg.recommend``
      wandb/                               the offline wandb run

Files are written to a temporary name in the same folder and renamed into place, so a
reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from heco_pyg.data.graph import DataError
from heco_pyg.training.embedding import VIEWS


def write_atomic(path: Path, text: str | bytes) -> Path:
    """Writes ``path`` through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    if isinstance(text, bytes):
        temporary.write_bytes(text)
    else:
        temporary.write_text(text)
    os.replace(temporary, path)
    return path


class RunDir:
    """The folder of one training run (Hydra's run dir).

    Args:
        path: the folder; it need not exist yet for writing.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    # The file names, in one place.
    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

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

    def report_path(self, format: str) -> Path:
        return self.path / f"report.{format}"

    # Writers.
    def write_embeddings(self, embeddings: Mapping[str, np.ndarray], ids: Sequence[str]
                         ) -> list[Path]:  # fmt: skip
        """``embeddings/<view>.npy`` (float32) and ``embeddings/ids.csv`` (``row``,
        ``paper_id``); returns the paths written."""
        paths = []
        for view, z in embeddings.items():
            path = self.embedding_path(view)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.tmp")
            with open(temporary, "wb") as handle:
                np.save(handle, np.asarray(z, dtype=np.float32))
            os.replace(temporary, path)
            paths.append(path)
        table = pd.DataFrame({"row": range(len(ids)), "paper_id": list(ids)})
        paths.append(write_atomic(self.ids_path, table.to_csv(index=False)))
        return paths

    def write_papers(self, ids: Sequence[str], titles: Sequence[str] | None = None,
                     dois: Sequence[str] | None = None) -> Path | None:  # fmt: skip
        """``papers.csv`` (``paper_id``, ``title``, ``doi``) when titles or DOIs are known:
        ``heco_pyg.recommend`` shows the titles and accepts DOIs as queries."""
        if titles is None and dois is None:
            return None
        blank = [""] * len(ids)
        table = pd.DataFrame({"paper_id": list(ids), "title": list(titles or blank),
                              "doi": list(dois or blank)})  # fmt: skip
        return write_atomic(self.papers_path, table.to_csv(index=False))

    def write_history(self, rows: Sequence[Mapping[str, float]]) -> pd.DataFrame:
        history = pd.DataFrame(list(rows))
        write_atomic(self.history_path, history.to_csv(index=False))
        return history

    def write_metrics(self, metrics: Mapping) -> Path:
        return write_atomic(self.metrics_path, json.dumps(dict(metrics), indent=2,
                                                          sort_keys=True))  # fmt: skip

    def write_evaluation(self, name: str, result: Mapping, table: str) -> tuple[Path, Path]:
        """``<name>.json`` and ``<name>.md`` (``eval``: the paper's protocol;
        ``recommend_eval``: held-out citations)."""
        if name not in ("eval", "recommend_eval"):
            raise ValueError(f"unknown evaluation output {name!r}")
        return (write_atomic(self.path / f"{name}.json", json.dumps(dict(result), indent=2)),
                write_atomic(self.path / f"{name}.md", table))  # fmt: skip

    # Readers.
    def _require(self, path: Path) -> Path:
        if not path.is_file():
            raise DataError(f"{path}: not found (is {self.path} a finished training run?)")
        return path

    def config(self) -> DictConfig:
        """The run's saved (unresolved) config."""
        if not self.config_path.is_file():
            raise DataError(f"{self.config_path}: not found; the run's saved config is "
                            "needed to rebuild its graph")  # fmt: skip
        return OmegaConf.load(self.config_path)

    def overrides(self) -> list[str]:
        """The run's command-line overrides (``[]`` when Hydra saved none)."""
        if not self.overrides_path.is_file():
            return []
        return list(OmegaConf.load(self.overrides_path) or [])

    def ids(self) -> list[str]:
        table = pd.read_csv(self._require(self.ids_path), dtype=str, keep_default_na=False)
        if "paper_id" not in table.columns:
            raise DataError(f"{self.ids_path}: needs a paper_id column")
        return table["paper_id"].tolist()

    def embeddings(self, view: str) -> tuple[torch.Tensor, list[str]]:
        """``embeddings/<view>.npy`` (``[N, C]``) and the paper id of each row."""
        path = self._require(self.embedding_path(view))
        try:
            z = torch.from_numpy(np.load(path, allow_pickle=False)).float()
        except (ValueError, OSError, EOFError, TypeError) as error:
            raise DataError(f"{path}: not a plain float array ({type(error).__name__})") from None
        if z.dim() != 2 or not torch.isfinite(z).all():
            bad = (
                (~torch.isfinite(z)).any(dim=-1).nonzero().view(-1)[:5].tolist() if z.dim() else []
            )
            raise DataError(f"{path}: expected finite [N, C] embeddings (rows {bad} hold NaN or "
                            "inf); retrain, or restore the file")  # fmt: skip
        ids = self.ids()
        if len(ids) != z.size(0):
            raise DataError(f"{self.ids_path}: needs a paper_id column with {z.size(0)} rows")
        return z, ids

    def papers(self) -> Path | None:
        """``papers.csv`` when the run has one."""
        return self.papers_path if self.papers_path.is_file() else None

    def history(self) -> pd.DataFrame | None:
        return pd.read_csv(self.history_path) if self.history_path.is_file() else None

    def metrics(self) -> dict | None:
        if not self.metrics_path.is_file():
            return None
        return json.loads(self.metrics_path.read_text())

    def checkpoint_state(self) -> dict:
        """The best model's ``state_dict`` (loaded with ``weights_only=True``: tensors only,
        nothing is unpickled)."""
        checkpoint = torch.load(self._require(self.checkpoint), map_location="cpu",
                                weights_only=True)  # fmt: skip
        return checkpoint["model"]

    @classmethod
    def in_sweep(cls, sweep_dir: str | os.PathLike) -> list[RunDir]:
        """The run folders of a sweep dir (those with Hydra's ``overrides.yaml``), in job
        order (numbered folders first, by number)."""
        found = [p.parents[1] for p in Path(sweep_dir).glob("*/.hydra/overrides.yaml")]
        found.sort(key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0,
                                  p.name))  # fmt: skip
        return [cls(p) for p in found]

    def is_training_run(self) -> bool:
        return self.history_path.is_file()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self.path)!r})"
