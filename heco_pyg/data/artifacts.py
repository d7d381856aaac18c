"""The research notebook's preprocessed folder format, read and written.

Files (all required unless marked optional):

* ``meta.json``: ``num_papers``, ``num_authors``, ``num_concepts``.
* ``features_papers.npz`` / ``features_concepts.npz`` / ``features_authors.npz``: key
  ``X``, one row per node. An identity (one-hot) author matrix, or one with zero
  columns, means "featureless": the model uses an embedding table instead.
  ``features_concepts.npz`` and ``features_authors.npz`` are optional.
* ``edges_PA.npz`` / ``edges_PC.npz``: key ``E``, int ``[E, 2]`` (paper, author/concept).
* ``metapath_PAP.npz`` / ``metapath_PCP.npz``: keys ``indptr``, ``indices`` (CSR over
  papers). Validated, but the counts are recomputed from the edges so that pruning
  applies even when the stored PCP is complete.
* ``map_paper_id.csv``: column ``paper_id``, one row per paper.
* optional ``labels.npy`` (one int per paper, ``-1`` unlabelled; evaluation only) and
  ``concept_level.npy`` (one int per concept, enables ``min_concept_level``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData

from heco_pyg.core.errors import DataError
from heco_pyg.data.graph import build_graph, is_identity_features, schema_edge_type
from heco_pyg.data.incidence import incidence

log = logging.getLogger(__name__)

META_KEYS = ("num_papers", "num_authors", "num_concepts")
# What a damaged file can raise while numpy, zipfile or pandas decode it.
READ_ERRORS = (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error, KeyError,
               UnicodeDecodeError, RecursionError, NotImplementedError)  # fmt: skip


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return path


def _load_key(path: Path, key: str) -> np.ndarray:
    try:
        with np.load(_require(path), allow_pickle=False) as archive:
            if key not in archive:
                raise DataError(f"{path}: missing key {key!r} (has {sorted(archive.files)})")
            return archive[key]
    except READ_ERRORS as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz file ({type(error).__name__})") from None


def _load_array(path: Path) -> np.ndarray:
    """A plain ``.npy`` array (never unpickled)."""
    try:
        return np.load(path, allow_pickle=False)
    except READ_ERRORS as error:
        raise DataError(f"{path}: not a plain numpy array ({type(error).__name__})") from None


def _load_meta(path: Path) -> dict[str, int]:
    try:
        meta = json.loads(_require(path).read_bytes())
    except (ValueError, RecursionError) as error:
        raise DataError(f"{path}: invalid JSON ({type(error).__name__})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: expected a JSON object with {', '.join(META_KEYS)}")
    for key in META_KEYS:
        if key not in meta:
            raise DataError(f"{path}: missing key {key!r}")
        if not isinstance(meta[key], int) or isinstance(meta[key], bool) or meta[key] < 0:
            raise DataError(f"{path}: {key} must be a non-negative integer, got {meta[key]!r}")
    return {key: meta[key] for key in META_KEYS}


def _load_features(path: Path, rows: int, optional: bool) -> np.ndarray | None:
    if optional and not path.is_file():
        return None
    x = _load_key(path, "X")
    if x.ndim != 2 or x.shape[0] != rows:
        raise DataError(f"{path}: X has shape {x.shape}, expected ({rows}, F)")
    real = (
        x.dtype == bool or np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
    )
    if not real:  # complex values would lose their imaginary part
        raise DataError(f"{path}: X must hold real numbers, got {x.dtype}")
    if x.shape[1] == 0 or is_identity_features(x):
        return None  # featureless: a learnable embedding table in the model
    if not np.isfinite(x).all():
        raise DataError(f"{path}: X contains NaN or inf ({x.dtype})")
    if len(x) > 1 and np.ptp(x, axis=0).max() == 0:
        log.warning("%s: every row of X is the same (constant features): the views will "
                    "learn from the graph alone and may collapse", path)  # fmt: skip
    return x.astype(np.float32, copy=False)


def _check_metapath(path: Path, num_papers: int) -> float:
    """Validates a stored CSR meta-path; returns its density."""
    indptr, indices = _load_key(path, "indptr"), _load_key(path, "indices")
    for name, array in (("indptr", indptr), ("indices", indices)):
        if not np.issubdtype(array.dtype, np.integer):  # 1.5 would be truncated to row 1
            raise DataError(f"{path}: {name} must hold integers, got {array.dtype}")
    if indptr.shape != (num_papers + 1,):
        raise DataError(f"{path}: indptr has shape {indptr.shape}, expected ({num_papers + 1},)")
    if indptr[-1] != len(indices) or (np.diff(indptr) < 0).any():
        raise DataError(f"{path}: indptr is not a valid CSR pointer for {len(indices)} indices")
    if len(indices) and (indices.min() < 0 or indices.max() >= num_papers):
        raise DataError(f"{path}: indices out of range [0, {num_papers})")
    return len(indices) / max(num_papers * (num_papers - 1), 1)


def read_artifacts(path: str | os.PathLike) -> HeteroData:
    """Reads a notebook artifacts folder into a HeCo graph (no meta-paths yet)."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: artifacts folder not found")
    meta = _load_meta(root / "meta.json")
    n_paper, n_author, n_concept = (meta[k] for k in META_KEYS)
    if n_paper == 0:
        raise DataError(f"{root / 'meta.json'}: empty graph (num_papers = 0)")
    paper_x = _load_features(root / "features_papers.npz", n_paper, optional=False)
    if paper_x is None:
        raise DataError(f"{root / 'features_papers.npz'}: paper features are required")
    features = {
        "paper": paper_x,
        "author": _load_features(root / "features_authors.npz", n_author, optional=True),
        "concept": _load_features(root / "features_concepts.npz", n_concept, optional=True),
    }
    schema_edges = {}
    for name, neighbour, count in (("PA", "author", n_author), ("PC", "concept", n_concept)):
        file = root / f"edges_{name}.npz"
        edges = _load_key(file, "E")
        if edges.ndim != 2 or edges.shape[1] != 2:
            raise DataError(f"{file}: E has shape {edges.shape}, expected (E, 2)")
        if not np.issubdtype(edges.dtype, np.integer):
            raise DataError(f"{file}: E must hold integer ids, got {edges.dtype}")
        if len(edges) and edges.min() < 0:
            raise DataError(f"{file}: E has negative ids")
        for column, bound, what in ((0, n_paper, "paper"), (1, count, neighbour)):
            if len(edges) and edges[:, column].max() >= bound:
                raise DataError(
                    f"{file}: E[:, {column}] has id {edges[:, column].max()} but meta.json "
                    f"declares {bound} {what}s"
                )
        schema_edges[neighbour] = edges
        referenced = len(np.unique(edges[:, 1])) if len(edges) else 0
        if features[neighbour] is None and count > 2 * max(referenced, 1):
            log.warning(
                "%s: declares %d %ss but %s references only %d; the other %d rows of the "
                "learnable %s table are never read (is num_%ss right?)",
                root / "meta.json", count, neighbour, file.name, referenced, count - referenced,
                neighbour, neighbour,
            )  # fmt: skip
    stored_density = {
        name: _check_metapath(root / f"metapath_{name}.npz", n_paper) for name in ("PAP", "PCP")
    }
    ids_file = _require(root / "map_paper_id.csv")
    try:
        ids = pd.read_csv(ids_file, dtype=str, keep_default_na=False)
    except READ_ERRORS as error:
        raise DataError(f"{ids_file}: not a readable CSV ({type(error).__name__})") from None
    if "paper_id" not in ids.columns:
        raise DataError(f"{ids_file}: missing column 'paper_id' (has {list(ids.columns)[:5]})")
    if len(ids) != n_paper:
        raise DataError(f"{ids_file}: {len(ids)} rows, meta.json declares {n_paper} papers")
    paper_ids = ids["paper_id"].str.strip()
    if (paper_ids == "").any():
        raise DataError(f"{ids_file}: paper_id is blank on row {int((paper_ids == '').argmax())}")
    if paper_ids.duplicated().any():
        raise DataError(f"{ids_file}: paper_id {paper_ids[paper_ids.duplicated()].iloc[0]!r} "
                        "appears more than once")  # fmt: skip
    labels = None
    if (root / "labels.npy").is_file():
        labels = _load_array(root / "labels.npy")
        if labels.shape != (n_paper,) or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(
                f"{root / 'labels.npy'}: expected {n_paper} integers, got {labels.shape}"
            )
    data = build_graph(
        "paper", {"paper": n_paper, "author": n_author, "concept": n_concept},
        schema_edges, features, str(root), labels, paper_ids.tolist(),
    )  # fmt: skip
    if (root / "concept_level.npy").is_file():
        level = _load_array(root / "concept_level.npy")
        if level.shape != (n_concept,) or not np.issubdtype(level.dtype, np.integer):
            raise DataError(f"{root / 'concept_level.npy'}: expected {n_concept} levels")
        data["concept"].level = torch.from_numpy(level.astype(np.int64))
    data.stored_metapath_density = stored_density
    return data


def write_artifacts(
    data: HeteroData, path: str | os.PathLike, author_one_hot: bool = False
) -> None:
    """Writes a paper/author/concept graph in the notebook's format, atomically.

    The stored PAP/PCP are the unpruned ``A A^T`` (what the notebook stored).
    """
    root = Path(path)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        counts = {f"num_{t}s": data[t].num_nodes for t in ("paper", "author", "concept")}
        (staging / "meta.json").write_text(json.dumps(counts))
        n_author = counts["num_authors"]
        authors = np.eye(n_author, dtype=np.float32) if author_one_hot else np.zeros((n_author, 0))
        np.savez(staging / "features_authors.npz", X=authors)
        np.savez(staging / "features_papers.npz", X=data["paper"].x.numpy())
        if "x" in data["concept"]:
            np.savez(staging / "features_concepts.npz", X=data["concept"].x.numpy())
        for name, neighbour in (("PA", "author"), ("PC", "concept")):
            edge_index = data[schema_edge_type("paper", neighbour)].edge_index.numpy()
            np.savez(staging / f"edges_{name}.npz", E=edge_index.T.astype(np.int64))
            shape = (counts["num_papers"], data[neighbour].num_nodes)
            matrix = incidence(edge_index[0], edge_index[1], shape)
            product = (matrix @ matrix.T).tocsr()
            product.setdiag(0)
            product.eliminate_zeros()
            product = sp.csr_matrix(product)
            np.savez(staging / f"metapath_P{name[1]}P.npz", indptr=product.indptr.astype(np.int64),
                     indices=product.indices.astype(np.int64))  # fmt: skip
        ids = getattr(data["paper"], "node_ids", None) or list(range(counts["num_papers"]))
        pd.DataFrame({"paper_id": ids}).to_csv(staging / "map_paper_id.csv", index=False)
        if "y" in data["paper"]:
            np.save(staging / "labels.npy", data["paper"].y.numpy())
        if "level" in data["concept"]:
            np.save(staging / "concept_level.npy", data["concept"].level.numpy())
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
