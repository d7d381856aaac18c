"""SIGINT and SIGTERM as a request to stop training cleanly.

The training command holds a :class:`SignalStop` for the whole job. While the training loop
runs (inside :meth:`SignalStop.deferred`) the first signal only sets a flag: the loop
finishes its current step, saves its state and stops, and the command writes what it has
and exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM, what SLURM sends
before it kills a job). Outside the loop (building the graph, the final evaluation) a signal
raises :class:`Interrupted` at once: there is nothing to save yet, or it is already saved.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from heco_pyg.core.errors import Interrupted, signal_name

__all__ = ["Interrupted", "SignalStop", "signal_name"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalStop:
    """Turns SIGINT and SIGTERM into a stop request (``with SignalStop() as stop``).

    Handlers are installed on ``__enter__`` (main thread only) and the previous ones put
    back on ``__exit__``; an instance that is never entered is a stop that never comes.
    :meth:`requested` is what the training loop asks after each step.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._deferring = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame) -> None:
        if not self._deferring:
            raise Interrupted(signum)
        if self.signum is None:
            self.signum = signum
            sys.stderr.write(f"{signal_name(signum)}: finishing the current step, then saving\n")

    @contextmanager
    def deferred(self) -> Iterator[SignalStop]:
        """Inside: a signal sets the flag instead of raising."""
        self._deferring += 1
        try:
            yield self
        finally:
            self._deferring -= 1

    def requested(self) -> bool:
        return self.signum is not None

    def request(self, signum: int = signal.SIGINT) -> None:
        """Asks for a stop as a signal would (tests, or a caller with its own reason)."""
        if self.signum is None:
            self.signum = int(signum)
