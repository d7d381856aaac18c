"""A run folder from elsewhere is data, not code: what a saved config (``run.json``'s
``config``) must satisfy before anything is built from it.

``evaluate`` and ``recommend`` rebuild a run's graph and model from its saved config with
Hydra's ``instantiate``, which calls whatever ``_target_`` names. A copied run folder is
someone else's file, so before anything is built :func:`checked_config`

* admits only the project's own targets: those the packaged config groups name
  (``heco_pyg/conf/**/*.yaml``, the ``heco_pyg.*`` ones), checked everywhere in the
  config, lists included; ``torch.load``, ``numpy.load``, ``os.system`` never run;
* refuses interpolations that call resolvers other than Hydra's runtime values and the
  project's (``hydra``, ``run_name``, ``sweep_group``): ``${oc.env:OPENALEX_API_KEY}``
  would copy a secret into the outputs;
* refuses an ``api_url`` that is neither the OpenAlex API nor this machine (loopback):
  rebuilding an API graph sends your key to it.

Each refusal is one :class:`RunError` line naming ``run.json`` and the key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from omegaconf import DictConfig, OmegaConf

from heco_pyg.core.errors import RunError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "conf"
PROJECT_PREFIX = "heco_pyg."
ALLOWED_RESOLVERS = frozenset({"hydra", "run_name", "sweep_group"})
OPENALEX_HOSTS = frozenset({"api.openalex.org"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_TARGET_LINE = re.compile(r"^\s*_target_:\s*([\w.]+)\s*(?:#.*)?$", re.MULTILINE)
_RESOLVER_CALL = re.compile(r"\$\{\s*([^}:\s]+)\s*:")
_NEVER = "a run folder's config is never executed; retrain with this heco_pyg, or fix run.json"


@functools.cache
def project_targets() -> frozenset[str]:
    """The ``_target_`` values of the packaged config groups that are heco_pyg's own."""
    found = set()
    for file in CONFIG_DIR.rglob("*.yaml"):
        found.update(_TARGET_LINE.findall(file.read_text(encoding="utf-8")))
    return frozenset(t for t in found if t.startswith(PROJECT_PREFIX))


def checked_config(config: Any, source: str | Path) -> DictConfig:
    """``config`` (a saved run config) as a DictConfig, once every check of the module
    docstring passed; ``source`` names the file in errors."""
    if not isinstance(config, Mapping):
        raise RunError(f"{source}: 'config' must be a mapping, got {type(config).__name__}")
    _check(config, "config", source)
    try:
        return OmegaConf.create(dict(config))
    except Exception as error:  # omegaconf's errors for keys or values it cannot hold
        raise RunError(
            f"{source}: 'config' is not a valid config ({type(error).__name__})"
        ) from None


def _check(value: Any, where: str, source: str | Path) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise RunError(f"{source}: {where} has a key that is not a string ({key!r})")
            here = f"{where}.{key}"
            if key == "_target_" and item not in project_targets():
                raise RunError(
                    f"{source}: {here} = {str(item)[:120]!r} is not one of heco_pyg's own "
                    f"targets; {_NEVER}"
                )
            if key == "api_url" and item is not None:
                _check_api_url(item, here, source)
            _check(item, here, source)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]", source)
    elif isinstance(value, str):
        for resolver in _RESOLVER_CALL.findall(value):
            if resolver not in ALLOWED_RESOLVERS:
                raise RunError(
                    f"{source}: {where} calls the resolver {resolver!r} (only plain references "
                    f"and {sorted(ALLOWED_RESOLVERS)} are resolved in a saved config); {_NEVER}"
                )


def _check_api_url(url: Any, where: str, source: str | Path) -> None:
    host = urlparse(str(url)).hostname or ""
    if host.lower() not in OPENALEX_HOSTS | LOOPBACK_HOSTS:
        raise RunError(
            f"{source}: {where} = {str(url)[:120]!r} is neither the OpenAlex API nor this "
            "machine; rebuilding the graph would send your key there (set it to null in a "
            "copy of the run, or retrain)"
        )
