"""Tiny OpenAlex work records for the ingestion tests (the real format, hand-sized)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

URL = "https://openalex.org/"


def work(
    number: int,
    authors=("A1", "A2"),
    concepts=(("C1", "Biodiversity", 2, 0.9), ("C0", "Biology", 0, 0.0)),
    topic: tuple[str, str] | None = ("fields/23", "subfields/2308"),
    title: str | None = "Biodiversity finance",
    abstract: str | None = "money for nature",
    references=(),
    updated: str = "2025-01-01T00:00:00",
    **extra,
) -> dict:
    """One work; ``authors`` may hold None (a null author id)."""
    topics = []
    if topic is not None:
        topics = [{
            "id": f"{URL}T{number % 3 + 1}", "display_name": f"T{number % 3 + 1}", "score": 0.9,
            "field": {"id": URL + topic[0], "display_name": topic[0]},
            "subfield": {"id": URL + topic[1], "display_name": topic[1]},
        }]  # fmt: skip
    inverted = None
    if abstract is not None:
        inverted = {}
        for position, word in enumerate(abstract.split(" ")):
            inverted.setdefault(word, []).append(position)
    return {
        "id": f"{URL}W{number}",
        "title": title,
        "display_name": title,
        "authorships": [
            {"author": {"id": None if a is None else URL + a, "display_name": str(a)}}
            for a in authors
        ],
        "concepts": [
            {"id": URL + c, "display_name": name, "level": level, "score": score}
            for c, name, level, score in concepts
        ],
        "topics": topics,
        "primary_topic": topics[0] if topics else None,
        "keywords": [{"id": f"{URL}keywords/k{number % 2}", "display_name": "kw", "score": 0.5}],
        "abstract_inverted_index": inverted,
        "referenced_works": [f"{URL}W{r}" for r in references],
        "updated_date": updated,
        **extra,
    }


def page(works: list[dict], next_cursor: str | None = None) -> dict:
    return {"meta": {"count": len(works), "per_page": 200, "next_cursor": next_cursor},
            "results": works, "group_by": []}  # fmt: skip


def write_json(path: Path, value) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False))
    return path


def write_lines(path: Path, works: list[dict], compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(w, ensure_ascii=False) + "\n" for w in works).encode()
    path.write_bytes(gzip.compress(text) if compress else text)
    return path
