"""Run folder names that say what ran: ``outputs/train/<date>_<time>_<data>_<overrides>``,
and ``outputs/latest``, a link to the newest finished run.

:func:`run_name` is the ``${run_name:...}`` resolver of ``heco_pyg/conf/hydra/default.yaml``
(registered when the package is imported, before Hydra resolves ``hydra.run.dir``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: The longest run folder name, well within any file system's 255 bytes.
MAX_NAME = 120


def run_name(*parts: str) -> str:
    """The non-empty ``parts`` joined by ``_``, made safe for a folder name: ``/`` and
    other characters outside ``[A-Za-z0-9=,.+~-]`` become ``-``; cut to ``MAX_NAME``."""
    text = "_".join(str(p) for p in parts if p not in (None, ""))
    return re.sub(r"[^A-Za-z0-9=,.+~_-]+", "-", text)[:MAX_NAME].rstrip("-_,")


def link_latest(run_dir: Path, name: str = "latest") -> Path | None:
    """Points ``outputs/latest`` at ``run_dir`` when it is a run folder of Hydra's layout
    (``outputs/<task>/<run>``), atomically (a new link renamed over the old one); returns
    the link, or None for other folders (``hydra.run.dir=...``) and where links cannot be
    made."""
    run_dir = Path(run_dir).absolute()
    outputs = run_dir.parent.parent
    if outputs.name != "outputs":
        return None
    link = outputs / name
    if link.exists() and not link.is_symlink():
        return None  # a real folder of that name: leave it alone
    temporary = outputs / f".{name}.{os.getpid()}"
    try:
        if temporary.is_symlink():
            temporary.unlink()
        temporary.symlink_to(os.path.relpath(run_dir, outputs), target_is_directory=True)
        os.replace(temporary, link)
    except OSError:
        return None
    return link
