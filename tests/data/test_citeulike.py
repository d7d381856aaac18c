"""The CiteULike reader (heco_pyg/data/citeulike.py) on tiny release folders written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from heco_pyg.data import DataError, build_data, load_citeulike, prepare_paper_graph
from heco_pyg.data.citeulike import load_citeulike_graph, read_citeulike
from heco_pyg.data.graph import bag_of_words, citation_index, positive_index, schema_edge_type
from tests.conftest import compose_config
from tests.helpers.citeulike import LIBRARIES, WORDS, write_release


def _pairs(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.t().tolist()))


def test_reads_the_graph_contract(tmp_path):
    data = read_citeulike(write_release(tmp_path / "r"), text_dim=4)
    assert data.target == "paper" and data.neighbour_types == ["user", "tag"]
    assert {t: data[t].num_nodes for t in data.node_types} == {"paper": 8, "user": 4, "tag": 4}
    users = data[schema_edge_type("paper", "user")].edge_index
    assert _pairs(users) == {(a, u) for u, lib in enumerate(LIBRARIES) for a in lib}
    for neighbour in ("user", "tag"):
        assert (neighbour, "rev_to", "paper") in data.edge_types
    assert data["paper"].node_ids == [str(i) for i in range(8)]  # paper_id = article index
    assert data["tag"].names == ["all", "graphs", "proteins", "lonely"]
    assert data["paper"].titles[6] == "all, lonely"  # most used tag first
    assert data["paper"].x.shape[0] == 8 and torch.all(data["paper"].x[7] == 0)  # no words


def test_both_tag_orientations_give_the_same_graph(tmp_path):
    a = read_citeulike(write_release(tmp_path / "a", "tag-item"), text_dim=4)
    b = read_citeulike(write_release(tmp_path / "b", "item-tag"), text_dim=4)
    edge = schema_edge_type("paper", "tag")
    assert _pairs(a[edge].edge_index) == _pairs(b[edge].edge_index)
    assert a["paper"].titles == b["paper"].titles
    assert torch.equal(a["paper"].x, b["paper"].x)


def test_bag_of_words_and_citations_are_graph_level(tmp_path):
    data = read_citeulike(write_release(tmp_path / "r"), text_dim=4)
    index, count, vocabulary = bag_of_words(data)
    assert vocabulary == 6  # vocabulary.dat's lines, not the largest id used
    got = {(r, w): c for (r, w), c in zip(index.t().tolist(), count.tolist(), strict=True)}
    assert got == {(r, w): c for r, words in enumerate(WORDS) for w, c in words.items()}
    assert count.dtype == torch.float32 and index.dtype == torch.long
    assert _pairs(citation_index(data)) == {(0, 6), (6, 0), (1, 7), (7, 1)}  # no self-citation


def test_without_mult_dat_the_tags_are_the_text(tmp_path):
    data = read_citeulike(write_release(tmp_path / "r", mult=False), text_dim=3)
    assert bag_of_words(data) is None
    x = data["paper"].x
    assert x.shape == (8, 3) and bool((x.norm(dim=1) > 0).all())  # every article has a tag
    assert torch.allclose(x[0], x[1])  # same tags, same features


def test_no_citation_reaches_an_edge_store_or_a_positive(tmp_path):
    folder = write_release(tmp_path / "r")
    data = load_citeulike(str(folder), preparation={
        "metapaths": {"PUP": "user", "PTP": "tag"}, "sample_sizes": {"user": 2, "tag": 2},
        "max_df": {"tag": 0.9}, "pos_num": 3,  # tag 0, on every article, is left out
    }, text_dim=4)  # fmt: skip
    cited = {(0, 6), (6, 0), (1, 7), (7, 1)}
    assert _pairs(citation_index(data)) == cited
    paper_to_paper = [t for t in data.edge_types if t[0] == t[2] == "paper"]
    assert sorted(t[1] for t in paper_to_paper) == ["PTP", "PUP"]
    for edge_type in paper_to_paper:
        assert not _pairs(data[edge_type].edge_index) & cited, edge_type
    assert not _pairs(positive_index(data)) & cited


def test_hub_cap_and_max_df_apply_to_ptp_and_pup(tmp_path):
    raw = read_citeulike(write_release(tmp_path / "r"), text_dim=4)
    arguments = {"metapaths": {"PUP": "user", "PTP": "tag"}, "sample_sizes": {"user": 2, "tag": 2}}
    complete = prepare_paper_graph(raw, max_hub_degree=None, **arguments)
    assert complete.metapath_stats["PTP"]["density_after"] == 1.0  # tag 0 is on all 8
    capped = prepare_paper_graph(raw, max_hub_degree=3, **arguments)
    for name in ("PUP", "PTP"):
        assert capped.metapath_stats[name]["max_hub_degree"] == 3
    assert capped.metapath_stats["PUP"]["dropped_neighbours"] == 1  # user 1 (4 articles)
    assert capped.metapath_stats["PTP"]["dropped_neighbours"] == 1  # tag 0
    assert capped.metapath_stats["PTP"]["density_after"] < 0.3
    by_fraction = prepare_paper_graph(raw, max_hub_degree=None, max_df={"tag": 0.5}, **arguments)
    assert by_fraction.metapath_stats["PTP"]["dropped_neighbours"] == 1
    assert by_fraction.metapath_stats["PUP"]["dropped_neighbours"] == 0
    with pytest.raises(DataError, match="max_df"):
        prepare_paper_graph(raw, max_df={"tag": 1.5}, **arguments)


@pytest.mark.parametrize(
    ("file", "line", "text", "message"),
    [
        ("users.dat", 2, "3 2 3", "says 3 ids, 2 follow"),
        ("users.dat", 3, "", "empty"),
        ("users.dat", 1, "2 0 x", "'x' is not a non-negative integer"),
        ("users.dat", 2, "1 -4", "'-4' is not"),
        ("users.dat", 2, "1 99", "article id 99 out of range"),
        ("mult.dat", 4, "1 2", "id:count"),
        ("mult.dat", 4, "1 2:0", "count of 0"),
        ("citations.dat", 5, "1 8", "article id 8 out of range"),
    ],
)
def test_a_malformed_line_names_file_and_line(tmp_path, file, line, text, message):
    folder = write_release(tmp_path / "r")
    lines = (folder / file).read_text().split("\n")
    lines[line - 1] = text
    (folder / file).write_text("\n".join(lines))
    with pytest.raises(DataError, match=rf"{file}:{line}: .*{message}"):
        read_citeulike(folder)


def test_the_per_article_files_must_agree(tmp_path):
    folder = write_release(tmp_path / "r")
    (folder / "citations.dat").write_text("0\n0")
    with pytest.raises(DataError, match="disagree on the number of articles"):
        read_citeulike(folder)


def test_checksums_are_checked_when_present(tmp_path):
    folder = write_release(tmp_path / "r", checksums=True)
    read_citeulike(folder, text_dim=4)  # matches
    (folder / "users.dat").write_text((folder / "users.dat").read_text() + " ")
    with pytest.raises(DataError, match=r"users.dat: SHA-256 does not match .*SHA256SUMS:5") as e:
        read_citeulike(folder)
    assert "\n" not in str(e.value)
    (folder / "tags.dat").unlink()
    (folder / "users.dat").unlink()
    with pytest.raises(DataError, match="tags.dat is missing"):
        read_citeulike(folder)
    (folder / "SHA256SUMS").write_text(f"{'0' * 64}  ../outside.dat\n")
    with pytest.raises(DataError, match=r"SHA256SUMS:1: '../outside.dat' is not a file name"):
        read_citeulike(folder)


def test_a_folder_without_a_tag_file_is_refused(tmp_path):
    folder = write_release(tmp_path / "r")
    (folder / "tag-item.dat").unlink()
    with pytest.raises(DataError, match="needs users.dat and one of"):
        read_citeulike(folder)
    with pytest.raises(DataError, match="not a folder"):
        read_citeulike(tmp_path / "nowhere")


def test_cached_under_processed(tmp_path):
    folder = write_release(tmp_path / "r")
    first = load_citeulike_graph(folder, text_dim=4, data_dir=tmp_path / "data")
    again = load_citeulike_graph(folder, text_dim=4, data_dir=tmp_path / "data")
    assert not first.cache_info["hit"] and again.cache_info["hit"]
    assert Path(again.cache_info["path"]).parent == tmp_path / "data" / "processed"
    assert again["tag"].names == first["tag"].names
    assert torch.equal(again.word_index, first.word_index) and again.vocabulary_size == 6


def test_data_citeulike_config(tmp_path):
    folder = write_release(tmp_path / "r")
    cfg = compose_config(["data=citeulike", f"data.path={folder}", "data.text_dim=4",
                          f"paths.data_dir={tmp_path / 'data'}"])  # fmt: skip
    assert compose_config(["data=citeulike"]).data.path.endswith(
        "shared/data/citeulike/citeulike-t"
    )
    data = build_data(cfg.data)
    assert data.name == "citeulike" and data.metapaths == ["PUP", "PTP"]
    assert data.sample_sizes == {"user": 6, "tag": 10}


def test_the_shared_release(shared_dir):
    """The real citeulike-t has the counts its README states (read without meta-paths:
    ~2 s)."""
    folder = shared_dir / "data" / "citeulike" / "citeulike-t"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    data = read_citeulike(folder, text_dim=8)
    assert {t: data[t].num_nodes for t in data.node_types} == {
        "paper": 25975, "user": 7947, "tag": 52946}  # fmt: skip
    assert data[schema_edge_type("paper", "user")].edge_index.size(1) == 134860
    assert citation_index(data).size(1) == 2 * 32173
    assert np.unique(citation_index(data)[0].numpy()).size == 13364
    assert bag_of_words(data)[2] == 20000
