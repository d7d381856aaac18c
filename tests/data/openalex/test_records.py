"""Reading OpenAlex records: every file format, mixed; U+2028; dedupe; bad records."""

from __future__ import annotations

import pytest

from heco_pyg.core.errors import DataError
from heco_pyg.data.openalex.records import ReadStats, iter_works, latest_by_id, normalise_id
from tests.helpers.openalex_factory import page, work, write_json, write_lines


def ids(path, **kwargs):
    return [w["id"].rsplit("/", 1)[1] for _, w in iter_works(path, **kwargs)]


def test_mixed_folder_of_pages_single_works_lines_and_snapshot_parts(tmp_path):
    write_json(tmp_path / "page.json", page([work(1), work(2)], next_cursor="abc"))
    write_json(tmp_path / "single.json", work(3))
    write_lines(tmp_path / "works.jsonl", [work(4), work(5)])
    snapshot = tmp_path / "data/works/updated_date=2025-01-02"
    write_lines(snapshot / "part_000.gz", [work(6), work(7)], compress=True)
    (snapshot.parent / "manifest").write_text("{}")  # not a record file
    (tmp_path / "README.md").write_text("# notes")
    stats = ReadStats()
    assert sorted(ids(tmp_path, stats=stats)) == [f"W{i}" for i in range(1, 8)]
    assert stats.files == 4 and stats.records == 7


def test_single_file_and_json_lines_named_json(tmp_path):
    path = write_lines(tmp_path / "lines.json", [work(1), work(2)])
    assert ids(path) == ["W1", "W2"]


def test_u2028_inside_a_title_does_not_split_the_line(tmp_path):
    path = write_lines(tmp_path / "w.jsonl", [work(1, title="a\u2028b\u2029c\x85d"), work(2)])
    works = [w for _, w in iter_works(path)]
    assert [w["title"] for w in works] == ["a\u2028b\u2029c\x85d", "Biodiversity finance"]


def test_empty_page_and_empty_file_are_counted_not_errors(tmp_path):
    write_json(tmp_path / "empty_page.json", page([]))
    (tmp_path / "empty.jsonl").write_text("\n\n")
    stats = ReadStats()
    assert ids(tmp_path, stats=stats) == []
    assert stats.empty_pages == 1


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_text('{"id": "https://openalex.org/W1"}\n{"id": "https://openalex.org/W2", oops\n')
    with pytest.raises(DataError, match=r"w\.jsonl:2: malformed JSON"):
        list(iter_works(path))


def test_malformed_gzip_line_and_bad_ids_are_skipped_and_counted(tmp_path):
    write_lines(tmp_path / "part.gz", [work(1)], compress=True)
    (tmp_path / "bad.jsonl").write_text(
        '{"id": "https://openalex.org/W2"}\nnot json\n[1, 2]\n{"id": "https://openalex.org/A9"}\n'
    )
    stats = ReadStats()
    assert sorted(ids(tmp_path, on_bad_record="skip", stats=stats)) == ["W1", "W2"]
    assert stats.bad_records == 4  # line 2, both items of line 3, line 4
    assert any("bad.jsonl:2" in e for e in stats.bad_examples)
    assert any("bad.jsonl:4: 'id' is not" in e for e in stats.bad_examples)
    with pytest.raises(DataError, match=r"bad\.jsonl:3: a work must be a JSON object"):
        lines = tmp_path / "bad.jsonl"
        lines.write_text('{"id": "https://openalex.org/W2"}\n\n[1]\n')
        list(iter_works(lines))


def test_bad_record_in_a_page_names_its_position(tmp_path):
    write_json(tmp_path / "page.json", page([work(1), {"id": None}]))
    with pytest.raises(DataError, match=r"page\.json: results\[1\]: 'id' is not an OpenAlex"):
        list(iter_works(tmp_path))


def test_truncated_gzip_part_is_a_bad_record(tmp_path):
    path = write_lines(tmp_path / "part_000.gz", [work(i) for i in range(50)], compress=True)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match="part_000.gz"):
        list(iter_works(path))


def test_dedupe_keeps_the_newest_updated_date(tmp_path):
    write_lines(tmp_path / "a.jsonl", [work(1, title="new", updated="2025-03-01"), work(2)])
    write_lines(tmp_path / "b.jsonl", [work(1, title="old", updated="2024-01-01"),
                                       work(2, title="tie, later wins")])  # fmt: skip
    stats = ReadStats()
    kept = latest_by_id(iter_works(tmp_path), lambda _, w: w["title"], stats)
    assert kept == {"https://openalex.org/W1": "new", "https://openalex.org/W2": "tie, later wins"}
    assert stats.duplicates == 2


def test_normalise_id():
    assert normalise_id("W12") == normalise_id("https://openalex.org/W12")
    assert normalise_id("https://openalex.org/A12") is None
    assert normalise_id(None) is None and normalise_id("W") is None


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        list(iter_works(tmp_path / "nope"))
    with pytest.raises(DataError, match="no .json"):
        list(iter_works(tmp_path))


def test_unknown_on_bad_record(tmp_path):
    with pytest.raises(DataError, match="on_bad_record"):
        list(iter_works(tmp_path, on_bad_record="ignore"))
