"""Run folder names that say what ran: ``outputs/train/<date>_<time>_<data>_<overrides>``
(``2026-12-06_01-24-01_synthetic_model-heco``), ``outputs/latest``, a link to the newest
finished run, and :func:`find_run`, which turns what a user types after ``run_dir=`` into
a folder.

A name holds only ``[A-Za-z0-9._+-]``, which Hydra's override parser reads unquoted, so
``run_dir=<the name>`` can be typed as printed (tests/runs/test_naming.py).

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
    """The non-empty ``parts`` joined by ``_``, made safe for a folder name and a command
    line: ``/``, ``=``, ``,``, spaces, quotes and every other character outside
    ``[A-Za-z0-9._+-]`` become ``-``; cut to ``MAX_NAME``."""
    text = "_".join(str(p) for p in parts if p not in (None, ""))
    return re.sub(r"[^A-Za-z0-9.+_-]+", "-", text)[:MAX_NAME].rstrip("-_")


def find_run(text: str | os.PathLike, outputs: str | os.PathLike = "outputs") -> Path:
    """The run folder ``run_dir=`` names: an existing folder (``outputs/latest`` too), else
    a run folder's name or the unique start of one under ``outputs/<task>/``. A name that
    matches nothing, or several runs, raises :class:`FileNotFoundError` in one line."""
    path = Path(text)
    if path.exists() or path.is_symlink():
        return path
    name = str(text).rstrip("/")
    candidates = sorted(p for p in Path(outputs).glob("*/*") if p.is_dir() and not p.is_symlink())
    exact = [p for p in candidates if p.name == name]
    matches = exact or [p for p in candidates if p.name.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise FileNotFoundError(
            f"run_dir={name}: no such folder, and no run under {outputs}/ is named or starts "
            f"with it (give a folder, {outputs}/latest, a run folder's name or its start)"
        )
    shown = ", ".join(p.name for p in matches[:3]) + (", ..." if len(matches) > 3 else "")
    raise FileNotFoundError(
        f"run_dir={name}: {len(matches)} runs under {outputs}/ start with it ({shown}); "
        f"give more of the name"
    )


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
