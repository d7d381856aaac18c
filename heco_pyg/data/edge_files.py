"""Meta-path edges on disk: symmetrised per row bucket, stored as ``.npy`` files that a
graph opens memory-mapped (the one owner of this format).

Per meta-path ``NAME`` in the work folder:

* ``NAME_edge_index.npy``: int64 ``[E, 2]`` (row, column) pairs sorted by row, then
  column; the graph's ``edge_index`` is its transpose, a ``[2, E]`` view;
* ``NAME_edge_weight.npy``: float32 ``[E]``, the path counts;
* ``NAME_indptr.npy``: int64 ``[N + 1]``, where each row's entries start (CSR);
* ``NAME_adjacency_col.npy`` int64 and ``NAME_adjacency_value.npy`` float32, ``[E + N]``:
  the columns and values of the model's normalised adjacency (self-loops added), row by
  row, written by :func:`store_adjacency` when a model is prepared on the graph.

:class:`SymmetricEdgeWriter` takes the one-directional row blocks of a meta-path product,
routes each entry and its mirror to a bucket file by row, and then sorts and merges one
bucket at a time (duplicates keep their largest count): the same edges and weights as
``torch_geometric.utils.to_undirected(..., reduce="max")`` over everything, with memory
bounded by one bucket. :class:`EdgeFile` reads row ranges back without mapping the file.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

#: Entries (both directions) per bucket: 12 bytes each on disk, at most ~28 bytes while
#: merged (~110 MB a bucket; 40M entries made the merge the peak of a 200,000-work
#: OpenAlex prepare: +660 MB).
BUCKET_ENTRIES = 4_000_000
#: The ``.npy`` header is padded to this many bytes, so the data start at a fixed offset.
HEADER_BYTES = 128


def _write_header(file, shape: tuple[int, ...], dtype: np.dtype) -> None:
    file.seek(0)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": shape}  # fmt: skip
    np.lib.format.write_array_header_1_0(file, header)
    if file.tell() != HEADER_BYTES:
        raise RuntimeError(f"unexpected .npy header size {file.tell()}")


def edge_paths(directory: str | Path, name: str) -> tuple[Path, Path, Path]:
    """The edge-index, edge-weight and row-pointer files of meta-path ``name``."""
    directory = Path(directory)
    return tuple(directory / f"{name}_{part}.npy" for part in ("edge_index", "edge_weight",
                                                               "indptr"))  # fmt: skip


class SymmetricEdgeWriter:
    """Writes the symmetric union of directed (row, column, count) blocks to disk.

    Args:
        directory: the work folder (created if needed).
        name: the meta-path, naming the files.
        num_nodes: rows (= columns) of the meta-path matrix.
        expected_entries: about how many directed entries will be added (sizes the buckets).
    """

    def __init__(
        self, directory: str | Path, name: str, num_nodes: int, expected_entries: int
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name, self.num_nodes = name, num_nodes
        buckets = max(1, min(num_nodes, math.ceil(2 * expected_entries / BUCKET_ENTRIES)))
        self.bucket_rows = math.ceil(num_nodes / buckets)
        self.buckets = math.ceil(num_nodes / self.bucket_rows)
        self.spill = self.directory / f"{name}_buckets"
        self.spill.mkdir(exist_ok=True)
        # Opened per write, not held: a 10M-paper graph has hundreds of buckets.
        self.files = [(self.spill / f"{b}.keys", self.spill / f"{b}.values")
                      for b in range(self.buckets)]  # fmt: skip
        for key_path, value_path in self.files:
            key_path.touch()
            value_path.touch()

    def add(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        """One block of directed entries; each is stored with its mirror."""
        source = np.concatenate([rows, cols]).astype(np.int64)
        target = np.concatenate([cols, rows]).astype(np.int64)
        keys = source * self.num_nodes + target
        values = np.concatenate([values, values]).astype(np.float32)
        bucket = source // self.bucket_rows
        order = np.argsort(bucket, kind="stable")
        ends = np.cumsum(np.bincount(bucket, minlength=self.buckets))
        keys, values = keys[order], values[order]
        for b, (start, end) in enumerate(zip(np.r_[0, ends[:-1]], ends, strict=True)):
            if end > start:
                with open(self.files[b][0], "ab") as key_file:
                    keys[start:end].tofile(key_file)
                with open(self.files[b][1], "ab") as value_file:
                    values[start:end].tofile(value_file)

    def finish(self) -> int:
        """Merges the buckets into the meta-path's files; returns the number of edges."""
        index_path, weight_path, indptr_path = edge_paths(self.directory, self.name)
        row_counts = np.zeros(self.num_nodes, dtype=np.int64)
        with open(index_path, "wb") as index_file, open(weight_path, "wb") as weight_file:
            index_file.write(b"\0" * HEADER_BYTES)
            weight_file.write(b"\0" * HEADER_BYTES)
            for key_path, value_path in self.files:
                keys = np.fromfile(key_path, dtype=np.int64)
                values = np.fromfile(value_path, dtype=np.float32)
                if len(keys) == 0:
                    continue
                # One array of 8 bytes an entry at a time beside keys and values (~28
                # bytes an entry at most), each freed as soon as it is used.
                order = np.argsort(keys)  # unstable is fine: duplicates reduce by max
                keys = keys[order]
                values = values[order]
                del order
                starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
                values = np.maximum.reduceat(values, starts)
                keys = keys[starts]
                del starts
                pairs = np.empty((len(keys), 2), dtype=np.int64)
                np.divmod(keys, self.num_nodes, out=(pairs[:, 0], pairs[:, 1]))
                del keys
                row_counts += np.bincount(pairs[:, 0], minlength=self.num_nodes)
                pairs.tofile(index_file)
                values.tofile(weight_file)
                del pairs, values
            edges = int(row_counts.sum())
            _write_header(index_file, (edges, 2), np.int64)
            _write_header(weight_file, (edges,), np.float32)
        shutil.rmtree(self.spill)
        np.save(indptr_path, np.r_[0, np.cumsum(row_counts)])
        return edges


def open_edges(directory: str | Path, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(edge_index [2, E], edge_weight [E])`` of meta-path ``name``, memory-mapped
    (copy-on-write: writable tensors, the files are never changed)."""
    index_path, weight_path, _ = edge_paths(directory, name)
    index = torch.from_numpy(np.load(index_path, mmap_mode="c")).t()
    return index, torch.from_numpy(np.load(weight_path, mmap_mode="c"))


def adjacency_paths(directory: str | Path, name: str) -> tuple[Path, Path]:
    """The normalised-adjacency column and value files of meta-path ``name``."""
    directory = Path(directory)
    return tuple(directory / f"{name}_adjacency_{part}.npy" for part in ("col", "value"))


def store_adjacency(
    directory: str | Path, name: str, blocks: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Writes the ``(col, value)`` blocks of meta-path ``name``'s normalised adjacency, in
    row order, to its files and returns them memory-mapped (copy-on-write).

    Each file is written beside (named by this process) and then renamed over the old one,
    so an adjacency still mapped from an earlier call keeps reading its own (unlinked)
    file, and processes preparing on the same graph never write into one file.
    """
    paths = adjacency_paths(directory, name)
    partial = [path.with_suffix(f".{os.getpid()}.partial") for path in paths]
    entries = 0
    with open(partial[0], "wb") as col_file, open(partial[1], "wb") as value_file:
        col_file.write(b"\0" * HEADER_BYTES)
        value_file.write(b"\0" * HEADER_BYTES)
        for col, value in blocks:
            col.numpy().astype(np.int64, copy=False).tofile(col_file)
            value.numpy().astype(np.float32, copy=False).tofile(value_file)
            entries += col.numel()
        _write_header(col_file, (entries,), np.int64)
        _write_header(value_file, (entries,), np.float32)
    for source, path in zip(partial, paths, strict=True):
        os.replace(source, path)
    return tuple(torch.from_numpy(np.load(path, mmap_mode="c")) for path in paths)


class EdgeFile:
    """Row ranges of one meta-path's files as CSR blocks, read with plain file reads (a
    memory map would keep every page it touched in this process's resident memory)."""

    def __init__(self, directory: str | Path, name: str) -> None:
        self.index_path, self.weight_path, indptr_path = edge_paths(directory, name)
        self.indptr = np.load(indptr_path)

    def block(self, start: int, stop: int) -> sp.csr_matrix:
        """Rows ``start:stop`` as a float64 CSR matrix ``[stop - start, num_nodes]``."""
        first, last = int(self.indptr[start]), int(self.indptr[stop])
        num_nodes = len(self.indptr) - 1
        pairs = np.fromfile(self.index_path, dtype=np.int64, count=2 * (last - first),
                            offset=HEADER_BYTES + 16 * first).reshape(-1, 2)  # fmt: skip
        weights = np.fromfile(self.weight_path, dtype=np.float32, count=last - first,
                              offset=HEADER_BYTES + 4 * first)  # fmt: skip
        indptr = self.indptr[start : stop + 1] - first
        return sp.csr_matrix((weights.astype(np.float64), pairs[:, 1], indptr),
                             shape=(stop - start, num_nodes))  # fmt: skip
