"""The progress switch: bars are drawn when asked for, on rank 0, on a terminal only
(elsewhere, e.g. ``make train | tee``, the log lines say what happened)."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

from heco_pyg.core.runtime import is_main_process


def bars_enabled(progress: bool) -> bool:
    """Bars are drawn when asked for, on rank 0, on a terminal (tqdm writes to stderr)."""
    return progress and is_main_process() and sys.stderr.isatty()


def phase_bar(total: int | None, description: str, unit: str = "rows") -> tqdm:
    """A transient bar to ``update(n)`` inside a phase; drawn on a terminal only."""
    return tqdm(total=total, desc=description, unit=unit, unit_scale=True, leave=False,
                dynamic_ncols=True, disable=not bars_enabled(True))  # fmt: skip
