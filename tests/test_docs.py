"""README.md and docs/*.md name only paths and config keys that exist: every repository
path they mention, every dotted config key, and every ``key=value`` of a command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import CONFIG_DIR, ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GROUPS = {p.name for p in CONFIG_DIR.iterdir() if p.is_dir()} - {"hydra"}
COMMANDS = {"train": "train", "prepare": "prepare", "evaluate": "evaluate",
            "recommend": "recommend"}  # fmt: skip
PATH = re.compile(r"(?<![\w/.$-])((?:heco_pyg|scripts|tests|docs)/[\w./-]*[\w/])")
DOTTED = re.compile(r"(?<![\w.+~/$:{-])((?:" + "|".join(GROUPS) + r")\.[a-z_]\w*(?:\.[a-z_]\w*)*)")
FILE_SUFFIXES = (".py", ".png", ".yaml", ".md", ".csv", ".json", ".npy", ".log", ".pt")
COMMAND = re.compile(r"python -m heco_pyg\.(\w+)([^\n`]*)")


def code_text(path: Path) -> str:
    """The inline code spans and fenced code blocks of a markdown file."""
    text = path.read_text()
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return "\n".join(blocks + spans)


def flatten(mapping: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in (mapping or {}).items():
        if key == "defaults":
            continue
        name = f"{prefix}{key}"
        keys.add(name)
        if isinstance(value, dict):
            keys |= flatten(value, name + ".")
    return keys


def config_keys() -> set[str]:
    """Every key any config file defines, as ``group.key.sub`` (and top-level keys)."""
    keys: set[str] = set()
    for path in CONFIG_DIR.rglob("*.yaml"):
        loaded = yaml.safe_load(path.read_text()) or {}
        group = path.parent.relative_to(CONFIG_DIR).parts
        if path.read_text().startswith("# @package _global_") or not group:
            keys |= flatten(loaded)
        elif group[0] != "hydra":
            keys |= flatten(loaded, f"{group[0]}.")
    return keys


# Dotted names the docs use on purpose that are not config keys: attributes and methods of
# the graph object (``data.positive_index``), the misspelt key of the did-you-mean example,
# and the key the docs say is refused (the OpenAlex key never goes into a config).
NOT_CONFIG_KEYS = {"data.positive_index", "data.citation_index", "data.to_homogeneous",
                   "trainer.epochs", "data.api_key"}  # fmt: skip


def known(key: str, keys: set[str]) -> bool:
    return key in keys or key in NOT_CONFIG_KEYS or key.split(".", 1)[0] in ("hydra",)


def mentions() -> list[tuple[str, str]]:
    return [(path.name, code_text(path)) for path in DOCS]


@pytest.mark.parametrize("name,text", mentions(), ids=[p.name for p in DOCS])
def test_every_path_in_the_docs_exists(name, text):
    found = {p for p in PATH.findall(text) if not p.endswith("_")}  # heco_<name>: a pattern
    missing = sorted(p for p in found if not (ROOT / p).exists() and "*" not in p)
    assert missing == [], f"{name} names paths that do not exist: {missing}"


@pytest.mark.parametrize("name,text", mentions(), ids=[p.name for p in DOCS])
def test_every_config_key_in_the_docs_exists(name, text):
    keys = config_keys()
    found = {k for k in DOTTED.findall(text) if not k.endswith(FILE_SUFFIXES)}  # loss.py
    missing = sorted(k for k in found if not known(k, keys))
    assert missing == [], f"{name} names config keys that no config defines: {missing}"


@pytest.mark.parametrize("name,text", mentions(), ids=[p.name for p in DOCS])
def test_every_command_line_override_exists(name, text):
    keys, bad = config_keys(), []
    for command, arguments in COMMAND.findall(text):
        for token in arguments.split():
            key, equals, value = token.strip("'\"").partition("=")
            if not equals or key.startswith(("+", "~", "-")) or "<" in token or "..." in value:
                continue
            if key in GROUPS and re.fullmatch(r"[\w]+", value):
                if not (CONFIG_DIR / key / f"{value}.yaml").is_file():
                    bad.append(token)
            elif not known(key, keys):
                bad.append(f"{command}: {token}")
    assert bad == [], f"{name}: overrides that no config accepts: {bad}"


def test_the_check_can_fail():
    assert not known("trainer.epoch_count", config_keys())
    assert known("trainer.max_epochs", config_keys())
    assert PATH.findall("see heco_pyg/nope.py") == ["heco_pyg/nope.py"]
