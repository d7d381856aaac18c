"""The live OpenAlex API (``/works``), cursor-paged, with every page cached on disk.

Pages are fetched 200 at a time with ``cursor=*`` then ``meta.next_cursor``. Each page
is written atomically to ``<cache_root>/<query hash>/page_NNNNN.json`` before the next
is asked for, so an interrupted run resumes from the last stored cursor and a finished
one fetches nothing. Retries are urllib3's :class:`~urllib3.util.Retry` on the session:
connect and read errors, ``429`` and ``5xx``, exponential backoff with jitter, both
``Retry-After`` forms (seconds or an HTTP date); a body cut off mid-way or not JSON is
retried by the client the same way. Other errors stop at once, and so does a server
that repeats a cursor or answers something other than a JSON object. A machine without
network fails fast with a message pointing to the offline sources.

Bounds: besides the socket timeout (``timeout``, per connect and per read), each page
has a total deadline (``deadline``, its retries included: a server sending one byte at a
time cannot hold the client), at most :data:`MAX_PAGE_BYTES`, and only ``http(s)`` URLs;
a redirect loop is an error. A page body that echoes the key is stored with the key
masked (:func:`~heco_pyg.core.secrets.mask_registered`), and so is nothing else changed.

The polite pool: ``mailto`` (or ``OPENALEX_MAILTO``). The key: ``api_key`` (read by
:func:`heco_pyg.core.secrets.read_api_key` from ``OPENALEX_API_KEY`` or
``data.api_key_file``), sent as the ``api_key`` query parameter as the OpenAlex
documentation asks (developers.openalex.org, "Authentication"). Neither is part of the
query hash, and no message shows a request URL with its parameters: errors name the
endpoint only, and pass through :func:`heco_pyg.core.secrets.redact`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from heco_pyg.core.errors import DataError
from heco_pyg.core.secrets import mask_registered, redact, register_secret, shorten

log = logging.getLogger(__name__)

API_URL = "https://api.openalex.org"
PER_PAGE = 200
RETRY_STATUS = (429, 500, 502, 503, 504)
MAX_WAIT = 120.0
MAX_PAGE_BYTES = 256 * 2**20  # a page of 200 works is a few MiB
CHUNK_BYTES = 2**16
OFFLINE_HINT = (
    "Offline? data.source=sample trains on the 201 real works shipped in the package, or "
    "data.source=works data.path=DIR reads saved API pages or snapshot parts."
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
        max_retries: retries per page (connect/read errors, 429, 5xx, broken bodies).
        backoff: the backoff factor in seconds (waits ``backoff * 2**(n-1)`` plus up to
            ``backoff`` of jitter, at most 120 s; a ``Retry-After`` header wins).
        timeout: seconds per socket operation (connect, and each read).
        deadline: seconds one page may take in all, its retries included.
        session: a ``requests.Session``; the retry policy is mounted on it.
        sleep: the wait between retries of a broken body (tests pass a no-op).
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
        deadline: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cache_root = Path(cache_root)
        self.mailto = mailto or os.environ.get("OPENALEX_MAILTO")
        self.api_key = api_key or os.environ.get("OPENALEX_API_KEY")
        register_secret(self.api_key)
        self.base_url = base_url.rstrip("/")
        if not re.match(r"https?://[^/]", self.base_url, re.IGNORECASE):
            raise DataError(
                f"data.api_url={shorten(base_url, 200)!r}: not an http:// or https:// URL"
            )
        self.deadline = deadline
        self.max_retries = max_retries
        self.backoff = backoff
        self.timeout = timeout
        self.retry = Retry(
            total=max_retries, connect=max_retries, read=max_retries, status=max_retries,
            other=0, allowed_methods={"GET"}, status_forcelist=RETRY_STATUS,
            backoff_factor=backoff, backoff_jitter=backoff, backoff_max=MAX_WAIT,
            respect_retry_after_header=True, retry_after_max=int(MAX_WAIT),
            raise_on_status=False,
        )  # fmt: skip
        self.session = session if session is not None else requests.Session()
        self.adapter = HTTPAdapter(max_retries=self.retry)
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, self.adapter)
        self.sleep = sleep
        self.requests_made = 0

    def folder(self, query: Mapping[str, Any]) -> Path:
        return self.cache_root / query_hash(self.base_url, query_parameters(query))

    def _send(self, parameters: dict[str, str], fetched_any: bool) -> tuple[Any, bytes]:
        """One GET through the retry policy, within the deadline: ``(response, body)``.
        With nothing fetched yet a refused connection is not retried (no network at all:
        say so at once)."""
        url = f"{self.base_url}/works"
        self.adapter.max_retries = self.retry if fetched_any else self.retry.new(connect=0)
        self.requests_made += 1
        try:
            return self._within_deadline(url, parameters)
        except (requests.ConnectionError, requests.Timeout) as error:
            # urllib3's text carries the request URL and its parameters: drop it
            reason = redact(re.sub(r"(with )?url: \S+", "", f"{type(error).__name__}: {error}"))
            if not fetched_any:
                raise OpenAlexUnavailable(
                    f"cannot reach {url} ({reason}). {OFFLINE_HINT}"
                ) from None
            raise OpenAlexUnavailable(
                f"{url}: {reason} after {self.max_retries} retries; the pages fetched so far "
                f"are kept and the next run resumes from them. {OFFLINE_HINT}"
            ) from None
        except requests.TooManyRedirects:
            raise DataError(
                f"{url}: the server redirects in a loop; is data.api_url an OpenAlex API?"
            ) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as error:
            raise DataError(f"{url}: {shorten(error, 200)} (data.api_url)") from None

    def _within_deadline(self, url: str, parameters: dict[str, str]) -> tuple[Any, bytes]:
        """``session.get`` and the body, read in a helper thread the client waits for at
        most ``deadline`` seconds (the socket timeout bounds each read, not their sum)."""
        outcome: dict[str, Any] = {}

        def get() -> None:
            try:
                response = outcome["response"] = self.session.get(
                    url, params=parameters, timeout=self.timeout, stream=True
                )
                body = bytearray()
                for chunk in response.iter_content(CHUNK_BYTES):
                    body += chunk
                    if len(body) > MAX_PAGE_BYTES:
                        raise DataError(f"{url}: a page of more than {MAX_PAGE_BYTES} bytes")
                outcome["body"] = bytes(body)
            except BaseException as error:  # handed to the waiting thread
                outcome["error"] = error

        worker = threading.Thread(target=get, name="openalex-request", daemon=True)
        worker.start()
        worker.join(self.deadline)
        if worker.is_alive():
            if "response" in outcome:
                outcome["response"].close()  # ends the helper's read
            raise OpenAlexUnavailable(
                f"{url}: no complete answer within {self.deadline:g} s (data.api_deadline); "
                f"the pages fetched so far are kept and the next run resumes from them"
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"], outcome["body"]

    def _get(self, parameters: dict[str, str], fetched_any: bool) -> dict:
        """The decoded page (a JSON object); body-level failures are retried here."""
        url = f"{self.base_url}/works"
        for attempt in range(self.max_retries + 1):
            try:
                response, body = self._send(parameters, fetched_any)
            except (requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as error:  # fmt: skip
                response, problem = None, f"the answer broke off ({type(error).__name__})"
            if response is not None:
                answer, problem = self._decode(url, response, body)
                if answer is not None:
                    return answer
            if attempt < self.max_retries:
                wait = min(self.backoff * 2**attempt + random.uniform(0, self.backoff), MAX_WAIT)
                log.warning("%s: %s; retry %d in %.1f s", url, problem, attempt + 1, wait)
                self.sleep(wait)
        raise OpenAlexUnavailable(f"{url}: {problem} after {self.max_retries} retries")

    def _decode(self, url: str, response: Any, body: bytes) -> tuple[dict | None, str]:
        """``(page, "")``, or ``(None, problem)`` for a body worth asking for again."""
        status = response.status_code
        if status in RETRY_STATUS:
            raise OpenAlexUnavailable(
                f"{url}: HTTP {status} after {self.max_retries} retries; the pages "
                f"fetched so far are kept and the next run resumes from them. {OFFLINE_HINT}"
            )
        if status != 200:
            text = shorten(body.decode("utf-8", errors="replace"), 300)
            raise DataError(f"{url}: HTTP {status} ({text}); check data.query and the key")
        try:
            answer = json.loads(body, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            return None, "the answer is not valid JSON"
        if not isinstance(answer, dict):
            raise DataError(
                f"{url}: the answer is a JSON {type(answer).__name__}, not an object "
                "with 'results' and 'meta'; is data.api_url an OpenAlex API?"
            )
        return answer, ""

    def _stored_pages(self, folder: Path) -> tuple[list[Path], int, str | None, set[str]]:
        """The pages already fetched: ``(files, works, next cursor, cursors seen)``."""
        pages = sorted(folder.glob("page_*.json"))
        works, cursor, seen = 0, "*", {"*"}
        for page in pages:
            try:
                meta = json.loads(page.read_text(encoding="utf-8"))
                count, cursor = meta["_count"], meta["_next_cursor"]
                if not isinstance(count, int) or not isinstance(cursor, (str, type(None))):
                    raise TypeError("_count/_next_cursor have the wrong type")
            except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:
                raise DataError(
                    f"{page}: a corrupt cached API page ({type(error).__name__}); delete it "
                    "(and the pages after it) to fetch it again"
                ) from None
            works += count
            seen.add(cursor)
        return pages, works, cursor, seen

    def fetch(self, query: Mapping[str, Any]) -> list[Path]:
        """Fetches (or resumes) the query's pages; returns the page files in order.

        Stops at ``query["max_works"]`` works (pages hold 200; the reader cuts the rest),
        when ``next_cursor`` is null, or at an empty page; a cursor the server gave
        before is an error (it would page forever).
        """
        parameters = query_parameters(query)
        max_works = query.get("max_works")
        folder = self.folder(query)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "query.txt").write_text(json.dumps({"url": self.base_url, **parameters}))
        pages, works, cursor, seen = self._stored_pages(folder)
        while cursor and (max_works is None or works < max_works):
            request = {**parameters, "per-page": str(PER_PAGE), "cursor": cursor}
            if self.mailto:
                request["mailto"] = self.mailto
            if self.api_key:
                request["api_key"] = self.api_key
            answer = self._get(request, fetched_any=bool(pages))
            results = answer.get("results")
            if results is None:
                results = []
            if not isinstance(results, list):
                raise DataError(
                    f"{self.base_url}/works: 'results' is not a list (page {len(pages)})"
                )
            meta = answer.get("meta") if isinstance(answer.get("meta"), dict) else {}
            cursor = meta.get("next_cursor") if results else None
            if cursor is not None and (not isinstance(cursor, str) or cursor in seen):
                shown = shorten(cursor, 40)
                raise DataError(
                    f"{self.base_url}/works: the server repeated the cursor {shown!r} "
                    f"after {len(pages) + 1} pages; stopping instead of paging forever "
                    "(set data.query.max_works to bound the fetch)"
                )
            seen.add(cursor)
            answer["_count"], answer["_next_cursor"] = len(results), cursor
            page = folder / f"page_{len(pages):05d}.json"
            text = json.dumps(answer)
            if mask_registered(text) != text:
                log.warning("%s: the server echoed the API key; it is masked in the cache", page)
                text = mask_registered(text)
            temporary = page.with_suffix(".tmp")
            temporary.write_text(text)
            os.replace(temporary, page)
            pages.append(page)
            works += len(results)
            log.info("OpenAlex: page %d, %d works so far", len(pages), works)
        return pages


def _refuse_constant(name: str) -> None:
    """``NaN``/``Infinity`` are not JSON (the ``.jsonl`` reader refuses them too)."""
    raise ValueError(f"{name} is not JSON")
