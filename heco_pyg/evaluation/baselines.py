"""Training-free scorers the embeddings are compared with, generic over the graph's
neighbour types (no node-type name is assumed):

* ``random``: uniform scores (seeded);
* ``text``: TF-IDF cosine (sublinear term frequencies) of the papers' bag of words
  (:func:`~heco_pyg.data.graph.bag_of_words`) when the graph carries one, else cosine of
  the paper features;
* one per neighbour type (``tag``, ``user``, ``author``, ``concept``, ...): TF-IDF cosine of
  the paper-neighbour incidence (shared rare neighbours weigh more than shared hubs);
* ``fusion``: the mean of ``text`` and every neighbour type's cosine; ``fusion + fused``:
  the same mean with the embeddings' cosine as one more part;
* ``sgc``: the paper features propagated two hops over the normalised union of the
  meta-path graphs (each row's 20 strongest neighbours per meta-path), cosine; no training
  (Wu et al., *Simplifying Graph Convolutional Networks*, ICML 2019); ``fusion + sgc``:
  the fusion with it as one more part, the control for ``fusion + fused``.

A scorer maps query rows ``[B]`` to scores ``[B, N]`` over every paper; sparse products
are taken per batch of queries, so memory stays ``O(B N)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor

from heco_pyg.data.graph import bag_of_words, metapath_edges, schema_edge_type
from heco_pyg.data.incidence import incidence, topk_per_row

Scorer = Callable[[Tensor], Tensor]
FUSION = "fusion"


def tfidf_rows(counts: sp.csr_matrix, sublinear_tf: bool = False) -> sp.csr_matrix:
    """Row-normalised TF-IDF of a ``[N, V]`` count matrix (scikit-learn's smoothed idf;
    ``sublinear_tf``: ``1 + log(tf)``)."""
    from sklearn.feature_extraction.text import TfidfTransformer  # the commands import it late

    transformer = TfidfTransformer(sublinear_tf=sublinear_tf)
    return transformer.fit_transform(counts).astype(np.float32).tocsr()


def sparse_cosine_scorer(rows_matrix: sp.csr_matrix) -> Scorer:
    """Cosine of L2-normalised sparse rows: one sparse product per batch of queries."""
    transpose = rows_matrix.T.tocsr()
    return lambda rows: torch.from_numpy((rows_matrix[rows.numpy()] @ transpose).toarray())


def cosine_scorer(vectors: Tensor) -> Scorer:
    z = F.normalize(torch.as_tensor(vectors).float(), dim=1)
    return lambda rows: z[rows] @ z.t()


def random_scorer(num_items: int, seed: int) -> Scorer:
    generator = torch.Generator().manual_seed(seed)
    return lambda rows: torch.rand(rows.numel(), num_items, generator=generator)


def mean_scorer(parts: list[Scorer]) -> Scorer:
    return lambda rows: torch.stack([part(rows) for part in parts]).mean(0)


def last_batch_kept(scorer: Scorer) -> Scorer:
    """``scorer`` that returns its previous scores when called again with the same ``rows``
    object (a fusion and its parts score each batch once)."""
    last: dict = {}

    def score(rows: Tensor) -> Tensor:
        if last.get("rows") is not rows:
            last.update(rows=rows, scores=scorer(rows))
        return last["scores"]

    return score


def text_scorer(data) -> Scorer:
    """TF-IDF cosine of the bag of words when the graph has one, else feature cosine."""
    words = bag_of_words(data)
    if words is None:
        return cosine_scorer(data[data.target].x)
    index, count, vocabulary_size = words
    shape = (data[data.target].num_nodes, vocabulary_size)
    counts = sp.csr_matrix((count.float().numpy(), (index[0].numpy(), index[1].numpy())), shape)
    # Sublinear term frequencies: chosen on the validation half of CiteULike (Recall@10
    # 0.197 against 0.162 for raw counts; BENCHMARKS.md "Recommendation on real data").
    return sparse_cosine_scorer(tfidf_rows(counts, sublinear_tf=True))


def neighbour_scorers(data) -> dict[str, Scorer]:
    """``{neighbour type: TF-IDF cosine of the paper-neighbour incidence}``."""
    target, n = data.target, data[data.target].num_nodes
    scorers = {}
    for node_type in data.neighbour_types:
        row, col = data[schema_edge_type(target, node_type)].edge_index.numpy()
        matrix = incidence(row, col, (n, data[node_type].num_nodes))
        scorers[node_type] = sparse_cosine_scorer(tfidf_rows(matrix))
    return scorers


def sgc_features(data, hops: int = 2, topk: int | None = 20) -> np.ndarray:
    """``S^hops X`` with ``S = D^-1/2 (A + I) D^-1/2``, ``A`` the binary union of the
    meta-path graphs, each row first cut to its ``topk`` largest path counts, symmetrised."""
    n = data[data.target].num_nodes
    adjacency = sp.identity(n, np.float32, format="csr")
    for edge_index, weight in metapath_edges(data).values():
        row, col = edge_index.numpy()
        keep = topk_per_row(row, col, weight.numpy(), topk)
        part = incidence(row[keep], col[keep], (n, n))
        adjacency = adjacency + part + part.T
    adjacency.data[:] = 1.0
    scale = sp.diags(1 / np.sqrt(np.asarray(adjacency.sum(1)).ravel()))
    propagation = (scale @ adjacency @ scale).tocsr()
    x = data[data.target].x.numpy().astype(np.float32)
    for _ in range(hops):
        x = propagation @ x
    return F.normalize(torch.from_numpy(np.ascontiguousarray(x)), dim=1).numpy()


def fusion_parts(data) -> dict[str, Scorer]:
    """``text`` and one cosine per neighbour type, each keeping its last batch's scores."""
    parts = {"text": text_scorer(data), **neighbour_scorers(data)}
    return {name: last_batch_kept(scorer) for name, scorer in parts.items()}


def baseline_scorers(data, seed: int, join: dict[str, Scorer] | None = None) -> dict[str, Scorer]:
    """Every baseline of the module docstring, in table order; each scorer of ``join``
    (e.g. an embedding's cosine) also joins the fusion as one more equal part, a row
    ``fusion + <name>``."""
    n = data[data.target].num_nodes
    named_parts = fusion_parts(data)
    scorers = {"random": random_scorer(n, seed), **named_parts}
    parts = list(named_parts.values())
    scorers[FUSION] = mean_scorer(parts)
    for name, scorer in (join or {}).items():
        scorers[f"{FUSION} + {name}"] = mean_scorer([scorer, *parts])
    if data.metapaths:
        sgc = last_batch_kept(cosine_scorer(torch.from_numpy(sgc_features(data))))
        scorers["sgc"] = sgc
        # The control for "fusion + <embedding>": one more part that needs no training.
        scorers[f"{FUSION} + sgc"] = mean_scorer([sgc, *parts])
    return scorers
