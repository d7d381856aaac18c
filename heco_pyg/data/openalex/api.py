"""The live OpenAlex API (``/works``), cursor-paged, with every page cached on disk.

Pages are fetched 200 at a time with ``cursor=*`` then ``meta.next_cursor``. Each page
is written atomically to ``<cache_root>/<query hash>/page_NNNNN.json`` before the next
is asked for, so an interrupted run resumes from the last stored cursor and a finished
one fetches nothing. ``429`` and ``5xx`` answers (and dropped connections) are retried
with exponential backoff (``Retry-After`` honoured); other errors stop at once. A
machine without network fails fast with a message pointing to the offline sources.

The polite pool: ``mailto`` (or ``OPENALEX_MAILTO``); a premium key: ``api_key`` (or
``OPENALEX_API_KEY``). Neither is part of the query hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests

from heco_pyg.data.graph import DataError

log = logging.getLogger(__name__)

API_URL = "https://api.openalex.org"
PER_PAGE = 200
RETRY_STATUS = {429, 500, 502, 503, 504}
OFFLINE_HINT = (
    "Offline? Use data.source=works data.path=DIR (saved API pages or snapshot parts, e.g. "
    "../shared/data/openalex), or `make train` for the offline synthetic graph."
)


class OpenAlexUnavailable(DataError):
    """The API could not be reached (no network, DNS failure, retries exhausted)."""


def filter_string(value: str | Mapping[str, Any] | None) -> str | None:
    """The API's filter syntax from a mapping.

    ``{"topics.id": "T1", "publication_year": "2018-2024"}`` ->
    ``"topics.id:T1,publication_year:2018-2024"``; a list means OR (``a|b``).
    """
    if value is None or isinstance(value, str):
        return value or None
    parts = []
    for key, item in value.items():
        if isinstance(item, bool):
            item = str(item).lower()
        elif isinstance(item, (list, tuple)):
            item = "|".join(str(i) for i in item)
        parts.append(f"{key}:{item}")
    return ",".join(parts)


def query_parameters(query: Mapping[str, Any]) -> dict[str, str]:
    """The ``/works`` parameters a query config stands for (paging excluded)."""
    known = {"filter", "search", "sort", "select", "max_works"}
    unknown = set(query) - known
    if unknown:
        raise DataError(f"data.query has unknown keys {sorted(unknown)}; expected {sorted(known)}")
    parameters = {"filter": filter_string(query.get("filter"))}
    for key in ("search", "sort", "select"):
        value = query.get(key)
        parameters[key] = ",".join(value) if isinstance(value, (list, tuple)) else value
    return {k: str(v) for k, v in parameters.items() if v}


def query_hash(base_url: str, parameters: Mapping[str, str]) -> str:
    payload = json.dumps({"url": base_url, **parameters}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class OpenAlexClient:
    """Fetches ``/works`` pages for one query into a cache folder.

    Args:
        cache_root: pages go to ``cache_root/<query hash>/``.
        mailto, api_key: credentials; default to ``OPENALEX_MAILTO`` / ``OPENALEX_API_KEY``.
        base_url: the API root (a local server in tests).
        max_retries: retries per page on 429/5xx/dropped connections.
        backoff: first wait in seconds, doubled per retry (capped at 60 s).
        timeout: seconds per request.
        session: a ``requests.Session`` (or anything with its ``get``).
        sleep: the wait function (tests pass a no-op).
    """

    def __init__(
        self,
        cache_root: str | os.PathLike,
        mailto: str | None = None,
        api_key: str | None = None,
        base_url: str = API_URL,
        max_retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 30.0,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cache_root = Path(cache_root)
        self.mailto = mailto or os.environ.get("OPENALEX_MAILTO")
        self.api_key = api_key or os.environ.get("OPENALEX_API_KEY")
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff = backoff
        self.timeout = timeout
        self.session = session if session is not None else requests.Session()
        self.sleep = sleep
        self.requests_made = 0

    def folder(self, query: Mapping[str, Any]) -> Path:
        return self.cache_root / query_hash(self.base_url, query_parameters(query))

    def _get(self, parameters: dict[str, str], fetched_any: bool) -> dict:
        url = f"{self.base_url}/works"
        for attempt in range(self.max_retries + 1):
            wait = min(self.backoff * 2**attempt, 60.0)
            try:
                self.requests_made += 1
                response = self.session.get(url, params=parameters, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as error:
                if not fetched_any:  # no network at all: do not wait minutes to say so
                    raise OpenAlexUnavailable(
                        f"cannot reach {url} ({error}). {OFFLINE_HINT}"
                    ) from error
                problem = f"connection error ({error})"
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError as error:
                        problem = f"invalid JSON in the answer ({error})"
                elif response.status_code in RETRY_STATUS:
                    problem = f"HTTP {response.status_code}"
                    retry_after = response.headers.get("Retry-After", "")
                    if retry_after.isdigit():
                        wait = min(float(retry_after), 60.0)
                else:
                    status, body = response.status_code, response.text[:300]
                    raise DataError(f"{url}: HTTP {status} for {parameters}: {body}")
            if attempt < self.max_retries:
                log.warning("%s: %s; retry %d in %.1f s", url, problem, attempt + 1, wait)
                self.sleep(wait)
        raise OpenAlexUnavailable(
            f"{url}: {problem} after {self.max_retries} retries; the pages fetched so far are "
            f"kept and the next run resumes from them. {OFFLINE_HINT}"
        )

    def fetch(self, query: Mapping[str, Any]) -> list[Path]:
        """Fetches (or resumes) the query's pages; returns the page files in order.

        Stops at ``query["max_works"]`` works (pages hold 200; the reader cuts the rest),
        when ``next_cursor`` is null, or at an empty page.
        """
        parameters = query_parameters(query)
        max_works = query.get("max_works")
        folder = self.folder(query)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "query.txt").write_text(json.dumps({"url": self.base_url, **parameters}))
        pages = sorted(folder.glob("page_*.json"))
        works, cursor = 0, "*"
        for page in pages:
            meta = json.loads(page.read_text())
            works += meta.get("_count", 0)
            cursor = meta.get("_next_cursor")
        while cursor and (max_works is None or works < max_works):
            request = {**parameters, "per-page": str(PER_PAGE), "cursor": cursor}
            if self.mailto:
                request["mailto"] = self.mailto
            if self.api_key:
                request["api_key"] = self.api_key
            answer = self._get(request, fetched_any=bool(pages))
            results = answer.get("results") or []
            cursor = (answer.get("meta") or {}).get("next_cursor") if results else None
            answer["_count"], answer["_next_cursor"] = len(results), cursor
            page = folder / f"page_{len(pages):05d}.json"
            temporary = page.with_suffix(".tmp")
            temporary.write_text(json.dumps(answer))
            os.replace(temporary, page)
            pages.append(page)
            works += len(results)
            log.info("OpenAlex: page %d, %d works so far", len(pages), works)
        return pages
