"""CiteULike releases (citeulike-a, citeulike-t): papers, users' libraries and tags.

A release folder holds whitespace-separated text files, one line per entity, ids 0-based;
the first number on a line counts the ids that follow, so a line may be ``0``:

=================================  ================================================
``users.dat``                      user i's library (article ids)
``tag-item.dat`` | ``item-tag.dat``  tag i's articles | article i's tags (either one)
``mult.dat`` (optional)            article i's bag of words: ``n word_id:count ...``
``citations.dat`` (optional)       the articles linked to article i by a citation
``tags.dat`` (optional)            tag i's name
``vocabulary.dat`` (optional)      word i (its line count is the vocabulary's size)
``SHA256SUMS`` (optional)          ``sha256  file`` lines, checked before anything is read
=================================  ================================================

The graph (:func:`read_citeulike`): node types ``paper`` (one per article, its id the
article's index), ``user`` and ``tag``; schema edges paper-user and paper-tag. Paper
features: TF-IDF + truncated SVD (:class:`~heco_pyg.data.openalex.features.TextFeaturiser`)
of the bag of words, or of the tags when there is no ``mult.dat``. Graph-level, outside
every edge store: the citations as ``data.citation_index`` (both directions: the release
does not say which article cites which; evaluation only) and the bag of words as
``data.word_index`` / ``data.word_count`` (:func:`~heco_pyg.data.graph.bag_of_words`).
Tag names are ``data["tag"].names``; each paper's most used tags are its ``titles``
(papers.csv: what ``recommend`` prints, the release having no titles).
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import HeteroData
from torch_geometric.utils import coalesce, to_undirected

from heco_pyg.core.errors import DataError
from heco_pyg.data.graph import build_graph
from heco_pyg.data.openalex.cache import GraphCache, cache_key, fingerprint_files
from heco_pyg.data.openalex.features import TextFeaturiser

log = logging.getLogger(__name__)

CHECKSUMS = "SHA256SUMS"
TAG_FILES = ("tag-item.dat", "item-tag.dat")  # tag i's articles | article i's tags


def verify_checksums(folder: Path) -> None:
    """Checks the files ``SHA256SUMS`` lists, when the folder has one (else nothing)."""
    sums = folder / CHECKSUMS
    if not sums.is_file():
        return
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{sums}:{number}: expected 'sha256  file', got {line[:80]!r}")
        expected, name = parts[0].lower(), parts[1].strip().lstrip("*")
        if Path(name).name != name or name in ("", ".", ".."):
            raise DataError(f"{sums}:{number}: {name!r} is not a file name in the folder")
        file = folder / name
        if not file.is_file():
            raise DataError(f"{sums}:{number}: {file} is missing")
        if hashlib.sha256(file.read_bytes()).hexdigest() != expected:
            raise DataError(f"{file}: SHA-256 does not match {sums}:{number} (changed or corrupt)")


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start})") from None
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines  # a final newline ends no line


def _integer(token: str) -> int:
    if not token.isdigit():
        raise ValueError(f"{token[:30]!r} is not a non-negative integer")
    return int(token)


def _parse(tokens: list[str], pairs: bool) -> tuple[list[int], list[float]]:
    """The ids (and counts) of one line's tokens; ``ValueError`` saying what is wrong."""
    if not tokens:
        raise ValueError("empty (an empty list is written 0)")
    if _integer(tokens[0]) != len(tokens) - 1:
        raise ValueError(f"the first number says {tokens[0]} ids, {len(tokens) - 1} follow")
    if not pairs:
        return [_integer(token) for token in tokens[1:]], []
    entries = [token.split(":") for token in tokens[1:]]
    if any(len(entry) != 2 for entry in entries):
        raise ValueError("entries must be id:count")
    counts = [_integer(entry[1]) for entry in entries]
    if 0 in counts:
        raise ValueError("a word count of 0")
    return [_integer(entry[0]) for entry in entries], counts


def read_lists(path: Path, pairs: bool = False) -> tuple[np.ndarray, ...]:
    """``(line, id, lines)``: the 0-based line index and id of every id of a list file,
    and its number of lines; ``pairs`` (``n id:count ...`` lines): ``(line, id, count,
    lines)``. A malformed line is a :class:`DataError` naming the file and line number."""
    rows: list[int] = []
    ids: list[int] = []
    counts: list[float] = []
    lines = _lines(path)
    for index, line in enumerate(lines):
        try:
            values, weights = _parse(line.split(), pairs)
        except ValueError as error:
            raise DataError(f"{path}:{index + 1}: malformed line {line[:40]!r}: {error}") from None
        rows.extend([index] * len(values))
        ids.extend(values)
        counts.extend(weights)
    out = (np.asarray(rows, dtype=np.int64), np.asarray(ids, dtype=np.int64))
    if pairs:
        out = (*out, np.asarray(counts, dtype=np.float32))
    return (*out, len(lines))


def _check_range(path: Path, rows: np.ndarray, ids: np.ndarray, bound: int, what: str) -> None:
    if ids.size and int(ids.max()) >= bound:
        bad = int(np.argmax(ids >= bound))
        raise DataError(f"{path}:{rows[bad] + 1}: {what} id {ids[bad]} out of range "
                        f"(the release has {bound} {what}s)")  # fmt: skip


def _num_articles(folder: Path, per_article: dict[str, int], ids: list[np.ndarray]) -> int:
    """The article count: the line count the per-article files agree on, else the
    largest article id plus one."""
    counts = set(per_article.values())
    if len(counts) > 1:
        raise DataError(f"{folder}: the per-article files disagree on the number of articles "
                        f"({per_article})")  # fmt: skip
    if counts:
        return counts.pop()
    return int(max((int(i.max()) for i in ids if i.size), default=-1)) + 1


def _descriptions(paper: np.ndarray, tag: np.ndarray, names: list[str], n: int,
                  top: int) -> list[str]:  # fmt: skip
    """Each paper's ``top`` most used tags (most papers first), comma-separated."""
    if top <= 0 or not paper.size:
        return [""] * n
    usage = np.bincount(tag, minlength=len(names))
    order = np.lexsort((tag, -usage[tag], paper))
    paper, tag = paper[order], tag[order]
    starts = np.searchsorted(paper, np.arange(n + 1))
    return [", ".join(names[t] for t in tag[starts[i] : min(starts[i] + top, starts[i + 1])])
            for i in range(n)]  # fmt: skip


def _features(documents: list[list[str]], dim: int, seed: int) -> np.ndarray:
    """TF-IDF + SVD rows of the documents (fitted on all of them); empty ones get zeros."""
    featuriser = TextFeaturiser("tfidf", dim, seed, fit_size=max(len(documents), 1))
    for row, document in enumerate(documents):
        featuriser.add(row, document)
    return featuriser.finish(None)[0]


def _tag_names(folder: Path, num_tags: int | None, tag: np.ndarray) -> list[str]:
    """Tag i's name from ``tags.dat`` (``tag i`` without it); ``num_tags`` when the tag
    file says it (``tag-item.dat``: its lines), else as many as ``tags.dat`` has lines
    (or the largest tag id plus one)."""
    path = folder / "tags.dat"
    if not path.is_file():
        count = num_tags if num_tags is not None else int(tag.max(initial=-1)) + 1
        return [f"tag {i}" for i in range(count)]
    names = [line.strip() for line in _lines(path)]
    if num_tags is not None and len(names) != num_tags:
        raise DataError(f"{path}: {len(names)} names for {num_tags} tags")
    return names


def read_citeulike(folder: str | Path, text_dim: int = 128, seed: int = 0,
                   description_tags: int = 5) -> HeteroData:  # fmt: skip
    """The paper/user/tag graph of a CiteULike release folder (see the module docstring),
    before meta-paths and positives."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data.path={folder}: not a folder (a CiteULike release)")
    verify_checksums(folder)
    found = [name for name in TAG_FILES if (folder / name).is_file()]
    if not (folder / "users.dat").is_file() or len(found) != 1:
        raise DataError(f"{folder}: a CiteULike release needs users.dat and one of "
                        f"{' or '.join(TAG_FILES)} (found {found or 'neither'})")  # fmt: skip
    tag_file = folder / found[0]
    user, user_paper, num_users = read_lists(folder / "users.dat")
    first, second, tag_lines = read_lists(tag_file)
    tag_per_line = found[0] == "tag-item.dat"
    tag, tag_paper = (first, second) if tag_per_line else (second, first)
    per_article = {} if tag_per_line else {found[0]: tag_lines}
    words = citations = None
    if (folder / "mult.dat").is_file():
        words = read_lists(folder / "mult.dat", pairs=True)
        per_article["mult.dat"] = words[3]
    if (folder / "citations.dat").is_file():
        citations = read_lists(folder / "citations.dat")
        per_article["citations.dat"] = citations[2]
    n = _num_articles(folder, per_article, [user_paper, tag_paper] +
                      ([citations[1]] if citations else []))  # fmt: skip
    names = _tag_names(folder, tag_lines if tag_per_line else None, tag)
    num_tags = len(names)
    _check_range(folder / "users.dat", user, user_paper, n, "article")
    if tag_per_line:
        _check_range(tag_file, tag, tag_paper, n, "article")
    else:
        _check_range(tag_file, tag_paper, tag, num_tags, "tag")
    if citations is not None:
        _check_range(folder / "citations.dat", citations[0], citations[1], n, "article")

    start = time.perf_counter()
    if words is not None:
        vocabulary = int(words[1].max(initial=-1)) + 1
        if (folder / "vocabulary.dat").is_file():  # the size the release declares
            declared = len(_lines(folder / "vocabulary.dat"))
            _check_range(folder / "mult.dat", words[0], words[1], declared, "word")
            vocabulary = declared
        tokens = [str(i) for i in range(vocabulary)]
        documents = [[] for _ in range(n)]
        for row, word, count in zip(*words[:3], strict=True):
            documents[row].extend([tokens[word]] * int(count))
    else:  # the tags are the text
        documents = [[] for _ in range(n)]
        for paper, t in zip(tag_paper.tolist(), tag.tolist(), strict=True):
            documents[paper].append(names[t])
    x = _features(documents, text_dim, seed)
    del documents
    log.info(
        "%s: %d articles, features from %s in %.1f s",
        folder,
        n,
        "mult.dat" if words is not None else "the tags",
        time.perf_counter() - start,
    )

    data = build_graph(
        "paper",
        {"paper": n, "user": num_users, "tag": num_tags},
        {"user": np.stack([user_paper, user], 1), "tag": np.stack([tag_paper, tag], 1)},
        {"paper": x},
        str(folder),
        node_ids=[str(i) for i in range(n)],
    )
    data["tag"].names = names
    data["paper"].titles = _descriptions(tag_paper, tag, names, n, description_tags)
    if words is not None:
        index = torch.from_numpy(np.stack(words[:2]))
        index, count = coalesce(index, torch.from_numpy(words[2]), num_nodes=max(n, vocabulary))
        data.word_index, data.word_count = index, count
        data.vocabulary_size = vocabulary
    if citations is not None:
        index = torch.from_numpy(np.stack(citations[:2]))
        index = to_undirected(index[:, index[0] != index[1]], num_nodes=n)
        data.citation_index = index
    return data


def load_citeulike_graph(path: str | Path, text_dim: int = 128, seed: int = 0,
                         description_tags: int = 5, data_dir: str | Path | None = None
                         ) -> HeteroData:  # fmt: skip
    """:func:`read_citeulike` through the graph cache (``data_dir/processed``), keyed by
    the release files' paths, sizes and times and the settings."""
    folder = Path(path)
    if folder.is_dir():
        verify_checksums(folder)  # every load, cache or not: the files are what they claim
    files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
    settings = {"text_dim": text_dim, "seed": seed, "description_tags": description_tags}
    source = {"kind": "citeulike", "files": fingerprint_files(files)}
    cache = GraphCache(Path(data_dir) / "processed" if data_dir is not None else None)

    def build() -> dict:
        return {"data": read_citeulike(folder, text_dim, seed, description_tags)}

    entry, hit = cache.get_or_build(cache_key(source, settings), build)
    data = entry["data"]
    data.cache_info = {"path": str(cache.path(entry["key"])), "hit": hit}
    return data
