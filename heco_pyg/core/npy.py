"""The header of a ``.npy`` file, read without its data: what a reader checks before it
trusts the bytes that follow (an object dtype that would unpickle, a shape larger than
the file)."""

from __future__ import annotations

from typing import BinaryIO

import numpy as np


def read_header(stream: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of the ``.npy`` whose bytes ``stream`` starts with; the stream is
    left at the first data byte. Raises ``ValueError`` for anything else."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    return shape, dtype
