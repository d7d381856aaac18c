"""Top-k retrieval over L2-normalised embeddings: exact (batched matmul) or a faiss index.

Scores are inner products; on L2-normalised rows they are cosine similarities.

* :func:`exact_topk`: ``scores = Q C^T`` one query batch at a time (``[B, N]`` in
  memory, never ``[Q, N]``), then ``torch.topk``. The reference.
* :class:`FaissIndex`: an inverted-file index (``IndexIVFFlat``, inner product) for
  large corpora, a flat one (exhaustive, exact) for small ones. ``nprobe = nlist``
  scans every list, so the IVF index is then exhaustive too. Needs the optional
  ``faiss-cpu`` (``pip install 'heco_pyg[faiss]'``). Built once and saved next to
  the embeddings (:func:`load_or_build_index`).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from heco_pyg.core.atomic import atomic_path, write_atomic
from heco_pyg.core.errors import DataError
from heco_pyg.evaluation.ranking import mask_out

#: Below this many vectors a faiss index is flat (exhaustive): clustering would not pay.
FLAT_LIMIT = 10_000


def exact_topk(
    corpus: Tensor,
    queries: Tensor,
    k: int,
    exclude: Tensor | None = None,
    batch_size: int = 1024,
) -> tuple[Tensor, Tensor]:
    """The ``k`` corpus rows with the largest inner product with each query.

    Args:
        corpus: ``[N, C]`` vectors.
        queries: ``[Q, C]`` vectors.
        k: results per query (at most ``N``, less one when excluding).
        exclude: optional ``[Q]`` corpus row to leave out per query (the query itself),
            ``-1`` for none.
        batch_size: queries scored at once; memory is ``batch_size x N`` floats.

    Returns:
        scores ``[Q, k]`` (descending) and corpus rows ``[Q, k]``.
    """
    k = min(k, corpus.size(0) - (1 if exclude is not None else 0))
    if k <= 0:
        empty = queries.new_empty(queries.size(0), 0)
        return empty, empty.long()
    scores, rows = [], []
    for start in range(0, queries.size(0), batch_size):
        score = queries[start : start + batch_size] @ corpus.t()
        if exclude is not None:
            mask_out(score, exclude[start : start + batch_size])
        top = torch.topk(score, k, dim=1)
        scores.append(top.values)
        rows.append(top.indices)
    return torch.cat(scores), torch.cat(rows)


def search(
    corpus: Tensor, queries: Tensor, k: int, exclude: Tensor, index=None, batch_size: int = 1024
) -> tuple[Tensor, Tensor]:
    """Top-k by the faiss ``index`` when given, else exact (:func:`exact_topk`)."""
    if index is not None:
        return index.search(queries, k, exclude)
    return exact_topk(corpus, queries, k, exclude, batch_size)


def _faiss():
    try:
        import faiss
    except ImportError:
        raise DataError(
            "index=faiss needs the optional faiss-cpu package: pip install 'heco_pyg[faiss]' "
            "(or use index=exact)"
        ) from None
    return faiss


def faiss_available() -> bool:
    try:
        _faiss()
    except DataError:
        return False
    return True


class FaissIndex:
    """A faiss inner-product index; build it with :meth:`build`, or :meth:`load` it.

    Args:
        index: a faiss index (flat or IVF, inner product).
        nprobe: inverted lists scanned per query (``nprobe >= nlist`` is exhaustive).
    """

    def __init__(self, index, nprobe: int = 32) -> None:
        self.index = index
        self.nprobe = nprobe

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        nlist: int | None = None,
        nprobe: int = 32,
        seed: int = 0,
        train_per_list: int = 64,
    ) -> FaissIndex:
        """Indexes ``vectors`` ``[N, C]`` (L2-normalised for cosine scores).

        ``nlist``: inverted lists; ``None``: flat below :data:`FLAT_LIMIT` vectors, else
        ``4 sqrt(N)``; ``0``: always flat. ``seed``: the k-means seed. k-means trains on
        at most ``train_per_list * nlist`` vectors (a seeded sample), every one is added.
        """
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        if nlist is None:
            nlist = 0 if n < FLAT_LIMIT else int(4 * math.sqrt(n))
        if nlist == 0:
            index = faiss.IndexFlatIP(dim)
        else:
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = seed
            index.cp.max_points_per_centroid = train_per_list
            index.train(vectors)
        index.add(vectors)
        return cls(index, nprobe)

    @property
    def nlist(self) -> int:
        return int(getattr(self.index, "nlist", 0))

    @property
    def num_vectors(self) -> int:
        return int(self.index.ntotal)

    def search(
        self, queries: np.ndarray | Tensor, k: int, exclude: np.ndarray | Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Same contract as :func:`exact_topk` (``exclude``: ``[Q]`` rows, ``-1`` none)."""
        faiss = _faiss()
        queries = np.ascontiguousarray(torch.as_tensor(queries).numpy(), dtype=np.float32)
        extra = 1 if exclude is not None else 0
        k = min(k, self.num_vectors - extra)
        if self.nlist:
            faiss.extract_index_ivf(self.index).nprobe = min(self.nprobe, self.nlist)
        scores, rows = self.index.search(queries, k + extra)
        scores, rows = torch.from_numpy(scores), torch.from_numpy(rows)
        if exclude is not None:
            # Drop the excluded row (or, when it was not found, the last result).
            exclude = torch.as_tensor(exclude).view(-1, 1)
            match = rows == exclude
            drop = match & (torch.cumsum(match, dim=1) == 1)  # its first occurrence only
            drop[:, -1] |= ~drop.any(dim=1)
            keep = ~drop
            scores = scores[keep].view(-1, k)
            rows = rows[keep].view(-1, k)
        return scores, rows

    def save(self, path: str | os.PathLike) -> None:
        """Writes the index to ``path`` atomically."""
        faiss = _faiss()
        with atomic_path(path) as temporary:
            faiss.write_index(self.index, str(temporary))

    @classmethod
    def load(cls, path: str | os.PathLike, nprobe: int = 32) -> FaissIndex:
        return cls(_faiss().read_index(str(path)), nprobe)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(num_vectors={self.num_vectors}, nlist={self.nlist}, "
            f"nprobe={self.nprobe})"
        )


def _source_stamp(path: Path) -> dict:
    stat = path.stat()
    return {"source": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def load_or_build_index(
    embeddings_path: str | os.PathLike,
    index_dir: str | os.PathLike,
    nlist: int | None = None,
    nprobe: int = 32,
) -> FaissIndex:
    """The faiss index of ``embeddings_path`` (``[N, C]`` ``.npy``), saved in ``index_dir``.

    Built on first use and reused while the embeddings file (size, modification time) and
    ``nlist`` are unchanged; ``index_dir/<view>.faiss`` + ``<view>.json`` describe it.
    """
    embeddings_path, index_dir = Path(embeddings_path), Path(index_dir)
    stem = embeddings_path.stem
    index_path, meta_path = index_dir / f"{stem}.faiss", index_dir / f"{stem}.json"
    wanted = _source_stamp(embeddings_path) | {"nlist_requested": nlist}
    if index_path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if {key: meta.get(key) for key in wanted} == wanted:
            return FaissIndex.load(index_path, nprobe)
    index = FaissIndex.build(np.load(embeddings_path), nlist=nlist, nprobe=nprobe)
    index_dir.mkdir(parents=True, exist_ok=True)
    index.save(index_path)
    write_atomic(meta_path, json.dumps(wanted | {"nlist": index.nlist, "rows": index.num_vectors}))
    return index
