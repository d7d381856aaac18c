"""OpenAlex works -> the project's HeCo graph (papers, authors, one "concept" node type).

Each work is first *reduced* to the few fields the graph needs (:class:`Work`), kept as
columns (:class:`~heco_pyg.data.openalex.table.WorkTable`), then the reduced works are
assembled with vectorised id maps (``pandas.factorize``):

* ``paper`` nodes: one per work id (``node_ids`` = OpenAlex work URLs), features from
  the title + abstract (see :mod:`heco_pyg.data.openalex.features`);
* ``author`` nodes from ``authorships[].author.id`` (null ids skipped and counted),
  featureless (a learnable embedding in the model);
* ``concept`` nodes, chosen by ``concepts``: ``concepts`` (legacy, with ``level``),
  ``topics``, ``subfields`` (of the work's topics) or ``keywords``; entries with
  ``score < min_concept_score`` are dropped (ancestor concepts often have score 0.0);
* ``data.citation_index`` from ``referenced_works`` inside the set (evaluation only, not
  an edge store);
* labels from ``primary_topic`` (falling back to the first of ``topics``): its ``field``
  or ``subfield``; ``-1`` where there is none.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData

from heco_pyg.core.errors import DataError
from heco_pyg.data.graph import build_graph
from heco_pyg.data.openalex.records import WORK_URL, BadRecordHandler, Location, normalise_id
from heco_pyg.data.openalex.table import Work, WorkTable

CONCEPT_KINDS = ("concepts", "topics", "subfields", "keywords")
LABELS = ("field", "subfield", "none")


def _abstract_positions(index: Mapping[str, list[int]]) -> tuple[list, np.ndarray] | None:
    """``(position lists, all positions)`` when every position is a non-negative 64-bit
    integer (checked at numpy's speed), else None."""
    lists = list(index.values())
    if not all(type(positions) is list for positions in lists):
        return None
    positions = np.array(list(itertools.chain.from_iterable(lists)))
    if positions.dtype.kind != "i" or (positions.size and positions.min() < 0):
        return None
    return lists, positions


def rebuild_abstract(index: Mapping[str, list[int]] | None) -> str:
    """The abstract text from OpenAlex's ``abstract_inverted_index`` (word -> positions).

    A position held by two words goes to the later one. A malformed index raises a
    ``TypeError`` naming the offending word.
    """
    if not index:
        return ""
    if not isinstance(index, Mapping):
        raise TypeError(f"abstract_inverted_index must be an object, got {type(index).__name__}")
    checked = _abstract_positions(index)
    if checked is None:
        return _rebuild_abstract_checked(index)
    lists, positions = checked
    owner = np.repeat(np.arange(len(lists)), [len(p) for p in lists])
    order = np.argsort(positions, kind="stable")
    ordered = positions[order]
    last = np.append(ordered[1:] != ordered[:-1], True)  # the later word wins
    words = list(index)
    return " ".join([words[i] for i in owner[order][last].tolist()])


def check_abstract(index: Mapping[str, list[int]] | None) -> bool:
    """Whether the work has an abstract; a malformed index raises like
    :func:`rebuild_abstract` (without rebuilding the text when it is well formed)."""
    if not index:
        return False
    if not isinstance(index, Mapping):
        raise TypeError(f"abstract_inverted_index must be an object, got {type(index).__name__}")
    checked = _abstract_positions(index)
    if checked is None:
        return bool(_rebuild_abstract_checked(index))
    return bool(checked[1].size) and any(index)


def _rebuild_abstract_checked(index: Mapping[str, list[int]]) -> str:
    words: dict[int, str] = {}
    for word, positions in index.items():
        if not isinstance(positions, list):
            raise TypeError(f"abstract_inverted_index[{word!r}] must be a list of positions")
        for position in positions:
            if not isinstance(position, int) or position < 0:
                raise TypeError(f"abstract_inverted_index[{word!r}] has position {position!r}")
            words[position] = word
    return " ".join(words[p] for p in sorted(words))


def _list(work: dict, key: str) -> list:
    value = work.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"'{key}' must be a list, got {type(value).__name__}")
    return value


def _text(value: Any, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"'{key}' must be a string, got {type(value).__name__}")
    return value


def _score_ok(entry: dict, key: str, min_score: float) -> bool:
    score = entry.get("score")
    if score is None:
        return min_score <= 0
    if not isinstance(score, (int, float)):
        raise TypeError(f"'{key}[].score' must be a number, got {score!r}")
    return score >= min_score


def _text_of(title: str, abstract_index: Mapping | None) -> str:
    return f"{title}\n{rebuild_abstract(abstract_index)}".strip()


class WorkReducer:
    """Callable ``(location, work) -> (Work, document) | None`` for
    :func:`records.latest_by_id`; ``document(title, abstract_index)`` makes the text for
    the featuriser (:meth:`TextFeaturiser.document`; default: title and abstract text).

    Collects concept display names and levels (``self.concept_names``,
    ``self.concept_levels``) as it goes. A work with a field of the wrong type is a bad
    record: raised naming the location, or skipped (``None``) and counted.
    """

    def __init__(
        self,
        concepts: str = "concepts",
        min_concept_score: float = 0.1,
        label: str = "field",
        on_bad: BadRecordHandler | None = None,
        document: Callable[[str, Mapping | None], Any] | None = None,
    ) -> None:
        if concepts not in CONCEPT_KINDS:
            raise DataError(f"data.concepts={concepts!r}; expected one of {CONCEPT_KINDS}")
        if label not in LABELS:
            raise DataError(f"data.label={label!r}; expected one of {LABELS}")
        self.concepts = concepts
        self.min_concept_score = float(min_concept_score)
        self.label = label
        self.on_bad = on_bad or BadRecordHandler("raise")
        self.document = document or _text_of
        self.concept_names: dict[str, str] = {}
        self.concept_levels: dict[str, int] = {}
        self.label_names: dict[str, str] = {}

    def _concepts(self, work: dict) -> tuple[str, ...]:
        kind, keep = self.concepts, []
        source = "topics" if kind == "subfields" else kind
        for entry in _list(work, source):
            if not isinstance(entry, dict):
                raise TypeError(f"'{source}[]' entries must be objects")
            if not _score_ok(entry, source, self.min_concept_score):
                continue
            item = entry.get("subfield") if kind == "subfields" else entry
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            keep.append(sys.intern(item["id"]))
            self.concept_names.setdefault(item["id"], _text(item.get("display_name"), source))
            if kind == "concepts" and isinstance(entry.get("level"), int):
                self.concept_levels.setdefault(item["id"], entry["level"])
        return tuple(dict.fromkeys(keep))

    def _label(self, work: dict) -> str | None:
        if self.label == "none":
            return None
        topic = work.get("primary_topic")
        if not topic:
            topics = _list(work, "topics")
            topic = topics[0] if topics else None
        if not isinstance(topic, dict):
            return None
        level = topic.get(self.label)
        if not isinstance(level, dict) or not isinstance(level.get("id"), str):
            return None
        self.label_names.setdefault(level["id"], _text(level.get("display_name"), self.label))
        return level["id"]

    def reduce(self, work: dict) -> tuple[Work, Any]:
        authors, null_ids = [], 0
        for authorship in _list(work, "authorships"):
            author = authorship.get("author") if isinstance(authorship, dict) else None
            author_id = author.get("id") if isinstance(author, dict) else None
            if isinstance(author_id, str) and author_id:
                authors.append(sys.intern(author_id))  # one string per author, not per record
            else:
                null_ids += 1
        references = []
        for reference in _list(work, "referenced_works"):
            key = normalise_id(reference)
            if key is not None:
                references.append(int(key[len(WORK_URL) + 1 :]))
        title = _text(work.get("title") or work.get("display_name"), "title")
        index = work.get("abstract_inverted_index")
        has_abstract = check_abstract(index)
        return Work(
            title=title.strip().split("\n", 1)[0],
            has_title=bool(title),
            has_text=bool(title.strip()) or has_abstract,
            doi=work.get("doi") if isinstance(work.get("doi"), str) else "",
            has_abstract=has_abstract,
            authors=tuple(dict.fromkeys(authors)),
            null_author_ids=null_ids,
            authors_truncated=bool(work.get("is_authors_truncated")),
            concepts=self._concepts(work),
            label=self._label(work),
            references=np.array(references, dtype=np.int64),
        ), self.document(title, index if has_abstract else None)

    def __call__(self, location: Location, work: dict) -> tuple[Work, Any] | None:
        try:
            return self.reduce(work)
        except (TypeError, AttributeError) as error:
            self.on_bad(location, f"bad work {work.get('id')}: {error}")
            return None


def assemble_graph(
    works: WorkTable,
    reducer: WorkReducer,
    paper_x: np.ndarray,
    concept_x: np.ndarray | None,
    source: str,
) -> HeteroData:
    """The HeCo graph (no meta-paths yet) from the selected reduced works and their
    features."""
    if not len(works):
        raise DataError(f"{source}: no OpenAlex works found")
    ids = works.ids
    author_edges, author_ids = works.factorize("authors")
    concept_edges, concept_ids = works.factorize("concepts")
    if concept_x is not None and len(concept_x) != len(concept_ids):
        raise DataError(f"{source}: {len(concept_x)} concept features, {len(concept_ids)} concepts")

    labels = None
    if reducer.label != "none":
        label_keys = pd.Series(works.column("labels"), dtype=object)
        classes = sorted(label_keys.dropna().unique())
        labels = pd.Index(classes).get_indexer(label_keys).astype(np.int64)  # -1 for None

    data = build_graph(
        target="paper",
        num_nodes={"paper": len(ids), "author": len(author_ids), "concept": len(concept_ids)},
        schema_edges={"author": author_edges, "concept": concept_edges},
        features={"paper": paper_x, "author": None, "concept": concept_x},
        source=source,
        labels=labels,
        node_ids=ids,
    )
    del author_edges, concept_edges
    cite_papers, cite_keys = works.entries("references")
    numbers = np.array([int(i[len(WORK_URL) + 1 :]) for i in ids], dtype=np.int64)
    cited = pd.Index(numbers).get_indexer(cite_keys)
    inside = (cited >= 0) & (cited != cite_papers)
    cites = np.unique(np.stack([cite_papers[inside], cited[inside]]), axis=1)
    data.citation_index = torch.from_numpy(cites.astype(np.int64))
    if reducer.concepts == "concepts":
        level = [reducer.concept_levels.get(c, -1) for c in concept_ids]
        data["concept"].level = torch.tensor(level, dtype=torch.long)
    data.label_ids = classes if labels is not None else []
    data.label_names = [reducer.label_names.get(c, c) for c in data.label_ids]
    data.node_ids_by_type = {"author": author_ids, "concept": concept_ids}
    # For recommendation output (runs write them to papers.csv).
    data["paper"].titles = works.column("titles")
    data["paper"].dois = works.column("dois")
    data.concept_kind = reducer.concepts
    return data
