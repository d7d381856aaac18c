"""Read what an offline wandb run wrote (``offline-run-*/run-*.wandb``) without a server.

The file is a LevelDB-style log of protobuf ``Record`` messages: a 7-byte file header,
then 32 KiB blocks of chunks, each with a 7-byte header (checksum, length, type). Used by
the tests and the local report to check which series a run logged.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK = 32768
HEADER = struct.Struct("<4sHB")
CHUNK = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _records(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
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


def read_history(run_path: str | Path) -> list[dict[str, object]]:
    """The rows passed to ``wandb.log`` in an offline run folder, in order."""
    files = sorted(Path(run_path).glob("run-*.wandb"))
    if not files:
        raise FileNotFoundError(f"{run_path}: no run-*.wandb file")
    rows = []
    for raw in _records(files[0]):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "history":
            row = {}
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                row[key] = json.loads(item.value_json)
            rows.append(row)
    return rows
