"""Writing files so that a reader (or a kill) never sees half of one, and strict JSON.

Every write goes to a temporary file in the destination's folder, is flushed and
``fsync``-ed, then renamed over the destination with ``os.replace`` (atomic on POSIX), and
the folder is ``fsync``-ed so the rename survives a crash. A failure (or a kill) during the
write leaves the previous file as it was. Each writer returns the file's size and SHA-256,
hashed while writing, so a manifest need not read the file again. A write that fails
because the disk is full is a one-line :class:`DiskFull` naming the disk and its free
space (torch's own message, ``unexpected pos ...``, says neither).
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from heco_pyg.core.errors import UserError
from heco_pyg.core.secrets import mask_registered

#: Below this many free bytes a failed write is taken for a full disk.
NEARLY_FULL = 64 * 2**20


class DiskFull(UserError):
    """A write failed for want of space; the message names the disk and its free space."""


def disk_space(path: str | os.PathLike) -> str:
    """``"/mount: 12 MiB free of 20 MiB"`` for the disk holding ``path`` (or its nearest
    existing parent)."""
    where = Path(path).absolute()
    while not where.exists() and where != where.parent:
        where = where.parent
    mount = where
    while not os.path.ismount(mount) and mount != mount.parent:
        mount = mount.parent
    usage = shutil.disk_usage(where)
    return f"{mount}: {usage.free / 2**20:,.0f} MiB free of {usage.total / 2**20:,.0f} MiB"


def _disk_full(error: BaseException, path: Path) -> DiskFull | None:
    """A :class:`DiskFull` for ``error`` if it is one (ENOSPC/EDQUOT, or a library's write
    error on a nearly full disk), else None."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        pass
    elif not isinstance(error, (OSError, RuntimeError)):
        return None
    else:
        try:
            if shutil.disk_usage(path.parent).free >= NEARLY_FULL:
                return None
        except OSError:
            return None
    return DiskFull(f"{path}: cannot be written, the disk is full ({disk_space(path.parent)}); "
                    "free some space or write elsewhere, and run again")  # fmt: skip


@dataclass(frozen=True)
class FileStamp:
    """A file's size and SHA-256 (hex), as a manifest records them."""

    bytes: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "sha256": self.sha256}


class HashingWriter:
    """A binary file handle that hashes what goes through it (``np.save`` and
    ``torch.save`` write into it like into a file)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self.size += view.nbytes
        return self.handle.write(view)

    def flush(self) -> None:
        self.handle.flush()

    @property
    def stamp(self) -> FileStamp:
        return FileStamp(self.size, self.digest.hexdigest())


def temporary_path(path: Path) -> Path:
    """The temporary name of ``path`` while it is written: hidden, in the same folder, with
    the same suffix (matplotlib picks the format from it)."""
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


def fsync_dir(path: Path) -> None:
    """Makes a rename inside ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _commit(temporary: Path, path: Path) -> None:
    os.replace(temporary, path)
    fsync_dir(path.parent)


@contextmanager
def atomic_handle(path: str | os.PathLike) -> Iterator[HashingWriter]:
    """A hashing handle on ``path``'s temporary file; renamed over ``path`` when the block
    ends without an error, removed when it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        with open(temporary, "wb") as handle:
            writer = HashingWriter(handle)
            yield writer
            handle.flush()
            os.fsync(handle.fileno())
        _commit(temporary, path)
    except BaseException as error:
        full = _disk_full(error, path)
        temporary.unlink(missing_ok=True)
        if full is not None:
            raise full from None
        raise


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path for writers that take a file name (``savefig``, faiss); renamed
    over ``path`` when the block ends without an error (and the writer wrote it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        yield temporary
        if not temporary.exists():
            return
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        _commit(temporary, path)
    except BaseException as error:
        full = _disk_full(error, path)
        temporary.unlink(missing_ok=True)
        if full is not None:
            raise full from None
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Writes text (UTF-8) or bytes to ``path`` atomically; returns the path. Text passes
    :func:`~heco_pyg.core.secrets.mask_registered` last: a registered secret (the API
    key) never reaches a file, whatever path it took."""
    write_bytes(path, mask_registered(data).encode() if isinstance(data, str) else data)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> FileStamp:
    with atomic_handle(path) as handle:
        handle.write(data)
    return handle.stamp


def save_numpy(path: str | os.PathLike, array: np.ndarray) -> FileStamp:
    with atomic_handle(path) as handle:
        np.save(handle, array)
    return handle.stamp


def save_torch(path: str | os.PathLike, state: Any) -> FileStamp:
    with atomic_handle(path) as handle:
        torch.save(state, handle)
    return handle.stamp


def file_stamp(path: str | os.PathLike, chunk: int = 1 << 22) -> FileStamp:
    """Size and SHA-256 of a file on disk."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            size += len(block)
    return FileStamp(size, digest.hexdigest())


def strict_value(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` and numpy scalars and arrays as Python
    values, so it serialises as strict JSON."""
    if isinstance(value, Mapping):
        return {str(k): strict_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_value(v) for v in value]
    if isinstance(value, np.ndarray | torch.Tensor):
        return strict_value(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_strict(value: Any, **kwargs) -> str:
    """Strict JSON (no bare ``NaN``/``Infinity``): undefined values become ``null``."""
    return json.dumps(strict_value(value), allow_nan=False, **kwargs)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON (strict parsers reject it)")


def loads_strict(text: str, where: str = "JSON", error: Callable[[str], Exception] = ValueError
                 ) -> Any:  # fmt: skip
    """Parses strict JSON; a bare ``NaN``/``Infinity`` or a syntax error raises ``error``
    with a message that names ``where``."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as problem:  # json.JSONDecodeError is a ValueError
        raise error(f"{where}: not strict JSON ({problem})") from None
