"""The ingested graph and its id maps, cached under ``<data_dir>/processed/<key>.pt``.

The key hashes what the graph is built from: a fingerprint of the source (every input
file's path, size and modification time; for the API, its query hash and pages) and
the ingestion settings. Changing a file or a setting changes the key, so a stale
entry is never read; an unreadable entry is rebuilt. Writes go to a temporary file
in the same folder and are renamed into place, so a crash leaves nothing half-written.

Nothing in the cache is unpickled: an entry holds only tensors, strings, numbers, lists
and dicts (the graph as :meth:`HeteroData.to_dict`) and is read with
``torch.load(weights_only=True)``, so a file someone placed in the folder cannot run code;
anything else there is refused (logged) and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import HeteroData

from heco_pyg.core.atomic import save_torch

log = logging.getLogger(__name__)

# Bump when the graph a given input builds changes meaning.
# 2: citations as data.citation_index, no longer a ("paper", "cites", "paper") edge store;
# 3: plain tensors and containers, no pickled objects.
CACHE_VERSION = 3


def fingerprint_files(files: Iterable[Path]) -> list[list]:
    """``[[resolved path, size, mtime_ns], ...]`` of the input files."""
    out = []
    for file in files:
        status = Path(file).stat()
        out.append([str(Path(file).resolve()), status.st_size, status.st_mtime_ns])
    return out


def cache_key(source: Any, settings: Mapping[str, Any]) -> str:
    """A short stable hash of the source fingerprint and the settings."""
    payload = json.dumps(
        {"version": CACHE_VERSION, "source": source, "settings": dict(settings)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class GraphCache:
    """Loads ``<root>/<key>.pt`` or builds and stores it.

    Args:
        root: the cache folder (``${paths.data_dir}/processed``); ``None`` disables it.
    """

    def __init__(self, root: str | os.PathLike | None) -> None:
        self.root = Path(root) if root is not None else None

    def path(self, key: str) -> Path | None:
        return self.root / f"{key}.pt" if self.root is not None else None

    def load(self, key: str) -> dict | None:
        """The entry stored under ``key``, or None (absent, unreadable, refused or stale)."""
        path = self.path(key)
        if path is None or not path.is_file():
            return None
        try:
            entry = torch.load(path, weights_only=True)  # never unpickles objects
            if not isinstance(entry, dict) or entry.get("version") != CACHE_VERSION:
                return None
            if entry.pop("data_is_graph", False):
                entry["data"] = HeteroData.from_dict(entry["data"])
        except Exception as error:  # a corrupt or foreign entry is rebuilt, never trusted
            reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            log.warning("cache entry %s refused (%s); rebuilding it", path, reason)
            return None
        return entry

    def get_or_build(self, key: str, build: Callable[[], dict]) -> tuple[dict, bool]:
        """``(entry, hit)``: the cached entry, or ``build()`` stored under ``key``."""
        entry = self.load(key)
        if entry is not None:
            log.info("graph from cache %s", self.path(key))
            return entry, True
        entry = {"version": CACHE_VERSION, "key": key, **build()}
        if self.root is not None:
            stored = entry
            if isinstance(entry.get("data"), HeteroData):
                stored = {**entry, "data": entry["data"].to_dict(), "data_is_graph": True}
            save_torch(self.path(key), stored)  # atomic; a full disk is one line
            log.info("graph cached at %s", self.path(key))
        return entry, False
