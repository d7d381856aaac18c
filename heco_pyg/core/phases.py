"""The one stopwatch: wall time per named phase, in the order the phases ran, each
announced in the log as it starts and as it ends (one line each, whatever the terminal).

Two ways to time a phase, into the same :attr:`Phases.seconds`:

* laps, as a command's recipe runs: ``phases.start("graph build")`` ends the running phase
  (logging ``<phase>: 3.1 s``) and starts the next; ``phases.stop()`` ends the last;
* a ``with phases.phase("positives", items=n):`` block around one long step of a graph
  build (generator, meta-path products, symmetrisation, positives), whose end line gives
  its rate; these seconds go to ``data.phase_seconds`` (``graph_stats.json``).

Loops inside a phase draw a bar on a terminal only (:func:`heco_pyg.core.progress.phase_bar`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


def duration(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


class Phases:
    """Seconds per named phase, in the order the phases ran (see the module docstring)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._running: tuple[str, float] | None = None

    def _add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def start(self, name: str, detail: str = "") -> None:
        """Ends the running lap and starts lap ``name`` (``detail``: shown in its line)."""
        self.stop()
        log.info("%s%s ...", name, f" ({detail})" if detail else "")
        self._running = (name, time.perf_counter())

    def stop(self) -> None:
        """Ends the running lap, if any."""
        if self._running is None:
            return
        name, started = self._running
        self._running = None
        self._add(name, time.perf_counter() - started)
        log.info("%s: %s", name, duration(self.seconds[name]))

    @contextmanager
    def phase(self, name: str, items: int | None = None, unit: str = "rows") -> Iterator[None]:
        """Times the ``with`` body as phase ``name``; ``items`` (rows, papers) gives a rate."""
        log.info("%s ...", name)
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self._add(name, seconds)
        rate = f", {items / max(seconds, 1e-9):,.0f} {unit}/s" if items else ""
        log.info("%s: done in %.1f s%s", name, seconds, rate)
