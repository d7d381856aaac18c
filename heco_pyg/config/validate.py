"""Checks a composed config against :mod:`heco_pyg.config.schema` before any work.

A bad value stops the command with one line naming the key, the value and what is
allowed (``trainer.lr=1000000.0: expected float in (0, 10] (learning rate)``); an unknown
key in a checked group gets its nearest known name ("did you mean ``trainer.max_epochs``?").
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from heco_pyg.config.schema import COMMANDS, PREPARATION, STRICT, Setting, data_settings
from heco_pyg.core.errors import ConfigError


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """``; did you mean `x`?`` for the closest known key (the upper bound ``max_*`` first
    when a ``min_*`` ties with it: ``epochs`` means the budget), or an empty string."""
    matches = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
    if not matches:
        return ""
    best = difflib.SequenceMatcher(None, key, matches[0]).ratio()
    tied = [m for m in matches if difflib.SequenceMatcher(None, key, m).ratio() == best]
    tied.sort(key=lambda m: (not m.rsplit(".", 1)[-1].startswith("max_"), m))
    return f"; did you mean `{tied[0]}`?"


def _is_interpolation(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def check_value(key: str, value: Any, setting: Setting) -> None:
    """Raises :class:`ConfigError` when ``value`` is not of ``setting``'s kind and range."""
    if value is None:
        if setting.null:
            return
        raise ConfigError(f"{key}=null: expected {setting.allowed()} ({setting.help})")
    if _is_interpolation(value) or setting.kind is object or value in setting.words:
        return
    kind = setting.kind
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
    elif kind is dict:
        ok = isinstance(value, Mapping)
    elif kind is list:
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, kind)
    if ok and setting.choices:
        ok = value in setting.choices
    if ok and setting.low is not None:
        ok = value > setting.low if setting.low_open else value >= setting.low
    if ok and setting.high is not None:
        ok = value <= setting.high
    if not ok:
        raise ConfigError(f"{key}={value!r}: expected {setting.allowed()} ({setting.help})")


def check_group(prefix: str, values: Mapping, table: Mapping[str, Setting], strict: bool) -> None:
    """Checks every key of one group; an unknown key is refused when ``strict``."""
    for name, value in values.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        setting = table.get(name)
        if setting is None:
            if strict:
                known = [f"{prefix}.{k}" if prefix else k for k in table]
                raise ConfigError(f"{key}: unknown key{did_you_mean(key, known)}")
            continue
        check_value(key, value, setting)


def _plain(node: Any) -> Any:
    if isinstance(node, DictConfig) or OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=False)
    return node


def validate_config(cfg: DictConfig, command: str = "train") -> None:
    """Checks ``cfg`` (the composed config of ``command``); raises :class:`ConfigError`."""
    top = _plain(cfg)
    check_group("", {k: v for k, v in top.items() if k in COMMANDS.get(command, {})},
                COMMANDS.get(command, {}), strict=False)  # fmt: skip
    for group, table in STRICT.items():
        if isinstance(top.get(group), Mapping):
            check_group(group, top[group], table, strict=True)
    data = top.get("data")
    if isinstance(data, Mapping):
        check_group("data", data, data_settings(data.get("_target_")), strict=True)
        preparation = data.get("preparation")
        if isinstance(preparation, Mapping):
            check_group("data.preparation", preparation, PREPARATION, strict=True)
            sizes = preparation.get("sample_sizes") or {}
            for node_type, size in sizes.items():
                check_value(f"data.preparation.sample_sizes.{node_type}", size,
                            Setting(int, "neighbours sampled per paper", low=1))  # fmt: skip
