"""Changing a finished run's files behind its manifest's back, as a user (or a second run
in the same folder) might."""

from pathlib import Path

TAMPERINGS = ("shuffled ids", "truncated fused", "wrong checksum")


def tamper(run_dir: Path, how: str) -> str:
    """Changes one file of ``run_dir``; returns the start of the error a reader must give."""
    ids, fused = run_dir / "embeddings" / "ids.csv", run_dir / "embeddings" / "fused.npy"
    if how == "shuffled ids":  # the same ids, two rows swapped: only the checksum can tell
        header, first, second, *rest = ids.read_text().splitlines()
        ids.write_text("\n".join([header, second, first, *rest]) + "\n")
        return f"{ids}: its SHA-256 differs"
    if how == "truncated fused":
        fused.write_bytes(fused.read_bytes()[:-256])
        return f"{fused}: "
    if how == "wrong checksum":  # same size, one bit flipped
        data = bytearray(fused.read_bytes())
        data[-1] ^= 1
        fused.write_bytes(bytes(data))
        return f"{fused}: its SHA-256 differs"
    raise ValueError(how)
