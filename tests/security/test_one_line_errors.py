"""Issue 25: inputs that gave a traceback end in one line naming the key or file."""

from __future__ import annotations

import sys

import pytest

from heco_pyg.config.validate import validate_config
from heco_pyg.core.errors import DataError
from heco_pyg.data import build_data
from heco_pyg.retrieval import search
from heco_pyg.retrieval.queries import read_queries
from tests.conftest import compose_config
from tests.helpers.files import planted


def test_a_seed_beyond_numpy_s_range_is_a_config_error():
    cfg = compose_config([f"seed={2**40}"])
    with pytest.raises(Exception, match=r"seed") as error:  # ConfigError
        validate_config(cfg, "train")
    assert type(error.value).__name__ == "ConfigError"


def test_a_synthetic_graph_too_small_for_its_groups_names_the_keys():
    cfg = compose_config(["data.num_papers=30", "data.num_authors=2", "data.num_fields=5"])
    with pytest.raises(DataError, match=r"raise data.num_authors"):
        build_data(cfg.data)


def test_index_faiss_without_faiss_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # `import faiss` raises ImportError
    with pytest.raises(DataError, match=r"index=faiss needs the optional faiss-cpu package"):
        search._faiss()
    assert not search.faiss_available()


@pytest.mark.parametrize("content", [b"\xff\xfe\x00\x81binary", "directory"])
def test_a_query_file_that_is_binary_or_a_directory_is_one_line(tmp_path, content):
    path = planted(tmp_path / "queries.txt", content)
    with pytest.raises(
        DataError, match=r"query_file=.*queries.txt: not a readable UTF-8 text file"
    ):
        read_queries(None, str(path))
