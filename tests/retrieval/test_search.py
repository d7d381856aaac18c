import numpy as np
import pytest
import torch
import torch.nn.functional as F

from heco_pyg.retrieval.search import FaissIndex, exact_topk, faiss_available, load_or_build_index

needs_faiss = pytest.mark.skipif(
    not faiss_available(), reason="faiss-cpu is not installed (pip install 'heco_pyg[faiss]')"
)


def _vectors(n: int, dim: int = 16, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, dim, generator=generator), dim=1)


def test_exact_topk_matches_full_sort():
    corpus, queries = _vectors(50), _vectors(7, seed=1)
    scores, rows = exact_topk(corpus, queries, k=5, batch_size=3)
    full = queries @ corpus.t()
    expected = full.argsort(dim=1, descending=True)[:, :5]
    assert rows.shape == (7, 5)
    assert torch.equal(rows, expected)
    assert torch.allclose(scores, full.gather(1, expected))


def test_exact_topk_excludes_self_and_clamps_k():
    corpus = _vectors(6)
    scores, rows = exact_topk(corpus, corpus, k=10, exclude=torch.arange(6))
    assert rows.shape == (6, 5)  # k clamped to N - 1
    assert not (rows == torch.arange(6)[:, None]).any()
    # Without exclusion a normalised vector's best match is itself.
    _, rows = exact_topk(corpus, corpus, k=1)
    assert torch.equal(rows.view(-1), torch.arange(6))


def test_exact_topk_partial_exclusion():
    corpus = _vectors(6)
    _, rows = exact_topk(corpus, corpus[:2], k=1, exclude=torch.tensor([-1, 1]))
    assert int(rows[0, 0]) == 0
    assert int(rows[1, 0]) != 1


@needs_faiss
@pytest.mark.parametrize("nlist", [0, 8])
def test_faiss_agrees_with_exact(nlist):
    corpus, queries = _vectors(500, seed=2), _vectors(40, seed=3)
    index = FaissIndex.build(corpus.numpy(), nlist=nlist, nprobe=8)  # nprobe = nlist: exhaustive
    scores, rows = index.search(queries, k=10)
    exact_scores, exact_rows = exact_topk(corpus, queries, k=10)
    assert torch.equal(rows, exact_rows)
    assert torch.allclose(scores, exact_scores, atol=1e-5)


@needs_faiss
def test_faiss_exclusion_agrees_with_exact():
    corpus = _vectors(300, seed=4)
    index = FaissIndex.build(corpus.numpy(), nlist=0)
    exclude = torch.arange(300)
    _, rows = index.search(corpus, k=5, exclude=exclude)
    _, exact_rows = exact_topk(corpus, corpus, k=5, exclude=exclude)
    assert torch.equal(rows, exact_rows)


@needs_faiss
def test_faiss_pads_short_results_with_minus_one():
    # One probed list of 8 cannot always hold 60 results: faiss pads with row -1.
    corpus = _vectors(100, seed=6)
    index = FaissIndex.build(corpus.numpy(), nlist=8, nprobe=1)
    for exclude in (None, torch.full((5,), -1), torch.arange(5)):
        scores, rows = index.search(corpus[:5], k=60, exclude=exclude)
        assert rows.shape == scores.shape == (5, 60)
        assert (rows == -1).any()
        if exclude is not None and int(exclude[0]) >= 0:
            assert not (rows == torch.arange(5)[:, None]).any()


@needs_faiss
def test_index_is_built_once_and_saved(tmp_path):
    path = tmp_path / "fused.npy"
    np.save(path, _vectors(200, seed=5).numpy())
    index = load_or_build_index(path, tmp_path / "index", nlist=4, nprobe=4)
    saved = tmp_path / "index" / "fused.faiss"
    assert saved.is_file() and index.nlist == 4
    stamp = saved.stat().st_mtime_ns
    again = load_or_build_index(path, tmp_path / "index", nlist=4, nprobe=4)
    assert saved.stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert again.num_vectors == 200
    assert "nlist=4" in repr(again)
