"""Issue 25 against a hostile OpenAlex API on 127.0.0.1 and hostile record files: the key
never reaches an error, a log or the cache (echoed as an id, a cursor, in an error body
across the 300-character cut, lower-cased, reversed, inside a page); a slow server meets
the deadline; redirect loops, ftp:// URLs, NaN pages, overlong lines, decompression
bombs and ids of any digit count end in one line (or a counted skip)."""

from __future__ import annotations

import gzip
import json
import time
from urllib.parse import parse_qs, urlparse

import pytest

from heco_pyg.cli.command import preflight
from heco_pyg.core.errors import DataError
from heco_pyg.core.secrets import register_secret
from heco_pyg.data.openalex import ingest_works
from heco_pyg.data.openalex.api import OpenAlexClient, OpenAlexUnavailable
from heco_pyg.data.openalex.records import ReadLimits, ReadStats, iter_works, normalise_id
from tests.helpers.fake_http import JsonHandler, start_server
from tests.helpers.openalex_factory import page, work

KEY = "Hostile0Key0Abc123XYZ"  # mixed case: a lower-cased echo differs from it
QUERY = {"filter": {"topics.id": "T1"}, "max_works": None}
WORKS = [work(i, authors=(f"A{i}",), references=(i + 1,)) for i in range(1, 21)]


def forms(text: str) -> list[str]:
    """Every way the key (or an 8-character piece of it) shows in ``text``."""
    lowered = text.lower()
    pieces = {KEY[i : i + 8].lower() for i in range(len(KEY) - 7)}
    return [p for p in pieces if p in lowered or p[::-1] in lowered]


class Hostile:
    """``/<mode>/works``: what each mode answers is in :meth:`respond`."""

    def __init__(self) -> None:
        self.keys_sent: list[str | None] = []
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802
                mode = self.path.split("/")[1]
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                fake.respond(self, mode, query)

        self.server, self.url = start_server(Handler)

    def respond(self, handler: JsonHandler, mode: str, query: dict) -> None:
        first = query.get("cursor") == "*"
        self.keys_sent.append(query.get("api_key"))
        if mode == "id":  # the key as a work id
            return handler.answer(200, page([{**WORKS[0], "id": KEY}], None))
        if mode == "cursor":  # the key as the next cursor, twice
            return handler.answer(200, page(WORKS[:2], KEY))
        if mode == "cut":  # the key straddles the 300-character cut of an error body
            return handler.answer(403, {"error": "x" * 280 + KEY})
        if mode == "case":  # lower-cased and reversed echoes
            return handler.answer(
                403, {"error": f"bad {KEY.lower()} / {KEY[::-1]} / {KEY.upper()}"}
            )
        if mode == "page":  # the key inside the page's works
            echoed = [{**w, "title": f"echo {KEY} {KEY[::-1].lower()}"} for w in WORKS[:10]]
            return handler.answer(200, page(echoed, None))
        if mode == "nan":
            body = b'{"results": [], "meta": {"count": NaN}}'
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            return handler.wfile.write(body)
        if mode == "loop":
            handler.send_response(302)
            handler.send_header("Location", handler.path)
            handler.send_header("Content-Length", "0")
            return handler.end_headers()
        if mode == "drip":  # one byte every 0.2 s, for at most 6 s
            handler.send_response(200)
            handler.send_header("Content-Length", "100000")
            handler.end_headers()
            for _ in range(30):
                try:
                    handler.wfile.write(b" ")
                    handler.wfile.flush()
                except OSError:
                    return None
                time.sleep(0.2)
            return None
        return handler.answer(200, page(WORKS[:10] if first else [], None))


@pytest.fixture
def hostile():
    fake = Hostile()
    register_secret(KEY)
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def client(tmp_path, url, **kwargs) -> OpenAlexClient:
    return OpenAlexClient(tmp_path / "openalex", api_key=KEY, base_url=url, max_retries=1,
                          backoff=0.0, sleep=lambda seconds: None, **kwargs)  # fmt: skip


@pytest.mark.parametrize("mode", ["id", "cursor", "cut", "case"])
def test_an_echoed_key_never_reaches_the_error(tmp_path, hostile, mode, caplog):
    api = client(tmp_path, f"{hostile.url}/{mode}")
    with pytest.raises(DataError) as error:
        files = api.fetch(QUERY)
        list(iter_works(files))  # the id mode fails when the page is read
    assert forms(str(error.value)) == [] and forms(caplog.text) == []


def test_a_key_echoed_in_a_page_is_masked_in_the_cache(tmp_path, hostile, caplog):
    data, entry = ingest_works("api", query=QUERY, data_dir=tmp_path, api_key=KEY,
                               api_url=f"{hostile.url}/page", api_backoff=0.0, text_dim=4)  # fmt: skip
    assert data["paper"].num_nodes == 10 and entry["cache_path"].is_file()
    assert "echoed the API key" in caplog.text
    found = [
        f for f in tmp_path.rglob("*") if f.is_file() and forms(f.read_bytes().decode("latin-1"))
    ]
    assert found == []


def test_a_server_sending_one_byte_at_a_time_meets_the_deadline(tmp_path, hostile):
    api = client(tmp_path, f"{hostile.url}/drip", timeout=5, deadline=1)
    with pytest.raises(
        OpenAlexUnavailable, match=r"no complete answer within 1 s \(data.api_deadline\)"
    ):
        api.fetch(QUERY)


def test_a_redirect_loop_and_an_ftp_url_are_one_line(tmp_path, hostile):
    with pytest.raises(DataError, match="redirects in a loop"):
        client(tmp_path, f"{hostile.url}/loop").fetch(QUERY)
    with pytest.raises(DataError, match=r"data.api_url='ftp://example.org': not an http"):
        client(tmp_path, "ftp://example.org")


def test_a_page_with_nan_is_not_json(tmp_path, hostile):
    with pytest.raises(OpenAlexUnavailable, match="not valid JSON after 1 retries"):
        client(tmp_path, f"{hostile.url}/nan").fetch(QUERY)


def test_api_key_file_on_the_command_line_is_accepted(tmp_path, hostile):
    """README's `data.api_key_file=FILE` names a file: the command line keeps it, and the
    key it holds is sent."""
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    assert preflight([f"data.api_key_file={key_file}"], "prepare") == [
        f"data.api_key_file={key_file}"
    ]
    with pytest.raises(Exception, match="looks like a secret"):  # ConfigError
        preflight(["data.api_token=abc"], "prepare")
    data, _ = ingest_works("api", query=QUERY, data_dir=tmp_path, api_key_file=str(key_file),
                           api_url=f"{hostile.url}/ok", text_dim=4)  # fmt: skip
    assert data["paper"].num_nodes == 10 and hostile.keys_sent == [KEY]


# --- record files ----------------------------------------------------------------------


def test_json_pages_refuse_nan_and_infinity_like_json_lines(tmp_path):
    (tmp_path / "page.json").write_text('{"results": [{"id": "W1", "score": NaN}]}')
    with pytest.raises(
        DataError, match=r"page.json: malformed JSON \(ValueError: NaN is not JSON\)"
    ):
        list(iter_works(tmp_path))
    (tmp_path / "page.json").write_text('[{"id": "W1"}]\n[{"id": "W2", "x": Infinity}]')
    stats = ReadStats()
    assert len(list(iter_works(tmp_path, "skip", stats))) == 1 and stats.bad_records == 1


def test_an_overlong_line_is_a_bad_record_never_held_whole(tmp_path):
    lines = [
        json.dumps(WORKS[0]),
        json.dumps({**WORKS[1], "title": "x" * 5000}),
        json.dumps(WORKS[2]),
    ]
    with gzip.open(tmp_path / "part_000.gz", "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    limits = ReadLimits(max_line_bytes=2000)
    with pytest.raises(
        DataError, match=r"part_000.gz:2: a line longer than data.max_line_bytes=2000"
    ):
        list(iter_works(tmp_path, limits=limits))
    stats = ReadStats()
    ids = [w["id"] for _, w in iter_works(tmp_path, "skip", stats, limits=limits)]
    assert ids == [WORKS[0]["id"], WORKS[2]["id"]] and stats.bad_records == 1


def test_a_decompression_bomb_stops_at_max_part_bytes(tmp_path):
    with gzip.open(tmp_path / "part_000.gz", "wb") as handle:
        handle.write(json.dumps(WORKS[0]).encode() + b"\n" + b"\n" * 2_000_000)
    assert (tmp_path / "part_000.gz").stat().st_size < 10_000
    limits = ReadLimits(max_part_bytes=100_000)
    with pytest.raises(DataError, match=r"more than data.max_part_bytes=100000 bytes"):
        list(iter_works(tmp_path, limits=limits))
    stats = ReadStats()
    assert len(list(iter_works(tmp_path, "skip", stats, limits=limits))) == 1
    assert stats.bad_records == 1


def test_ids_of_any_digit_count_and_leading_zeros(tmp_path):
    assert normalise_id("W02077467872") == normalise_id("https://openalex.org/W2077467872")
    assert normalise_id("W0") == "https://openalex.org/W0"
    assert normalise_id("W9223372036854775807") is not None  # the largest int64
    assert normalise_id("W9223372036854775808") is None and normalise_id("W" + "9" * 30) is None
    works = [work(1, references=(2, "9" * 25)), {**work(5), "id": "W" + "1" * 22}, work(2),
             {**work(2, updated="2026-01-01"), "id": "W0002"}, work(4)]  # fmt: skip
    (tmp_path / "works.jsonl").write_text("\n".join(json.dumps(w) for w in works))
    with pytest.raises(DataError, match=r"works.jsonl:2: 'id' is not an OpenAlex work id: 'W1111"):
        ingest_works("works", tmp_path, text_dim=4)
    data, entry = ingest_works("works", tmp_path, text_dim=4, on_bad_record="skip")
    assert entry["ids"]["paper"] == [f"https://openalex.org/W{i}" for i in (1, 2, 4)]
    assert data.ingest_stats["bad_records"] == 1 and data.ingest_stats["duplicate_records"] == 1


def test_text_files_never_hold_a_registered_key(tmp_path, hostile):
    from heco_pyg.core.atomic import write_atomic

    write_atomic(tmp_path / "metrics.json", f'{{"note": "{KEY.lower()} {KEY[::-1]}"}}')
    assert forms((tmp_path / "metrics.json").read_text()) == []


def test_hydra_run_dir_that_is_a_file_is_one_line(tmp_path):
    with pytest.raises(Exception, match=r"hydra.run.dir=/dev/null: exists and is not a folder"):
        preflight(["hydra.run.dir=/dev/null"], "train")


def test_a_full_disk_during_prepare_names_the_disk(tmp_path, monkeypatch):
    import errno

    from heco_pyg.core import atomic

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    (tmp_path / "works.jsonl").write_text("\n".join(json.dumps(w) for w in WORKS[:5]))
    monkeypatch.setattr(atomic.torch, "save", no_space)
    with pytest.raises(
        atomic.DiskFull, match=r"processed/.*\.pt: cannot be written, the disk is full \(/"
    ):
        ingest_works("works", tmp_path / "works.jsonl", data_dir=tmp_path / "data", text_dim=4)
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]  # nothing half-written


@pytest.mark.slow  # a subprocess through Hydra, ~20 s on a busy machine
def test_prepare_with_api_key_file_on_the_command_line(tmp_path, hostile):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    arguments = ["data=openalex", f"data.api_url={hostile.url}/ok", f"data.api_key_file={key_file}",
                 f"paths.data_dir={tmp_path / 'data'}", "data.text_dim=4", "data.api_backoff=0",
                 f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k != "OPENALEX_API_KEY"}
    result = subprocess.run([sys.executable, "-m", "heco_pyg.prepare", *arguments], cwd=tmp_path,
                            env={**environment, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"},
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert hostile.keys_sent == [KEY] and forms(result.stdout + result.stderr) == []
    files = [f for f in (tmp_path / "run").rglob("*") if f.is_file()]
    assert files and not [f for f in files if forms(f.read_bytes().decode("latin-1"))]
