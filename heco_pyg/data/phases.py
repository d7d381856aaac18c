"""Progress and timings of the long phases of a graph build (generator, meta-path
products, symmetrisation, positives).

Each phase logs one line when it starts and one when it ends (with its rate), and its
seconds go to ``data.phase_seconds`` (``graph_stats.json``: ``phase_seconds``). Loops
inside a phase draw a tqdm bar on a terminal only, as the training loop does
(:func:`heco_pyg.training.progress.bars_enabled`); elsewhere the log lines say what
happened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm

from heco_pyg.training.progress import bars_enabled

log = logging.getLogger(__name__)


class PhaseTimer:
    """Seconds per named phase, in the order the phases ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str, items: int | None = None, unit: str = "rows") -> Iterator[None]:
        """Times the ``with`` body as phase ``name``; ``items`` (rows, papers) gives a rate."""
        log.info("%s ...", name)
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        rate = f", {items / max(seconds, 1e-9):,.0f} {unit}/s" if items else ""
        log.info("%s: done in %.1f s%s", name, seconds, rate)


def phase_bar(total: int | None, description: str, unit: str = "rows") -> tqdm:
    """A transient bar to ``update(n)`` inside a phase; drawn on a terminal only."""
    return tqdm(total=total, desc=description, unit=unit, unit_scale=True, leave=False,
                dynamic_ncols=True, disable=not bars_enabled(True))  # fmt: skip
