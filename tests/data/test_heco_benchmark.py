"""The official HeCo format loader: real ACM/DBLP shapes, a config-only fake dataset,
stored vs rebuilt positives, the download path against a local HTTP server."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hydra.utils import instantiate
from omegaconf import open_dict

from heco_pyg.core.errors import DataError
from heco_pyg.data import build_data, heco_benchmark
from heco_pyg.data.download import download_files, sha256
from heco_pyg.data.graph import metapath_edge_type, positive_index
from heco_pyg.data.heco_benchmark import load_heco_benchmark_graph
from heco_pyg.data.positives import metapath_scores, select_positives
from tests.conftest import compose_config

# --- a small Freebase-shaped dataset, written in the official format ------------------

NUM_MOVIES, NUM_CLASSES = 120, 3
FAKE_TYPES = {"director": ("nei_d.npy", 6), "actor": ("nei_a.npy", 30), "writer": ("nei_w.npy", 9)}


def _metapath(neighbours: list[np.ndarray], count: int) -> sp.coo_matrix:
    """Binary ``A A^T > 0`` with the diagonal, as the official files store it."""
    rows = np.repeat(np.arange(len(neighbours)), [len(n) for n in neighbours])
    incidence = sp.csr_matrix((np.ones(len(rows)), (rows, np.concatenate(neighbours))),
                              shape=(len(neighbours), count))  # fmt: skip
    return sp.coo_matrix((incidence @ incidence.T) > 0)


def write_fake_freebase(root, pos_num: int = 4, normalise_with_self: bool = True) -> dict:
    """Movies whose class decides their director and most actors and writers.

    ``pos.npz`` follows the official recipe (rank by the summed row-normalised meta-path
    adjacencies, the stored diagonal included in the row sums) or, with
    ``normalise_with_self=False``, the project's (diagonal left out)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    labels = np.arange(NUM_MOVIES) % NUM_CLASSES
    np.save(root / "labels.npy", labels.astype(np.float64))
    metapaths = {}
    names = ("mdm", "mam", "mwm")
    for (node_type, (file, count)), name in zip(FAKE_TYPES.items(), names, strict=True):
        per_class = count // NUM_CLASSES
        neighbours = np.empty(NUM_MOVIES, dtype=object)
        for movie, label in enumerate(labels):
            size = 1 if node_type == "director" else int(rng.integers(1, 4))
            neighbours[movie] = label * per_class + rng.choice(per_class, size, replace=False)
        np.save(root / file, neighbours, allow_pickle=True)
        metapaths[name] = _metapath(list(neighbours), count)
        sp.save_npz(root / f"{name}.npz", metapaths[name])
    score = 0
    for matrix in metapaths.values():
        matrix = matrix.tocsr().astype(float)
        if not normalise_with_self:
            matrix.setdiag(0)
            matrix.eliminate_zeros()
        score = score + sp.diags(1 / np.maximum(np.asarray(matrix.sum(1)).ravel(), 1)) @ matrix
    score = np.asarray(score.todense()) + 10 * np.eye(NUM_MOVIES)  # self ranks first
    top = np.argsort(-score, axis=1, kind="stable")[:, :pos_num]
    anchors = np.repeat(np.arange(NUM_MOVIES), pos_num)
    pos = sp.coo_matrix((np.ones(top.size), (anchors, top.ravel())), shape=score.shape)
    sp.save_npz(root / "pos.npz", pos)
    for rate in (20, 40, 60):  # tiny splits: 2/4/6 per class, then val and test
        per_class = rate // 10
        order = np.concatenate([np.flatnonzero(labels == c) for c in range(NUM_CLASSES)])
        train = np.concatenate([order[labels[order] == c][:per_class] for c in range(NUM_CLASSES)])
        rest = np.setdiff1d(np.arange(NUM_MOVIES), train)
        np.save(root / f"train_{rate}.npy", train)
        np.save(root / f"val_{rate}.npy", rest[::2])
        np.save(root / f"test_{rate}.npy", rest[1::2])
    return metapaths


def fake_config(data_dir, overrides=()):
    cfg = compose_config(["experiment=heco_freebase", f"paths.data_dir={data_dir}", *overrides])
    with open_dict(cfg):
        cfg.data.url = None  # never reach the network in tests
        cfg.paths.output_dir = str(data_dir)
    return cfg


# --- real data --------------------------------------------------------------------------


def _load_real(shared_dir, name):
    cfg = compose_config([f"data={name}", f"paths.data_dir={shared_dir / 'data'}"])
    with open_dict(cfg):
        cfg.data.url = None
    if not (shared_dir / "data" / "heco" / name / "labels.npy").is_file():
        pytest.skip(f"{shared_dir}/data/heco/{name} is absent")
    return instantiate(cfg.data, _convert_="all")


def _check_splits(data, per_class: dict[int, int]):
    store = data[data.target]
    for rate, count in per_class.items():
        train, val, test = (store[f"{k}_mask_{rate}"] for k in ("train", "val", "test"))
        assert int(train.sum()) == count and int(val.sum()) == 1000 and int(test.sum()) == 1000
        assert not (train & test).any() and not (val & test).any()


def test_acm_shapes(shared_dir):
    data = _load_real(shared_dir, "acm")
    assert data.target == "paper" and data.neighbour_types == ["author", "subject"]
    assert data.metapaths == ["PAP", "PSP"] and data.sample_sizes == {"author": 7, "subject": 1}
    assert data["paper"].x.shape == (4019, 1902)
    assert torch.allclose(data["paper"].x.sum(1), torch.ones(4019), atol=1e-4)  # row-normalised
    assert data["author"].num_nodes == 7167 and data["subject"].num_nodes == 60
    assert "x" not in data["author"] and "x" not in data["subject"]
    assert data["paper"].y.unique().tolist() == [0, 1, 2]
    psp = data[metapath_edge_type("paper", "PSP")].edge_index
    assert psp.size(1) == 4_338_213 - 4019 and not (psp[0] == psp[1]).any()  # no self-loops
    positives = positive_index(data)
    assert (positives[0].diff() >= 0).all()  # sorted by anchor
    first = torch.ones(positives.size(1), dtype=torch.bool)
    first[1:] = positives[0, 1:] != positives[0, :-1]
    # The stored pairs exactly (as the official code): 20,053, self first where present,
    # and the anchor absent from 923 rows.
    assert positives.size(1) == 20_053
    with_self = positives[0, first] == positives[1, first]
    assert int((~with_self).sum()) == 923
    _check_splits(data, {20: 60, 40: 120, 60: 180})


@pytest.mark.slow
def test_dblp_shapes(shared_dir):
    data = _load_real(shared_dir, "dblp")
    assert data.target == "author" and data.neighbour_types == ["paper"]
    assert data.metapaths == ["APA", "APCPA", "APTPA"]
    assert data["author"].x.shape == (4057, 334) and data["paper"].num_nodes == 14328
    assert positive_index(data).size(1) == 4_046_685
    _check_splits(data, {20: 80, 40: 160, 60: 240})


# --- a third dataset from its config alone ----------------------------------------------


def test_fake_freebase_from_config_only(tmp_path):
    metapaths = write_fake_freebase(tmp_path / "heco" / "freebase")
    data = instantiate(fake_config(tmp_path).data, _convert_="all")
    assert data.target == "movie" and data.neighbour_types == ["director", "actor", "writer"]
    assert data.metapaths == ["MDM", "MAM", "MWM"]
    assert data.sample_sizes == {"director": 1, "actor": 18, "writer": 2}
    # A featureless target gets the one-hot identity, as in the official code.
    assert torch.equal(data["movie"].x, torch.eye(NUM_MOVIES))
    for name, matrix in zip(data.metapaths, metapaths.values(), strict=True):
        edge_index = data[metapath_edge_type("movie", name)].edge_index
        assert edge_index.size(1) == matrix.nnz - NUM_MOVIES
    assert data.positive_source.endswith("pos.npz")
    for rate, count in {20: 6, 40: 12, 60: 18}.items():
        assert int(data["movie"][f"train_mask_{rate}"].sum()) == count


def _pairs(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.t().tolist()))


def test_stored_and_rebuilt_positives_agree(tmp_path):
    write_fake_freebase(tmp_path / "heco" / "freebase", pos_num=4, normalise_with_self=False)
    data = instantiate(fake_config(tmp_path).data, _convert_="all")
    stored = positive_index(data)
    rebuilt = select_positives(data, pos_num=4)
    assert _pairs(stored) == _pairs(rebuilt)
    # Without the stored file the loader rebuilds the same positives.
    (tmp_path / "heco" / "freebase" / "pos.npz").unlink()
    cfg = fake_config(tmp_path, ["data.pos_num=4"])
    data = instantiate(cfg.data, _convert_="all")
    assert data.positive_source.startswith("rebuilt")
    assert _pairs(positive_index(data)) == _pairs(stored)


def test_official_recipe_differs_only_in_near_ties(tmp_path):
    """The official recipe counts the diagonal in the row sums; the project's leaves it out.
    Both keep self and the same number of positives; the choice differs in a few rows."""
    write_fake_freebase(tmp_path / "heco" / "freebase", pos_num=4, normalise_with_self=True)
    data = instantiate(fake_config(tmp_path).data, _convert_="all")
    stored, rebuilt = (
        _pairs(positive_index(data)),
        _pairs(select_positives(data, pos_num=4)),
    )
    assert len(stored) == len(rebuilt) == 4 * NUM_MOVIES
    assert len(stored & rebuilt) / len(stored) > 0.9


def test_acm_stored_positives_against_rebuilt(shared_dir):
    """The official ACM positives and the project's selection agree up to ties: every
    official positive the rebuild leaves out scores exactly as the weakest positive the
    rebuild keeps in that row (PSP makes whole subjects tie; the official code broke the
    ties arbitrarily, the project takes the smaller index). 923 official rows also leave
    the anchor itself out; the project's contract always keeps it."""
    data = _load_real(shared_dir, "acm")
    stored = positive_index(data).numpy()
    rebuilt = select_positives(data, pos_num=5).numpy()
    n = data["paper"].num_nodes
    scores = metapath_scores(data).tocsr()

    def off_diagonal(pairs):
        return pairs[:, pairs[0] != pairs[1]]

    stored, rebuilt = off_diagonal(stored), off_diagonal(rebuilt)
    weakest = np.full(n, np.inf)
    np.minimum.at(weakest, rebuilt[0], np.asarray(scores[rebuilt[0], rebuilt[1]]).ravel())
    left_out = stored[:, ~np.isin(stored[0] * n + stored[1], rebuilt[0] * n + rebuilt[1])]
    left_out_scores = np.asarray(scores[left_out[0], left_out[1]]).ravel()
    assert left_out.shape[1] > 0  # the two selections do differ...
    np.testing.assert_allclose(left_out_scores, weakest[left_out[0]], rtol=1e-9)  # ...in ties


def test_missing_files_name_the_folder(tmp_path):
    cfg = fake_config(tmp_path)
    with pytest.raises(Exception, match=str(tmp_path / "heco" / "freebase")):
        instantiate(cfg.data, _convert_="all")


# --- download ---------------------------------------------------------------------------


@pytest.fixture
def file_server(tmp_path):
    """A local HTTP server over ``tmp_path / "remote"``; yields its base URL."""
    remote = tmp_path / "remote"
    remote.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(remote))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield remote, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_from_local_server(tmp_path, file_server, monkeypatch):
    remote, url = file_server
    write_fake_freebase(remote / "freebase")
    monkeypatch.setitem(heco_benchmark.RELEASE_SHA256, "freebase", {})  # the fake is no release
    cfg = fake_config(tmp_path / "local")
    with open_dict(cfg):
        cfg.data.url = f"{url}/freebase"
    data = instantiate(cfg.data, _convert_="all")
    local = tmp_path / "local" / "heco" / "freebase"
    assert (local / "mam.npz").read_bytes() == (remote / "freebase" / "mam.npz").read_bytes()
    assert data["movie"].num_nodes == NUM_MOVIES
    assert not list(local.glob(".*.tmp")) and not list(local.glob(".*[!z]"))  # no temporaries


def test_download_failure_says_where_to_put_files(tmp_path, file_server):
    remote, url = file_server  # serves nothing: every file is a 404
    with pytest.raises(DataError, match="Copy the official HeCo files") as error:
        download_files(tmp_path / "acm", ["labels.npy", "pap.npz"], f"{url}/acm")
    assert str(tmp_path / "acm") in str(error.value) and "labels.npy, pap.npz" in str(error.value)
    assert not list((tmp_path / "acm").iterdir())  # nothing half-written


def test_download_offline_with_mocked_opener(tmp_path):
    calls = []

    def offline(url):
        calls.append(url)
        raise urllib.error.URLError("no network")

    with pytest.raises(DataError, match="Offline"):
        download_files(tmp_path, ["labels.npy", "pos.npz"], "https://example.org/acm", offline,
                       optional=["pos.npz"])  # fmt: skip
    assert calls == ["https://example.org/acm/labels.npy", "https://example.org/acm/pos.npz"]


def test_missing_target_features_entry(tmp_path):
    write_fake_freebase(tmp_path)
    with pytest.raises(DataError, match="target 'movie'"):
        neighbours = {"actor": {"file": "nei_a.npy", "sample_size": 2}}
        load_heco_benchmark_graph(tmp_path, "movie", neighbours, {"MAM": "mam.npz"}, features={})


# --- end to end: train on the fake dataset, then evaluate the run -----------------------


@pytest.mark.slow
def test_train_then_evaluate_run(tmp_path):
    from heco_pyg.evaluate import protocol_task
    from heco_pyg.train import train

    write_fake_freebase(tmp_path / "heco" / "freebase")
    cfg = fake_config(tmp_path, ["trainer.max_epochs=2", "trainer.progress=false",
                                 "protocol.repeats=4", "protocol.steps=10",
                                 "protocol.clustering_runs=2"])  # fmt: skip
    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    metrics = train(cfg, run_dir)
    assert {
        "protocol/macro_f1_20",
        "protocol/micro_f1_60",
        "protocol/auc_40",
        "protocol/nmi",
    } <= set(metrics)
    saved = json.loads((run_dir / "eval.json").read_text())
    assert saved["settings"]["repeats"] == 4
    # protocol_task rebuilds the data and re-embeds from the checkpoint.
    from omegaconf import OmegaConf

    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    (run_dir / "eval.json").unlink()
    result = protocol_task(OmegaConf.create({"run_dir": str(run_dir), "seed": cfg.seed}))
    assert (run_dir / "eval.md").read_text().startswith("### HeCo protocol")
    assert result["classification"]["20"]["micro_f1"]["mean"] == pytest.approx(
        metrics["protocol/micro_f1_20"]
    )
    # evaluate +protocol.repeats=2: eval.{json,md} and metrics.json stay in agreement
    again = protocol_task(OmegaConf.create({"run_dir": str(run_dir), "seed": cfg.seed,
                                            "protocol": {"repeats": 2}}))  # fmt: skip
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert again["settings"]["repeats"] == 2
    assert saved["protocol/micro_f1_20"] == again["classification"]["20"]["micro_f1"]["mean"]


# --- nothing unpickled that is not a pinned release file ---------------------------------


class Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_in_a_neighbour_file_is_refused_and_never_runs(tmp_path):
    root = tmp_path / "heco" / "freebase"
    write_fake_freebase(root)
    marker = tmp_path / "payload_ran"
    planted = np.empty(NUM_MOVIES, dtype=object)
    planted[:] = [Payload(marker)] * NUM_MOVIES
    np.save(root / "nei_a.npy", planted, allow_pickle=True)
    with pytest.raises(
        DataError, match=r"nei_a\.npy: not an array of integer .*refusing to load posix.system"
    ):
        build_data(fake_config(tmp_path).data)
    assert not marker.exists()


def test_a_pinned_hash_does_not_make_a_payload_run(tmp_path, monkeypatch):
    """Even a file whose SHA-256 is pinned goes through the restricted unpickler."""
    root = tmp_path / "heco" / "freebase"
    write_fake_freebase(root)
    marker = tmp_path / "payload_ran"
    np.save(root / "nei_a.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    monkeypatch.setitem(
        heco_benchmark.RELEASE_SHA256, "freebase", {"nei_a.npy": sha256(root / "nei_a.npy")}
    )
    with pytest.raises(DataError, match=r"nei_a\.npy: not an array of integer"):
        build_data(fake_config(tmp_path).data)
    assert not marker.exists()


def test_a_file_swapped_after_it_was_read_is_never_parsed(tmp_path, monkeypatch):
    """The race of issue 25: a writer replaces ``nei_a.npy`` with a payload right after
    the loader read it (deterministic: the swap happens inside the loader's read). The
    bytes read are the bytes parsed, so the payload never runs."""
    root = tmp_path / "heco" / "freebase"
    write_fake_freebase(root)
    marker = tmp_path / "payload_ran"
    payload = np.array([Payload(marker)] * NUM_MOVIES, dtype=object)
    read_bytes = Path.read_bytes

    def read_then_swap(path):
        raw = read_bytes(path)
        if path.name == "nei_a.npy":
            np.save(path, payload, allow_pickle=True)
        return raw

    monkeypatch.setattr(Path, "read_bytes", read_then_swap)
    data = build_data(fake_config(tmp_path).data)
    assert data["movie"].num_nodes == NUM_MOVIES and not marker.exists()


def test_an_unpinned_object_array_in_the_release_format_loads_without_a_remedy(tmp_path):
    """AMiner/Freebase-style files that match no pin load as they are (issue 25: the old
    remedy, data.trusted_sha256.<file>=..., did not work in Hydra; nothing is needed now)."""
    write_fake_freebase(tmp_path / "heco" / "freebase")
    data = build_data(fake_config(tmp_path).data)
    assert data[("movie", "to", "actor")].edge_index.size(1) > 0


def test_a_trusted_object_array_is_converted_once_to_a_plain_file(tmp_path):
    root = tmp_path / "heco" / "freebase"
    write_fake_freebase(root)
    before = sorted(p.name for p in root.iterdir())
    first = instantiate(fake_config(tmp_path).data, _convert_="all")
    converted = sorted(p.name for p in (tmp_path / "processed").glob("nei_*.npz"))
    assert len(converted) == len(FAKE_TYPES)
    assert sorted(p.name for p in root.iterdir()) == before  # nothing beside the inputs
    second = instantiate(fake_config(tmp_path).data, _convert_="all")
    edge_type = ("movie", "to", "actor")
    assert torch.equal(first[edge_type].edge_index, second[edge_type].edge_index)


def test_a_download_that_differs_from_the_pinned_file_is_refused(tmp_path, file_server):
    remote, url = file_server
    (remote / "acm").mkdir()
    np.save(remote / "acm" / "labels.npy", np.zeros(3, dtype=np.int64))  # not the release file
    with pytest.raises(DataError, match="SHA-256 differs"):
        download_files(tmp_path / "acm", ["labels.npy"], f"{url}/acm",
                       expected={"labels.npy": "0" * 64})  # fmt: skip
    assert not (tmp_path / "acm" / "labels.npy").exists()


def test_the_official_files_match_the_pinned_hashes(shared_dir):
    from heco_pyg.data.heco_release import SHA256

    present = [name for name in SHA256 if (shared_dir / "data" / "heco" / name).is_dir()]
    if not present:
        pytest.skip(f"{shared_dir}/data/heco holds none of {sorted(SHA256)}")
    for name in present:
        root = shared_dir / "data" / "heco" / name
        assert {file: sha256(root / file) for file in SHA256[name]} == SHA256[name]
