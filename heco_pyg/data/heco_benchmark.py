"""The HeCo paper's benchmark datasets (ACM, DBLP, AMiner, Freebase) in the official format.

The official release (https://github.com/liun-online/HeCo, ``data/<name>/``) stores one
dataset per folder; a config names what to read, nothing here is dataset-specific:

* ``labels.npy``: class per target node (its length is the target node count);
* ``nei_<x>.npy``: per target node, its neighbours of type ``x`` (object array of int
  arrays, or a plain ``[N, k]`` array); they become the schema edges;
* ``<metapath>.npz``: binary symmetric meta-path adjacency, diagonal included; it
  becomes ``(target, NAME, target)`` edges without self-loops, ``edge_weight`` = the
  stored value (1);
* ``*_feat.npz``: scipy sparse features (or a raw ``.npy`` despite the name); types
  without a feature file are featureless (HeCo's one-hot identity = an embedding table);
* ``pos.npz``: the positives (row i = the positives of anchor i); when absent, or when
  the config asks, they are rebuilt with :func:`heco_pyg.data.positives.select_positives`;
* ``train_/val_/test_<rate>.npy``: split indices, stored as boolean masks
  ``data[target].train_mask_<rate>`` etc.

Missing files are downloaded from ``url`` (the official repository's raw files at the
release commit, :mod:`heco_pyg.data.heco_release`), with a timeout, and checked against
the pinned SHA-256; without network the error says which files to put where.

No file can run code: every array is read with ``allow_pickle=False``, except an object
``nei_<x>.npy`` (the release stores ragged neighbour lists as pickled object arrays),
which is read once into memory and rebuilt by an unpickler that admits only numpy's
array reconstruction (:func:`heco_pyg.data.heco_release.read_object_array`); it is then
converted once to a plain ``.npz`` in ``data.cache_dir``
(``${paths.data_dir}/processed/nei_<x>.npy.<hash>.npz``: never beside the input, whose
folder may be read-only or shared).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData

from heco_pyg.core.errors import DataError
from heco_pyg.data.download import DOWNLOAD_TIMEOUT, download_files
from heco_pyg.data.graph import build_graph, metapath_edge_type
from heco_pyg.data.heco_release import SHA256 as RELEASE_SHA256
from heco_pyg.data.heco_release import read_object_array
from heco_pyg.data.positives import select_positives

log = logging.getLogger(__name__)

SPLIT_KINDS = ("train", "val", "test")
IDENTITY = "identity"


def required_files(
    labels: str,
    neighbours: Mapping[str, Mapping],
    metapaths: Mapping[str, str],
    features: Mapping[str, str],
    splits: Sequence[int],
    positives: str | None,
) -> list[str]:
    """Every file a config reads (the optional positives file last)."""
    files = [labels, *(spec["file"] for spec in neighbours.values()), *metapaths.values()]
    files += [f for f in features.values() if f != IDENTITY]
    files += [f"{kind}_{rate}.npy" for rate in splits for kind in SPLIT_KINDS]
    return list(dict.fromkeys(files + ([positives] if positives else [])))


def _read_matrix(path: Path) -> sp.spmatrix | np.ndarray:
    """A ``.npz`` scipy sparse matrix, or a raw ``.npy`` array stored under that name."""
    try:
        return sp.load_npz(path)
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile, TypeError):
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise DataError(f"{path}: neither a scipy sparse .npz nor a numpy array") from error


def _object_rows(path: Path, raw: bytes, cache_dir: Path | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(counts, flat)`` of a pickled object ``nei_<x>.npy`` whose bytes are ``raw``, read
    by the restricted unpickler (:func:`~heco_pyg.data.heco_release.read_object_array`);
    converted once to a plain ``.npz`` in ``cache_dir``, named by the SHA-256 of ``raw``
    (never beside the input; ``None``: converted every time)."""
    digest = hashlib.sha256(raw).hexdigest()
    plain = cache_dir / f"{path.name}.{digest[:16]}.npz" if cache_dir is not None else None
    if plain is not None and plain.is_file():
        try:
            with np.load(plain, allow_pickle=False) as stored:
                return stored["counts"], stored["flat"]
        except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile):
            log.warning("%s: unreadable conversion, converting again", plain)
    try:
        rows = read_object_array(raw)
        arrays = [np.asarray(row, dtype=np.int64).reshape(-1) for row in rows]
    except (ValueError, TypeError, OverflowError) as error:
        raise DataError(
            f"{path}: not an array of integer neighbour lists ({str(error)[:200]}); replace "
            "it with the official file (github.com/liun-online/HeCo, data/<name>/)"
        ) from None
    counts = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    if plain is None:
        return counts, flat
    try:
        plain.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=plain.parent, prefix=f".{plain.name}.")
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, counts=counts, flat=flat)
        os.replace(temporary, plain)
    except OSError:  # a read-only folder: convert again next time
        pass
    return counts, flat


def _neighbour_edges(path: Path, num_target: int, cache_dir: Path | None = None) -> np.ndarray:
    """``[E, 2]`` (target id, neighbour id) pairs from a ``nei_<x>.npy`` file (read once:
    the bytes parsed are the bytes hashed)."""
    try:
        raw = path.read_bytes()
        neighbours = np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" not in str(error):
            raise DataError(f"{path}: not a numpy array ({error})") from None
        counts, flat = _object_rows(path, raw, cache_dir)
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: not a numpy array ({error})") from None
    else:  # a plain [N, k] array
        if neighbours.ndim == 0 or not np.issubdtype(neighbours.dtype, np.integer):
            raise DataError(f"{path}: expected integer neighbour ids, got {neighbours.dtype}")
        if len(neighbours) != num_target:
            raise DataError(
                f"{path}: {len(neighbours)} rows, expected one per target ({num_target})"
            )
        neighbours = neighbours.reshape(num_target, -1)
        counts = np.full(num_target, neighbours.shape[1])
        flat = neighbours.reshape(-1)
    if len(counts) != num_target:
        raise DataError(f"{path}: {len(counts)} rows, expected one per target ({num_target})")
    if len(flat) and flat.min() < 0:
        raise DataError(f"{path}: negative neighbour ids")
    return np.stack([np.repeat(np.arange(num_target), counts), flat.astype(np.int64)], axis=1)


def _features(path: Path | None, rows: int, row_normalise: bool) -> np.ndarray:
    matrix = sp.identity(rows, format="csr") if path is None else _read_matrix(path)
    if matrix.shape[0] != rows:
        raise DataError(f"{path}: {matrix.shape[0]} feature rows, expected {rows}")
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    if row_normalise:  # as the official preprocess_features: rows sum to one
        row_sum = np.asarray(matrix.sum(axis=1)).ravel()
        scale = np.divide(1.0, row_sum, out=np.zeros_like(row_sum), where=row_sum != 0)
        matrix = sp.diags(scale) @ matrix
    return matrix.astype(np.float32).toarray()  # sparse -> float32 first: no float64 copy


def _metapath_edges(path: Path, num_target: int) -> tuple[torch.Tensor, torch.Tensor]:
    matrix = sp.coo_matrix(_read_matrix(path))
    if matrix.shape != (num_target, num_target):
        raise DataError(f"{path}: shape {matrix.shape}, expected ({num_target}, {num_target})")
    off_diagonal = (matrix.row != matrix.col) & (matrix.data != 0)
    index = np.stack([matrix.row[off_diagonal], matrix.col[off_diagonal]]).astype(np.int64)
    weight = matrix.data[off_diagonal].astype(np.float32)
    return torch.from_numpy(index), torch.from_numpy(weight)


def _stored_positives(path: Path, num_target: int, add_self: bool = True) -> torch.Tensor:
    """``[2, P]`` pairs sorted by anchor, self first, from the official ``pos.npz``.

    ``add_self=False`` keeps the file's pairs exactly (the official ACM file leaves the
    anchor out of 923 rows); the project's contract adds it."""
    matrix = sp.coo_matrix(_read_matrix(path))
    if matrix.shape != (num_target, num_target):
        raise DataError(f"{path}: shape {matrix.shape}, expected ({num_target}, {num_target})")
    stored = matrix.data != 0
    if not add_self:
        pairs = np.stack([matrix.row[stored], matrix.col[stored]]).astype(np.int64)
        order = np.lexsort((pairs[1], pairs[0] != pairs[1], pairs[0]))
        return torch.from_numpy(pairs[:, order])
    keep = (matrix.row != matrix.col) & stored
    anchors = np.concatenate([np.arange(num_target), matrix.row[keep]]).astype(np.int64)
    positives = np.concatenate([np.arange(num_target), matrix.col[keep]]).astype(np.int64)
    order = np.lexsort((positives, anchors != positives, anchors))  # anchor, self, id
    return torch.from_numpy(np.stack([anchors[order], positives[order]]))


def _integers(path: Path) -> np.ndarray:
    """A plain integer (or integral float) array, flattened; anything else a DataError."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a plain numpy array ({error})") from None
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise DataError(f"{path}: expected integers, got {array.dtype}")
    array = array.reshape(-1)
    if not np.isfinite(array).all() or (array != np.round(array)).any():
        raise DataError(f"{path}: expected integers, found NaN or fractions")
    return array.astype(np.int64)


def _split_masks(root: Path, splits: Sequence[int], num_target: int) -> dict[str, torch.Tensor]:
    masks = {}
    for rate in splits:
        for kind in SPLIT_KINDS:
            path = root / f"{kind}_{rate}.npy"
            index = _integers(path)
            if index.size and (index.min() < 0 or index.max() >= num_target):
                raise DataError(f"{path}: node index out of range [0, {num_target})")
            mask = torch.zeros(num_target, dtype=torch.bool)
            mask[torch.from_numpy(index)] = True
            masks[f"{kind}_mask_{rate}"] = mask
    return masks


def load_heco_benchmark_graph(
    root: str | Path,
    target: str,
    neighbours: Mapping[str, Mapping],
    metapaths: Mapping[str, str],
    features: Mapping[str, str] | None = None,
    labels: str = "labels.npy",
    positives: str | None = "pos.npz",
    pos_num: int = 5,
    rebuild_positives: bool = False,
    add_self_positives: bool = True,
    splits: Sequence[int] = (20, 40, 60),
    row_normalise: bool = True,
    url: str | None = None,
    name: str = "heco",
    opener: Callable[[str], object] | None = None,
    download_timeout: float = DOWNLOAD_TIMEOUT,
    cache_dir: str | Path | None = None,
) -> HeteroData:
    """Reads one official HeCo dataset folder into the project's graph.

    Args:
        root: the dataset folder (``${paths.data_dir}/heco/<name>``).
        target: the embedded node type (``paper``, ``author``, ``movie``).
        neighbours: ``{type: {file: nei_x.npy, sample_size: k}}``, the schema view.
        metapaths: ``{NAME: file.npz}``, the meta-path view, in order.
        features: ``{type: file}``; ``identity`` for a featureless target. Other types
            without an entry are featureless (embedding tables).
        labels: the label file; its length is the number of target nodes.
        positives: the stored positives file (``None``: always rebuild).
        pos_num: positives per node (self included) when rebuilding.
        rebuild_positives: rebuild even when the stored file exists.
        add_self_positives: make every anchor its own positive (the graph contract);
            ``False`` keeps the stored pairs exactly as the official loss reads them.
        splits: label rates with ``train_/val_/test_<rate>.npy`` files.
        row_normalise: divide each feature row by its sum, as the official code does.
        url: where missing files are downloaded from (``None``: never download).
        name: dataset name, kept on the graph.
        opener: ``urllib.request.urlopen`` or a stand-in (tests).
        download_timeout: seconds per downloaded file.
        cache_dir: where object ``nei_*.npy`` files are kept converted to plain ``.npz``
            (``${paths.data_dir}/processed``, like every source's cache; ``None``: none).
    """
    if opener is None:
        opener = functools.partial(urllib.request.urlopen, timeout=download_timeout)
    root = Path(root)
    features = dict(features or {})
    if target not in features:
        raise DataError(f"{name}: data.features needs an entry for the target {target!r}")
    files = required_files(labels, neighbours, metapaths, features, splits, positives)
    if url is not None:
        optional = [positives] if positives else []
        download_files(root, files, url, opener, optional, RELEASE_SHA256.get(name))
    absent = [f for f in files if f != positives and not (root / f).is_file()]
    if absent:
        raise DataError(
            f"{root}: missing {', '.join(absent)}. Copy the official HeCo files "
            f"(github.com/liun-online/HeCo, data/{name}/) there, or set data.url to download."
        )

    label_array = _integers(root / labels)
    num_target = len(label_array)
    cache = Path(cache_dir) if cache_dir is not None else None
    schema_edges = {t: _neighbour_edges(root / spec["file"], num_target, cache)
                    for t, spec in neighbours.items()}  # fmt: skip
    num_nodes = {target: num_target}
    feature_arrays: dict[str, np.ndarray | None] = {}
    for node_type, file in features.items():
        if node_type != target and node_type not in neighbours:
            raise DataError(f"{name}: features for unknown node type {node_type!r}")
        path = None if file == IDENTITY else root / file
        rows = num_target if node_type == target else None
        if rows is None:
            rows = (
                _read_matrix(path).shape[0]
                if path
                else int(schema_edges[node_type][:, 1].max()) + 1
            )
        feature_arrays[node_type] = _features(path, rows, row_normalise)
    for node_type, edges in schema_edges.items():
        from_edges = int(edges[:, 1].max()) + 1 if len(edges) else 0
        rows = feature_arrays[node_type].shape[0] if node_type in feature_arrays else from_edges
        num_nodes[node_type] = rows

    data = build_graph(
        target, num_nodes, schema_edges, feature_arrays, source=str(root),
        labels=label_array.astype(np.int64),
        extra_node_attributes=_split_masks(root, splits, num_target),
    )  # fmt: skip
    for metapath, file in metapaths.items():
        store = data[metapath_edge_type(target, metapath)]
        store.edge_index, store.edge_weight = _metapath_edges(root / file, num_target)
    data.metapaths = list(metapaths)
    data.sample_sizes = {t: int(spec["sample_size"]) for t, spec in neighbours.items()}
    data.splits = list(splits)
    data.name = name

    stored = root / positives if positives else None
    if stored is not None and stored.is_file() and not rebuild_positives:
        data.positive_index = _stored_positives(stored, num_target, add_self_positives)
        data.positive_source = str(stored)
    else:
        data.positive_index = select_positives(data, pos_num)
        data.positive_source = f"rebuilt (pos_num={pos_num})"
    log.info("%s: %s, positives %s", name, num_nodes, data.positive_source)
    return data
