"""The child of ``bench.py phases``: runs the train command and writes the CPU seconds of
each phase to a JSON file (``python _phase_clock.py OUT.json OVERRIDES``).

Run from the repository root: the package is the one under the current folder.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import resource
import sys


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class PhaseClock:
    """CPU time at each phase boundary; a phase seen twice adds up."""

    def __init__(self) -> None:
        self.marks = [("imports", cpu_seconds())]  # what the interpreter did before is not ours
        self.current = "imports"

    def mark(self, phase: str) -> None:
        self.marks.append((phase, cpu_seconds()))
        self.current = phase

    def seconds(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for (phase, start), (_, stop) in itertools.pairwise(self.marks):
            totals[phase] = totals.get(phase, 0.0) + stop - start
        return totals


def instrument(clock: PhaseClock) -> None:
    """Marks every ``Phases`` boundary and ``Tracker.__init__`` of the package."""
    from heco_pyg.core import phases
    from heco_pyg.runs import tracking

    start, stop, init = phases.Phases.start, phases.Phases.stop, tracking.Tracker.__init__

    def phase_start(self, name: str, detail: str = "") -> None:
        stop(self)
        clock.mark(name)
        start(self, name, detail)

    def phase_stop(self) -> None:
        if self._running is not None:
            clock.mark(f"after {self._running[0]}")
        stop(self)

    def tracker_init(self, *args, **kwargs) -> None:
        phase = clock.current
        clock.mark("wandb init")
        init(self, *args, **kwargs)
        clock.mark(phase)

    phases.Phases.start, phases.Phases.stop = phase_start, phase_stop
    tracking.Tracker.__init__ = tracker_init


def main() -> None:
    out, overrides = sys.argv[1], sys.argv[2:]
    clock = PhaseClock()
    sys.path.insert(0, os.getcwd())
    from heco_pyg import train  # the imports phase

    clock.mark("config and checks")
    instrument(clock)

    def write() -> None:
        clock.mark("end")
        with open(out, "w") as handle:
            json.dump(clock.seconds(), handle, indent=1)

    atexit.register(write)
    sys.argv = [train.__file__, *overrides]
    train.main()


if __name__ == "__main__":
    main()
