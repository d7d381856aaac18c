"""Reading a run's ``embeddings/<view>.npy`` as the run wrote it, or not at all.

The writer (:meth:`heco_pyg.runs.run_dir.RunDir.write_embeddings`) stores real float32
rows, L2-normalised, none all-zero. A file from elsewhere may claim anything in its
header (a shape of 109 TiB) or hold what a ranker would take at face value (a row of
1e30, a row scaled by 1000, complex values): the header is read first and must describe
a real-float ``[N, C]`` array of exactly the file's size, and every row must be finite
with a norm within :data:`NORM_TOLERANCE` of 1.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from heco_pyg.core.errors import RunError
from heco_pyg.core.npy import read_header

NORM_TOLERANCE = 1e-3
RETRAIN = "retrain, or restore the file"


def _header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, data offset)`` from the ``.npy`` header, without reading the data."""
    try:
        with open(path, "rb") as handle:
            shape, dtype = read_header(handle)
            return shape, dtype, handle.tell()
    except (ValueError, OSError, EOFError, SyntaxError) as error:
        raise RunError(
            f"{path}: not a plain .npy array ({type(error).__name__}); {RETRAIN}"
        ) from None


def read_embeddings(path: str | Path) -> np.ndarray:
    """The ``[N, C]`` float array of ``path``, checked (see the module docstring)."""
    path = Path(path)
    shape, dtype, offset = _header(path)
    if dtype.kind != "f" or dtype.hasobject:
        raise RunError(f"{path}: embeddings must be real floats, got {dtype}; {RETRAIN}")
    if len(shape) != 2:
        raise RunError(f"{path}: expected [N, C] embeddings, the header says {shape}; {RETRAIN}")
    expected = offset + math.prod(shape) * dtype.itemsize
    size = path.stat().st_size
    if size != expected:
        raise RunError(f"{path}: its header says {shape} {dtype} ({expected:,} bytes), the file "
                       f"has {size:,} bytes; {RETRAIN}")  # fmt: skip
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise RunError(
            f"{path}: not a plain float array ({type(error).__name__}); {RETRAIN}"
        ) from None
    with np.errstate(over="ignore", invalid="ignore"):
        norms = np.linalg.norm(array.astype(np.float64), axis=1)
    bad = np.flatnonzero(~np.isfinite(norms) | (np.abs(norms - 1.0) > NORM_TOLERANCE))
    if len(bad):
        raise RunError(
            f"{path}: rows {bad[:5].tolist()} are not finite unit vectors (the run writes "
            f"L2-normalised rows; norm {norms[bad[0]]:.4g}); {RETRAIN}"
        )
    return array
