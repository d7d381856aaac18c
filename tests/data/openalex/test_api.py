"""The API client against recorded pages served by a local HTTP server (no network)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

from heco_pyg.core.errors import DataError
from heco_pyg.data.openalex import ingest_works
from heco_pyg.data.openalex.api import OpenAlexClient, OpenAlexUnavailable, filter_string
from tests.helpers.fake_http import JsonHandler, start_server
from tests.helpers.openalex_factory import page, work

QUERY = {"filter": {"topics.id": "T13438", "publication_year": "2018-2024"}, "max_works": None}
WORKS = [work(i, authors=(f"A{i}", f"A{i + 1}"), references=(i + 1,)) for i in range(1, 41)]


class FakeOpenAlex:
    """Serves ``/works`` pages by cursor; can answer 429 first and fail from a cursor on."""

    def __init__(self, works: list[dict], per_page: int) -> None:
        chunks = [works[i : i + per_page] for i in range(0, len(works), per_page)]
        cursors = ["*", *[f"c{i}" for i in range(1, len(chunks))]]
        self.pages = {
            cursor: page(chunk, cursors[i + 1] if i + 1 < len(chunks) else None)
            for i, (cursor, chunk) in enumerate(zip(cursors, chunks, strict=True))
        }
        self.requests: list[dict] = []
        self.too_many_first = 0
        self.fail_at: str | None = None
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append(query)
                if fake.too_many_first > 0:
                    fake.too_many_first -= 1
                    self.answer(429, {"error": "slow down"}, {"Retry-After": "0"})
                elif query.get("cursor") == fake.fail_at:
                    self.answer(503, {"error": "unavailable"})
                elif url.path != "/works" or query.get("cursor") not in fake.pages:
                    self.answer(400, {"error": f"bad request {self.path}"})
                else:
                    self.answer(200, fake.pages[query["cursor"]])

        self.server, self.url = start_server(Handler)

    def cursors(self) -> list[str]:
        return [r.get("cursor") for r in self.requests]


@pytest.fixture
def server():
    yield from serve(WORKS, per_page=10)


def serve(works, per_page):
    fake = FakeOpenAlex(works, per_page)
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def client(tmp_path, server, **kwargs) -> OpenAlexClient:
    return OpenAlexClient(tmp_path / "openalex", mailto="me@example.org", base_url=server.url, backoff=0.0,
                          sleep=lambda seconds: None, **kwargs)  # fmt: skip


def test_filter_string():
    assert filter_string(QUERY["filter"]) == "topics.id:T13438,publication_year:2018-2024"
    assert filter_string({"has_abstract": True, "type": ["article", "review"]}) == (
        "has_abstract:true,type:article|review"
    )


def test_pages_follow_the_cursor_retry_429_and_are_cached(tmp_path, server):
    server.too_many_first = 2
    pages = client(tmp_path, server).fetch(QUERY)
    assert len(pages) == len(server.pages)
    assert server.cursors() == ["*", "*", "*", *list(server.pages)[1:]]
    first = server.requests[0]
    assert first["per-page"] == "200" and first["mailto"] == "me@example.org"
    assert first["filter"] == "topics.id:T13438,publication_year:2018-2024"
    server.requests.clear()
    again = client(tmp_path, server)
    assert again.fetch(QUERY) == pages and server.requests == [] and again.requests_made == 0


def test_an_interrupted_run_resumes_from_the_last_cursor(tmp_path, server):
    server.fail_at = "c2"
    with pytest.raises(OpenAlexUnavailable, match="HTTP 503 after 2 retries"):
        client(tmp_path, server, max_retries=2).fetch(QUERY)
    folder = client(tmp_path, server).folder(QUERY)
    assert len(list(folder.glob("page_*.json"))) == 2 and not list(folder.glob("*.tmp"))
    server.fail_at, server.requests[:] = None, []
    pages = client(tmp_path, server).fetch(QUERY)
    assert server.cursors()[0] == "c2" and "*" not in server.cursors()
    assert len(pages) == len(server.pages)


def test_max_works_stops_paging_and_cuts_the_records(tmp_path, server):
    query = {**QUERY, "max_works": 15}
    data, _ = ingest_works("api", query=query, data_dir=tmp_path, api_url=server.url,
                           text_dim=8, min_concept_score=0.0)  # fmt: skip
    assert data["paper"].num_nodes == 15
    assert len(server.requests) == 2


def test_api_graph_matches_the_same_works_read_from_files(tmp_path, server):
    data, entry = ingest_works(
        "api", query=QUERY, data_dir=tmp_path, api_url=server.url, text_dim=8
    )
    assert data["paper"].num_nodes == len(WORKS)
    assert not entry["cache_hit"]
    pages = sorted((tmp_path / "openalex").glob("*/page_*.json"))
    from_files, _ = ingest_works("works", pages[0].parent, data_dir=None, text_dim=8)
    assert from_files["paper"].node_ids == data["paper"].node_ids
    server.requests.clear()
    _, entry = ingest_works("api", query=QUERY, data_dir=tmp_path, api_url=server.url, text_dim=8)
    assert entry["cache_hit"] and server.requests == []


def test_client_errors_are_not_retried(tmp_path, server):
    api = OpenAlexClient(tmp_path, base_url=server.url + "/nowhere", sleep=lambda s: None)
    with pytest.raises(DataError, match="HTTP 400"):
        api.fetch(QUERY)
    assert api.requests_made == 1


def test_the_real_recorded_page_through_the_client(tmp_path, shared_dir):
    recorded = shared_dir / "data/openalex/works_page_biodiversity_finance.json"
    works = json.loads(recorded.read_text())["results"]
    for fake in serve(works, per_page=50):
        fake.too_many_first = 1
        data, _ = ingest_works("api", query=QUERY, data_dir=tmp_path, api_url=fake.url)
        assert data["paper"].num_nodes == len(works) == 200
        assert fake.cursors() == ["*", "*", "c1", "c2", "c3"]


def test_no_network_fails_fast_pointing_to_offline_sources(tmp_path):
    closed = OpenAlexClient(tmp_path, base_url="http://127.0.0.1:9", timeout=2, sleep=lambda s: 0)
    with pytest.raises(OpenAlexUnavailable, match=r"data\.source=sample .*data\.source=works"):
        closed.fetch(QUERY)
    assert closed.requests_made == 1


def test_credentials_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENALEX_MAILTO", "env@example.org")
    monkeypatch.setenv("OPENALEX_API_KEY", "secret")
    api = OpenAlexClient(tmp_path)
    assert (api.mailto, api.api_key) == ("env@example.org", "secret")
    assert "secret" not in str(api.folder(QUERY))


def test_unknown_query_keys_are_named(tmp_path):
    with pytest.raises(DataError, match="filters"):
        OpenAlexClient(tmp_path).folder({"filters": {}})


def test_a_repeated_cursor_stops_with_a_clear_error(tmp_path, server):
    server.pages["c1"]["meta"]["next_cursor"] = "*"  # page 2 points back to page 1
    with pytest.raises(DataError, match="repeated the cursor '\\*' after 2 pages"):
        client(tmp_path, server).fetch(QUERY)
    assert len(server.requests) == 2


def test_a_page_that_is_not_an_object_is_refused(tmp_path, server):
    server.pages["*"] = [{"id": "W1"}]
    with pytest.raises(DataError, match="the answer is a JSON list, not an object"):
        client(tmp_path, server).fetch(QUERY)


def test_a_corrupt_cached_page_names_the_file(tmp_path, server):
    api = client(tmp_path, server)
    api.fetch(QUERY)
    first = sorted(api.folder(QUERY).glob("page_*.json"))[0]
    first.write_bytes(b"\xff{not json")
    with pytest.raises(DataError, match=r"page_00000\.json: a corrupt cached API page"):
        client(tmp_path, server).fetch(QUERY)


def test_the_key_is_sent_as_the_api_key_parameter_and_never_shown(tmp_path, server, caplog):
    api = client(tmp_path, server)
    api.api_key = "PARAMKEY-31337"
    server.fail_at = "c1"
    with pytest.raises(OpenAlexUnavailable) as error:
        api.fetch(QUERY)
    assert server.requests[0]["api_key"] == "PARAMKEY-31337"
    assert "PARAMKEY-31337" not in str(error.value) and "PARAMKEY-31337" not in caplog.text
