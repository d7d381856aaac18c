"""A resume never spoils a finished run.

Before ``trainer.resume=true`` touches a run's manifest, :func:`check_resume` reads its
``last.pt`` (readable, its format and keys, the model's parameter names and shapes,
finite weights) and checks the free disk space; a refusal is one line and leaves the run
as it was.

A resume of a ``complete`` run then keeps the complete outputs aside (:func:`keep`: hard
links in ``.before_resume/``, so no bytes are copied; the trainer replaces files by
renaming, so the links keep the old contents). If the attempt ends ``complete``, they
are dropped (:func:`drop`); if it fails or is interrupted, :func:`give_back` puts them
back with the run's complete manifest, the attempt recorded under ``failed_resumes``.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from typing import Any

from torch import nn

from heco_pyg.core.atomic import disk_space, dumps_strict, fsync_dir, loads_strict, write_atomic
from heco_pyg.core.errors import RunError
from heco_pyg.training.checkpoint import resume_problem

log = logging.getLogger(__name__)

BACKUP = ".before_resume"
#: Free space a resume needs beyond the size of the run's outputs (written anew).
MARGIN = 64 * 2**20
LEFT_AS_IT_WAS = "the run is left as it was"


def check_resume(run: Any, model: nn.Module, world_size: int = 1) -> None:
    """Raises a one-line :class:`RunError` when ``run`` (a ``RunDir``) cannot be resumed
    with ``model``; writes nothing."""
    manifest = run.manifest_or_none()
    if manifest is None:
        return  # nothing to resume: a new run
    path = run.last_checkpoint
    if path.is_file():
        try:
            saved = run.last_state()
        except RunError:
            saved = None
            problem = "it cannot be read (truncated or not a training state)"
        else:
            problem = resume_problem(saved, model, world_size)
        if problem is not None:
            raise RunError(f"{path}: trainer.resume=true cannot use it: {problem}; "
                           f"{LEFT_AS_IT_WAS} (overwrite=true starts over)")  # fmt: skip
    needed = sum(int(entry.get("bytes", 0)) for entry in (manifest.get("files") or {}).values())
    free = shutil.disk_usage(run.path).free
    if free < needed + MARGIN:
        raise RunError(
            f"{run.path}: trainer.resume=true needs about {(needed + MARGIN) / 2**20:,.0f} MiB "
            f"free, the disk has less ({disk_space(run.path)}); {LEFT_AS_IT_WAS}"
        )


def keep(run: Any, manifest: Mapping | None) -> None:
    """Before a resume of a complete run: hard links of its outputs and a copy of its
    manifest in ``.before_resume/`` (a stale one from a killed attempt is replaced)."""
    backup = run.path / BACKUP
    shutil.rmtree(backup, ignore_errors=True)
    if manifest is None or manifest.get("status") != "complete":
        return
    for name in manifest.get("files") or {}:
        source, target = run.path / name, backup / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:  # a file system without hard links
            shutil.copy2(source, target)
    write_atomic(backup / "run.json", dumps_strict(dict(manifest), indent=2) + "\n")
    fsync_dir(backup)


def drop(run: Any) -> None:
    """After a resume that ended ``complete``: the kept outputs are not needed."""
    shutil.rmtree(run.path / BACKUP, ignore_errors=True)


def give_back(run: Any, attempt: Mapping) -> dict | None:
    """After a resume that failed or was interrupted: the kept complete outputs back in
    place and the complete manifest, with ``attempt`` appended to its ``failed_resumes``;
    returns that manifest (None when nothing was kept)."""
    backup = run.path / BACKUP
    kept = backup / "run.json"
    if not kept.is_file():
        return None
    manifest = loads_strict(kept.read_text(), str(kept), RunError)
    for name in manifest.get("files") or {}:
        source = backup / name
        if source.is_file():
            (run.path / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, run.path / name)
    manifest["failed_resumes"] = [*manifest.get("failed_resumes", []), dict(attempt)]
    run.write_manifest(manifest)
    fsync_dir(run.path)
    shutil.rmtree(backup, ignore_errors=True)
    log.warning("%s: the resume %s; the complete run's outputs are back in place", run.path,
                attempt.get("status"))  # fmt: skip
    return manifest
