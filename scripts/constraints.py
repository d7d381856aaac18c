"""Writes the constraints file of the tested versions: ``make constraints``.

The versions installed in the running environment of ``heco_pyg`` and everything it needs
(its requirements with the ``dev``, ``faiss`` and ``optuna`` extras, recursively, markers
evaluated), as ``name==version``. Local version labels are dropped (``torch==2.13.0+cpu`` becomes
``torch==2.13.0``) so that the CPU and the CUDA build of the same release both satisfy it;
which build is installed is the Makefile's ``TORCH``/``TORCH_INDEX`` choice. Packages in
the environment that heco_pyg does not need (tools, other projects) are left out.

    python scripts/constraints.py > constraints.txt
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


def closure(root: str, extras: tuple[str, ...]) -> dict[str, str]:
    """``{canonical name: installed version}`` of ``root`` and its installed requirements."""
    found: dict[str, str] = {}
    pending = [(root, extras)]
    while pending:
        name, wanted = pending.pop()
        key = canonicalize_name(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional extra that is not installed
        if key in found and not wanted:
            continue
        found[key] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            environments = [{"extra": extra} for extra in wanted] or [{"extra": ""}]
            marker = requirement.marker
            if marker is None or any(marker.evaluate(env) for env in environments):
                if canonicalize_name(requirement.name) not in found:
                    pending.append((requirement.name, tuple(requirement.extras)))
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", default="heco_pyg")
    parser.add_argument("--extras", nargs="*", default=["dev", "faiss", "optuna"])
    args = parser.parse_args(argv)
    versions = closure(args.package, tuple(args.extras))
    versions.pop(canonicalize_name(args.package), None)
    print(f"# The tested versions: `make constraints` (scripts/constraints.py), Python "
          f"{sys.version_info.major}.{sys.version_info.minor}.")  # fmt: skip
    print("# Used by `make install` and CI: pip install -c constraints.txt ...")
    for name in sorted(versions):
        print(f"{name}=={Version(versions[name]).public}")


if __name__ == "__main__":
    main()
