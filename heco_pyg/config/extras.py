"""Choices that need an optional extra: refused before any work with one line naming the
``pip install`` that provides it (instead of a traceback or Hydra's "Could not find")."""

from __future__ import annotations

import importlib.util

from heco_pyg.core.errors import ConfigError

#: ``(key, value)`` on a command line -> (the module it imports, the extra providing it).
EXTRAS = {
    ("index", "faiss"): ("faiss", "faiss"),
    ("hparams_search", "optuna"): ("hydra_plugins.hydra_optuna_sweeper", "optuna"),
}


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is absent
        return False


def require_extra(key: str, value: str) -> None:
    """Raises :class:`ConfigError` when ``key=value`` needs an extra that is not installed."""
    needed = EXTRAS.get((key, value))
    if needed is not None and not installed(needed[0]):
        raise ConfigError(f"{key}={value} needs the optional extra: "
                          f"pip install 'heco_pyg[{needed[1]}]'")  # fmt: skip
