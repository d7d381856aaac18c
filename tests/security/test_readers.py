"""Issue 25, readers that refuse what they cannot trust: complex features, fractional
stored meta-path indices, duplicate ids in a run's ids.csv, duplicate DOIs and
unreadable files in ``metadata=``, ids with leading zeros."""

from __future__ import annotations

import numpy as np
import pytest

from heco_pyg.core.errors import DataError
from heco_pyg.data.artifacts import read_artifacts, write_artifacts
from heco_pyg.data.synthetic import generate_synthetic
from heco_pyg.retrieval.catalog import Catalog, normalise_id
from tests.helpers.files import planted


@pytest.fixture
def artifacts(tmp_path):
    path = tmp_path / "artifacts"
    write_artifacts(
        generate_synthetic(num_papers=60, num_authors=70, num_concepts=50, num_fields=3), path
    )
    return path


def test_complex_features_are_refused_not_truncated_to_their_real_part(artifacts):
    with np.load(artifacts / "features_papers.npz") as archive:
        x = archive["X"]
    np.savez(artifacts / "features_papers.npz", X=x.astype(np.complex64) + 1j)
    with pytest.raises(
        DataError, match=r"features_papers.npz: X must hold real numbers, got complex64"
    ):
        read_artifacts(artifacts)


def test_fractional_stored_metapath_indices_are_refused(artifacts):
    with np.load(artifacts / "metapath_PCP.npz") as archive:
        indptr, indices = archive["indptr"], archive["indices"]
    np.savez(artifacts / "metapath_PCP.npz", indptr=indptr, indices=indices.astype(float) + 0.5)
    with pytest.raises(
        DataError, match=r"metapath_PCP.npz: indices must hold integers, got float64"
    ):
        read_artifacts(artifacts)


def test_a_duplicate_id_in_ids_csv_is_an_error_not_the_later_row():
    with pytest.raises(DataError, match=r"paper ids name 'W0002' twice \(rows 1 and 2\)"):
        Catalog.load(["W1", "W2", "W0002"])
    assert normalise_id("https://openalex.org/w0002") == "W2" and normalise_id("doi-x") == "doi-x"
    assert Catalog.load(["W1", "W02"]).resolve("W2") == 1


def test_a_duplicate_doi_in_metadata_is_an_error_not_the_last_row(tmp_path):
    metadata = tmp_path / "papers.csv"
    metadata.write_text("paper_id,doi\nW1,10.1/a\nW2,https://doi.org/10.1/A\n")
    with pytest.raises(
        DataError, match=r"papers.csv: DOI '10.1/a' is given to two papers \('W1' and 'W2'\)"
    ):
        Catalog.load(["W1", "W2"], metadata)
    metadata.write_text("paper_id,doi\nW1,10.1/a\nW1,10.1/a\n")  # the same paper twice: fine
    assert Catalog.load(["W1", "W2"], metadata).resolve("doi:10.1/a") == 0


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00binary\x00", "directory"])
def test_unreadable_metadata_is_one_line(tmp_path, content):
    metadata = planted(tmp_path / "papers.csv", content)
    with pytest.raises(DataError, match=r"papers.csv: metadata= must be a UTF-8 CSV file"):
        Catalog.load(["W1"], metadata)


# --- a run's embeddings, rehashed by someone else --------------------------------------


def npy_with_header(path, shape, dtype="<f4"):
    """A .npy whose header claims ``shape`` over a few bytes of data."""
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}"
    header = header + " " * (63 - (len(header) + 10) % 64) + "\n"
    path.write_bytes(
        b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 64
    )


@pytest.mark.parametrize(
    "how, message",
    [("1e30 row", r"rows \[2\] are not finite unit vectors .*norm 1e\+30"),
     ("scaled row", r"rows \[1\] are not finite unit vectors .*norm 1000"),
     ("complex", "embeddings must be real floats, got complex64"),
     ("integers", "embeddings must be real floats, got int64"),
     ("1-D", r"expected \[N, C\] embeddings, the header says \(12,\)"),
     ("109 TiB header", r"its header says \(1000000000, 30000\) float32 .* the file has 192 bytes"),
     ("pickle", "embeddings must be real floats, got object")],
)  # fmt: skip
def test_embeddings_that_are_not_what_the_run_writes_are_refused(tmp_path, how, message):
    from heco_pyg.core.errors import RunError
    from heco_pyg.runs.embedding_file import read_embeddings

    rows = np.eye(4, 3, dtype=np.float32)
    rows[3] = [0.6, 0.8, 0.0]
    path = tmp_path / "fused.npy"
    if how == "1e30 row":
        rows[2] *= 1e30
    elif how == "scaled row":
        rows[1] *= 1000
    if how == "complex":
        np.save(path, rows.astype(np.complex64))
    elif how == "integers":
        np.save(path, rows.astype(np.int64))
    elif how == "1-D":
        np.save(path, rows.reshape(-1))
    elif how == "109 TiB header":
        npy_with_header(path, (10**9, 30000))
    elif how == "pickle":
        np.save(path, np.array([object()] * 4, dtype=object), allow_pickle=True)
    else:
        np.save(path, rows)
    with pytest.raises(RunError, match=message):
        read_embeddings(path)
    np.save(path, np.eye(4, 3, dtype=np.float32)[[0, 1, 2, 0]])
    assert read_embeddings(path).shape == (4, 3)
