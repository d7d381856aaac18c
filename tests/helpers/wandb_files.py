"""Read what an offline wandb run wrote (``offline-run-*/run-*.wandb``) without a server.

The file is a LevelDB-style log of protobuf ``Record`` messages: a 7-byte file header,
then 32 KiB blocks of chunks, each with a 7-byte header (checksum, length, type).

wandb's service process writes the file asynchronously: ``run.finish()`` can return while
the file still holds only its header (seen in about one run in ten). A run's log is
complete once its ``exit`` record is in it, so :func:`read_records` waits for that record
(polling, with a timeout) instead of reading whatever is there at the moment.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK = 32768
HEADER = struct.Struct("<4sHB")
CHUNK = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def chunks(data: bytes, path: Path) -> Iterator[bytes]:
    """The raw records of a complete or partial log file's bytes."""
    if len(data) < HEADER.size:
        return
    ident, _magic, _version = HEADER.unpack_from(data, 0)
    if ident != b":W&B":
        raise ValueError(f"{path}: not a wandb run file")
    position, pending = HEADER.size, b""
    while position + CHUNK.size <= len(data):
        space = BLOCK - position % BLOCK
        if space < CHUNK.size:
            position += space
            continue
        _checksum, length, kind = CHUNK.unpack_from(data, position)
        position += CHUNK.size
        chunk = data[position : position + length]
        position += length
        if kind == FULL:
            yield chunk
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            yield pending + chunk
        else:  # zero padding at the end of a block
            position += space - CHUNK.size - length


def read_records(run_path: str | Path, timeout: float = 60.0) -> list[wandb_internal_pb2.Record]:
    """Every record of the run in ``run_path``, once its ``exit`` record has been written
    (``TimeoutError`` after ``timeout`` seconds without it)."""
    deadline = time.monotonic() + timeout
    while True:
        files = sorted(Path(run_path).glob("run-*.wandb"))
        records = []
        if files:
            for raw in chunks(files[0].read_bytes(), files[0]):
                record = wandb_internal_pb2.Record()
                record.ParseFromString(raw)
                records.append(record)
        if any(r.WhichOneof("record_type") == "exit" for r in records):
            return records
        if time.monotonic() > deadline:
            raise TimeoutError(f"{run_path}: no complete run-*.wandb after {timeout:.0f} s")
        time.sleep(0.05)


def read_history(run_path: str | Path, timeout: float = 60.0) -> list[dict[str, object]]:
    """The rows passed to ``wandb.log`` in an offline run folder, in order."""
    rows = []
    for record in read_records(run_path, timeout):
        if record.WhichOneof("record_type") == "history":
            row = {}
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                row[key] = json.loads(item.value_json)
            rows.append(row)
    return rows
