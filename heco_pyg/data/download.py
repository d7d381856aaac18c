"""Fetching a dataset's files into a folder: each file written under a temporary name,
checked against its pinned SHA-256 when there is one, and renamed, so nothing half-written
or altered is left behind (the official HeCo files: :mod:`heco_pyg.data.heco_release`)."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from heco_pyg.core.errors import DataError

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = 60.0


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_files(
    root: Path,
    files: Sequence[str],
    url: str,
    opener: Callable[[str], object] | None = None,
    optional: Sequence[str] = (),
    expected: Mapping[str, str] | None = None,
) -> None:
    """Fetches ``url/<file>`` into ``root`` for every file not there yet.

    Each file is written to a temporary name, checked against ``expected[file]`` (its
    SHA-256) when there is one, and renamed, so nothing half-written or altered is left
    behind. A failed required file raises :class:`DataError` naming the folder and the
    files to put there; a failed ``optional`` file is only logged.
    """
    expected = dict(expected or {})
    opener = opener or functools.partial(urllib.request.urlopen, timeout=DOWNLOAD_TIMEOUT)
    missing = [f for f in files if not (root / f).is_file()]
    if not missing:
        return
    root.mkdir(parents=True, exist_ok=True)
    failed = []
    for name in missing:
        source = f"{url.rstrip('/')}/{name}"
        temporary = None
        try:
            log.info("downloading %s", source)
            with opener(source) as response:
                descriptor, temporary = tempfile.mkstemp(dir=root, prefix=f".{name}.")
                with os.fdopen(descriptor, "wb") as handle:
                    shutil.copyfileobj(response, handle)
            if name in expected and sha256(Path(temporary)) != expected[name]:
                raise ValueError(f"{name}: SHA-256 differs from the pinned release file")
            os.replace(temporary, root / name)
        except (urllib.error.URLError, OSError, ValueError) as error:
            if temporary is not None and os.path.exists(temporary):
                os.unlink(temporary)
            if name in optional:
                log.warning("could not download optional %s (%s)", source, error)
            else:
                failed.append((name, error))
    if failed:
        names = ", ".join(name for name, _ in failed)
        raise DataError(
            f"{root}: missing {names} and the download from {url} failed "
            f"({failed[0][1]}). Offline? Copy the official HeCo files (github.com/"
            f"liun-online/HeCo, data/<name>/) into {root}/ and run again."
        )
