"""A tiny CiteULike release folder in the release's format (heco_pyg/data/citeulike.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

# 8 articles, 3 users, 4 tags. Tag 0 is on every article (a hub); article 7 has no user.
# The cited pairs (0, 6) and (1, 7) share no user and no tag: only a leak could join them.
LIBRARIES = [[0, 1, 2], [2, 3, 4, 5], [], [6]]  # user 2's library is empty (a `0` line)
TAGS_OF_ARTICLE = [[0, 1], [0, 1], [0, 1], [0, 2], [0, 2], [0, 2], [0, 3], [0]]
CITATIONS = {0: [6], 6: [0], 1: [7], 7: [1], 2: [2]}  # 2 cites itself: dropped
WORDS = [{0: 2, 1: 1}, {0: 1, 1: 3}, {1: 1, 2: 1}, {2: 4}, {2: 1, 3: 1}, {3: 2}, {4: 1}, {}]


def _line(ids) -> str:
    return " ".join(str(i) for i in [len(ids), *ids])


def _write(folder: Path, name: str, lines: list[str]) -> None:
    (folder / name).write_text("\n".join(lines))  # the release's last line has no newline


def write_release(folder: Path, orientation: str = "tag-item", mult: bool = True,
                  checksums: bool = False) -> Path:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder, "users.dat", [_line(library) for library in LIBRARIES])
    if orientation == "tag-item":
        articles = [[a for a, tags in enumerate(TAGS_OF_ARTICLE) if t in tags] for t in range(4)]
        _write(folder, "tag-item.dat", [_line(a) for a in articles])
    else:
        _write(folder, "item-tag.dat", [_line(tags) for tags in TAGS_OF_ARTICLE])
    _write(folder, "tags.dat", ["all", "graphs", "proteins", "lonely"])
    _write(folder, "citations.dat", [_line(CITATIONS.get(a, [])) for a in range(8)])
    if mult:
        lines = [" ".join([str(len(w)), *(f"{k}:{v}" for k, v in w.items())]) for w in WORDS]
        _write(folder, "mult.dat", lines)
        _write(folder, "vocabulary.dat", ["graph", "node", "protein", "fold", "cell", "spare"])
    if checksums:
        sums = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}"
                for p in sorted(folder.glob("*.dat"))]  # fmt: skip
        _write(folder, "SHA256SUMS", sums)
    return folder
