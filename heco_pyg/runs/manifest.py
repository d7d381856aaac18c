"""The pieces of a run's manifest (``run.json``) that need no folder: the config's hash and
its differences, where the code came from, and the command that resumes a run.
:class:`heco_pyg.runs.run_dir.RunDir` writes and checks the manifest itself."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import socket
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

#: The manifest's layout version.
FORMAT = 1
#: ``complete``: training finished, every output written. ``interrupted``: stopped by a
#: signal, the best state's outputs written (readable, resumable). ``running``: started and
#: not finished (or killed). ``failed``: stopped by an error (``error`` holds its line).
STATUSES = ("running", "complete", "interrupted", "failed")
READABLE = ("complete", "interrupted")
#: The keys a resumed run may change; any other difference refuses the resume.
RESUMABLE_KEYS = ("trainer.max_epochs", "trainer.resume", "overwrite")


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def manifest_digest(manifest: Mapping) -> str:
    """SHA-256 of the manifest without its ``digest`` key (keys sorted): recorded in it as
    ``digest`` on every write and checked on every read, so an edit of ``run.json`` after
    the run wrote it is seen (one file, one atomic write: a kill never leaves a mismatch)."""
    body = {k: v for k, v in manifest.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def config_hash(config: Mapping) -> str:
    """SHA-256 of the config (as saved: interpolations unresolved), keys sorted."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """``{"trainer.lr": 0.001, ...}``: one entry per leaf (lists are leaves)."""
    if not isinstance(config, Mapping):
        return {prefix: config}
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat |= flatten(value, name)
        else:
            flat[name] = value
    return flat


def config_differences(
    old: Mapping, new: Mapping, ignore: Sequence[str] = RESUMABLE_KEYS
) -> list[str]:
    """``["loss.tau: 0.5 -> 0.8", "seed: (absent) -> 7"]``: the leaves that differ, except
    ``ignore``."""
    old_flat, new_flat = flatten(old), flatten(new)
    absent = object()
    lines = []
    for key in sorted(old_flat.keys() | new_flat.keys()):
        if key in ignore:
            continue
        before, after = old_flat.get(key, absent), new_flat.get(key, absent)
        if before != after:
            show = lambda v: "(absent)" if v is absent else json.dumps(v, default=str)
            lines.append(f"{key}: {show(before)} -> {show(after)}")
    return lines


@cache
def package_version() -> str | None:
    try:
        return metadata.version("heco_pyg")
    except metadata.PackageNotFoundError:
        return None


@cache
def git_commit() -> str | None:
    """The commit of the checkout the package runs from (``+dirty`` with uncommitted
    changes to tracked files); None outside a git checkout."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        run = lambda *args: subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        commit = run("rev-parse", "HEAD")
        dirty = bool(run("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def process() -> dict[str, Any]:
    """Where this process runs, so another can tell whether it is still alive."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def is_alive(manifest: Mapping) -> bool:
    """Whether the process that wrote a ``running`` manifest still runs (same host only)."""
    pid, host = manifest.get("pid"), manifest.get("host")
    if not isinstance(pid, int) or host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def train_command(overrides: Sequence[str], run_dir: str | os.PathLike, resume: bool,
                  world_size: int = 1) -> str:  # fmt: skip
    """The command line that continues (``resume``) or restarts a run in ``run_dir``."""
    keep = [o for o in overrides if o.partition("=")[0].lstrip("+~") not in
            ("trainer.resume", "overwrite", "hydra.run.dir")]  # fmt: skip
    extra = ["trainer.resume=true"] if resume else ["overwrite=true"]
    launcher = ("python -m heco_pyg.train" if world_size <= 1 else
                f"torchrun --nproc-per-node={world_size} -m heco_pyg.train")  # fmt: skip
    words = [*keep, f"hydra.run.dir={run_dir}", *extra]
    return " ".join([launcher, *(shlex.quote(w) for w in words)])
