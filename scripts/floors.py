"""Writes the lowest allowed versions of heco_pyg's dependencies as pins: ``make test-floors``.

Every requirement of the installed ``heco_pyg`` (without extras) that has a floor
(``>=X``) becomes ``name==X``; the floors in ``pyproject.toml`` are then installed together
in a separate environment and the fast tests run there, so a floor that is not true (an
API the code uses that came later) fails there, not on a user's machine.

    python scripts/floors.py > floors.txt
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement


def floors(distribution: str = "heco_pyg") -> list[str]:
    """``name==floor`` for each requirement of ``distribution`` that has a ``>=`` floor."""
    pins = []
    for line in metadata.requires(distribution) or []:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra's requirement
        lowest = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if lowest:
            pins.append(f"{requirement.name}=={lowest[0]}")
    return pins


if __name__ == "__main__":
    sys.stdout.write("".join(f"{pin}\n" for pin in floors()))
