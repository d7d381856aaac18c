"""Files a user might hand a command instead of the one it expects."""

from pathlib import Path


def planted(path: Path, content: bytes | str) -> Path:
    """``path`` holding the bytes ``content``, or a folder when ``content == "directory"``."""
    if content == "directory":
        path.mkdir()
    else:
        path.write_bytes(content)
    return path
