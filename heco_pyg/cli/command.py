"""The commands' one front door: the entry point around ``hydra.main`` and the one policy
that turns errors into exit statuses (README, "Code map").

:func:`command` turns a command's ``main(cfg)`` into its entry point, which

1. answers ``--help`` from :mod:`heco_pyg.config.schema` (every group and key with its
   range and a one-line description) and ``--info`` (the experiments, one line each);
2. reads the command line before Hydra does: ``data.api_key=...`` is moved to the
   environment (``OPENALEX_API_KEY``) so that Hydra never saves or prints it, any other
   secret-looking key is refused, and a key no config has is refused with the nearest
   known name ("did you mean ``trainer.max_epochs``?");
3. inside the job: adds the log redaction to the handlers, redacts the saved
   ``.hydra/*.yaml``, validates the composed config, and runs ``main`` inside
   :func:`command_errors`;
4. prints a config error (:class:`~heco_pyg.core.errors.ConfigError`, a missing required
   value, a bad value found while checking the config) as one redacted line on stderr and
   exits with status 2; ``HYDRA_FULL_ERROR=1`` shows the whole traceback instead.

:func:`command_errors` is the rest of the policy, for the commands without Hydra too
(``report``): input the user can fix (:class:`~heco_pyg.core.errors.UserError`: bad data, a
run folder that refuses) is one ``error:`` line and exit 1, a stop by a signal its message
and 128 + the signal.
"""

from __future__ import annotations

import functools
import gc
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from heco_pyg.config.extras import require_extra
from heco_pyg.config.schema import COMMANDS, GROUPS, all_keys
from heco_pyg.config.validate import did_you_mean, validate_config
from heco_pyg.core.errors import ConfigError, DataError, Interrupted, UserError
from heco_pyg.core.secrets import (
    API_KEY_ENV,
    install_log_redaction,
    is_secret_key,
    redact,
    register_secret,
)

CONFIG_DIR = Path(__file__).resolve().parent.parent / "conf"
# Exit status 2 (a UserError inside main is exit 1, :func:`command_errors`).
CONFIG_ERRORS = (DataError, ConfigError, MissingMandatoryValue, FileNotFoundError)
# Hydra's own flags (its argument parser; tests/cli/test_command.py compares): those whose
# next argument is their value, --info's optional value, and shell completion, whose
# ``install=bash``/``query=...`` are its commands, not overrides.
HYDRA_VALUE_FLAGS = frozenset({"--cfg", "-c", "--package", "-p", "--config-path", "-cp",
                               "--config-name", "-cn", "--config-dir", "-cd",
                               "--experimental-rerun"})  # fmt: skip
HYDRA_INFO_FLAGS = ("--info", "-i")
HYDRA_INFO = ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath")
SHELL_COMPLETION = ("--shell-completion", "-sc")
# The config groups each command composes (its --help lists them).
COMMAND_GROUPS = {
    "train": ("data", "model", "loss", "trainer", "logger", "protocol", "experiment",
              "hparams_search", "paths", "hydra"),
    "prepare": ("data", "paths", "hydra"),
    "evaluate": ("task", "paths", "hydra"),
    "recommend": ("paths", "hydra"),
}  # fmt: skip
HELP_GROUPS = {"train": ("trainer", "model", "loss", "logger", "protocol", "data"),
               "prepare": ("data",), "evaluate": (), "recommend": ()}  # fmt: skip


def _choices(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def _yaml_keys(group: str) -> dict[str, bool]:
    """``{key path: holds a mapping}`` for every key any file of a group sets."""
    keys: dict[str, bool] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key != "defaults":
                    path = f"{prefix}.{key}" if prefix else str(key)
                    keys[path] = keys.get(path, False) or isinstance(value, dict)
                    walk(path, value)

    for file in (CONFIG_DIR / group).glob("*.yaml"):
        content = OmegaConf.to_container(OmegaConf.load(file))
        if "@package _global_" in file.read_text():
            walk("", content)
        else:
            walk(group, content)
    return keys


def known_keys(command: str) -> tuple[set[str], set[str]]:
    """``(keys, open keys)`` an override may set for ``command`` (from the schema and the
    YAML files); any sub-key of an open key (a mapping such as ``data.query``) is allowed."""
    schema = all_keys(command)
    groups = set(COMMAND_GROUPS.get(command, ()))
    keys = set(schema) | groups
    open_keys = {k for k, s in schema.items() if s.kind in (dict, object)}
    for group in groups - {"hydra"}:
        found = _yaml_keys(group)
        keys |= set(found)
        open_keys |= {k for k, is_mapping in found.items() if is_mapping and k not in groups}
    top = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / f"{command}.yaml"))
    keys |= {k for k in top if k != "defaults"}
    open_keys |= {k for k, v in top.items() if isinstance(v, dict) and k not in schema}
    return keys, open_keys


def help_text(command: str) -> str:
    """``--help``: the groups with their choices and every key with range and description."""
    lines = [f"python -m heco_pyg.{command} [GROUP=CHOICE ...] [KEY=VALUE ...]", "", "Groups:"]
    for group in COMMAND_GROUPS.get(command, ()):
        choices = ", ".join(_choices(group))
        lines.append(
            f"  {group:<15} {GROUPS.get(group, '')}" + (f" [{choices}]" if choices else "")
        )
    lines += ["", "Keys:"]
    keys = all_keys(command)
    shown = [
        k
        for k in keys
        if k.split(".")[0] in HELP_GROUPS.get(command, ()) or k in COMMANDS.get(command, {})
    ]
    for key in shown:
        if key.endswith("._target_"):
            continue
        setting = keys[key]
        lines.append(f"  {key:<34} {setting.allowed():<24} {setting.help}")
    lines += [
        "",
        "The OpenAlex key goes in the environment (OPENALEX_API_KEY) or a file "
        "(data.api_key_file=FILE), never in a config.",
        "--info lists the experiments; --cfg job prints the composed config; "
        "--hydra-help shows Hydra's own flags; -m runs a sweep.",
    ]
    return "\n".join(lines)


def experiments_text() -> str:
    """``--info``: each experiment with its description, whole: the leading comment lines
    up to its example command, wrapped under the name."""
    files = sorted((CONFIG_DIR / "experiment").glob("*.yaml"))
    width = max(len(f.stem) for f in files) + 2
    lines = ["Experiments (python -m heco_pyg.train experiment=NAME):"]
    for file in files:
        words = []
        for line in file.read_text().splitlines():
            if not line.startswith("#") or "python -m" in line:
                break
            if "@package" not in line:
                words.append(line.lstrip("# ").strip())
        text = " ".join(words).rstrip(":")
        lines.append(textwrap.fill(text, 100, initial_indent=f"  {file.stem:<{width}}",
                                   subsequent_indent=" " * (width + 2)))  # fmt: skip
    return "\n".join(lines)


def preflight(arguments: list[str], command: str) -> list[str]:
    """The command line Hydra should see: secrets moved out, unknown keys refused. Hydra's
    own flags and their values pass through; under shell completion, everything."""
    if any(argument in SHELL_COMPLETION for argument in arguments):
        return list(arguments)
    kept, known = [], None
    for position, argument in enumerate(arguments):
        previous = arguments[position - 1] if position else ""
        if previous in HYDRA_VALUE_FLAGS or (
            previous in HYDRA_INFO_FLAGS and argument in HYDRA_INFO
        ):
            kept.append(argument)
            continue
        if argument.startswith("-") or "=" not in argument:
            kept.append(argument)
            continue
        key, value = argument.split("=", 1)
        name = key.lstrip("+~")
        require_extra(name, value)  # index=faiss, hparams_search=optuna: the pip install line
        if is_secret_key(name.rsplit(".", 1)[-1]):
            if name.endswith("api_key"):
                register_secret(value)
                os.environ[API_KEY_ENV] = value  # read by heco_pyg.core.secrets.read_api_key
                continue
            raise ConfigError(
                f"{name} looks like a secret and is not accepted on the command line (Hydra "
                "would save it); use an environment variable or a file"
            )
        if name in ("hydra.run.dir", "hydra.sweep.dir") and Path(value).exists() \
                and not Path(value).is_dir():  # fmt: skip
            raise ConfigError(f"{name}={value}: exists and is not a folder; choose a folder")
        if key.startswith(("+", "~")) or name.startswith("hydra") or "/" in name:
            kept.append(argument)
            continue
        if name in COMMAND_GROUPS.get(command, ()):  # a group's choice: Hydra checks it
            kept.append(argument)
            continue
        known = known if known is not None else known_keys(command)
        keys, open_keys = known
        if name not in keys and not any(name.startswith(f"{k}.") for k in open_keys):
            raise ConfigError(f"{name}: no such key{did_you_mean(name, keys)} "
                              f"(python -m heco_pyg.{command} --help lists them)")  # fmt: skip
        kept.append(argument)
    return kept


def _redact_saved_configs() -> None:
    try:
        output = Path(HydraConfig.get().runtime.output_dir)
        subdir = HydraConfig.get().output_subdir
    except ValueError:  # not inside a Hydra job
        return
    if subdir is None:
        return
    for file in (output / subdir).glob("*.yaml"):
        text = file.read_text()
        if redact(text) != text:
            file.write_text(redact(text))


def _fail(error: BaseException) -> None:
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise error
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    print(f"error: {redact(message)}", file=sys.stderr)
    sys.exit(2)


@contextmanager
def command_errors() -> Iterator[None]:
    """``with command_errors():`` around a command's body: a :class:`UserError`
    (:class:`DataError`, :class:`RunError`) prints ``error: <message>`` and exits 1 (also
    when Hydra's ``instantiate`` wrapped it; a wrapped :class:`ConfigError` goes on to exit 2),
    :class:`Interrupted` prints its message and exits 128 + the signal (a Ctrl-C anywhere
    else: 130), without a traceback."""
    try:
        try:
            yield
        except InstantiationException as error:  # what a ``_target_``'s constructor raised
            if isinstance(error.__cause__, (UserError, ConfigError)):
                raise error.__cause__ from None  # one line, by the rules below and in job()
            raise
    except Interrupted as interrupted:
        sys.stdout.flush()
        print(str(interrupted), file=sys.stderr, flush=True)
        raise SystemExit(interrupted.exit_code) from None
    except KeyboardInterrupt:  # outside the training loop (e.g. reading the data)
        sys.stdout.flush()
        print(str(Interrupted(signal.SIGINT)), file=sys.stderr, flush=True)
        raise SystemExit(Interrupted(signal.SIGINT).exit_code) from None
    except UserError as error:
        sys.stdout.flush()
        print(f"error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def freeze_imports() -> None:
    """Moves every object alive now (torch's, PyG's, wandb's modules: ~400k objects) out
    of the cyclic garbage collector's sight: they live as long as the command, and neither
    the collections during the run nor the interpreter's at exit then walk them again
    (~1.4 CPU-seconds of the default ``train``; BENCHMARKS.md, "CPU time of the default
    run, by phase"). Objects made later are collected as usual."""
    gc.freeze()


def answer_early(command: str, arguments: list[str]) -> bool:
    """``--help``/``-h`` (every group and key) and a bare ``--info`` (the experiments):
    printed, and True, before the command's own module is needed. Hydra's ``--info X``
    (``all``, ``config``, ``defaults``, ...), ``-i X`` and ``--hydra-help`` go to Hydra."""
    if "--help" in arguments or "-h" in arguments:
        print(help_text(command))
        return True
    for position, argument in enumerate(arguments):
        if argument in HYDRA_INFO_FLAGS and arguments[position + 1 : position + 2] not in [
            [value] for value in HYDRA_INFO
        ]:
            print(experiments_text())
            return True
    return False


def command(config_name: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[], Any]]:
    """Decorates a command's ``main(cfg)``; see the module docstring."""

    def decorate(main: Callable[[DictConfig], Any]) -> Callable[[], Any]:
        @functools.wraps(main)
        def job(cfg: DictConfig) -> Any:
            install_log_redaction()
            _redact_saved_configs()
            try:
                validate_config(cfg, config_name)
                with command_errors():
                    return main(cfg)
            except CONFIG_ERRORS as error:
                _fail(error)

        entry_point = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR),
                                 config_name=config_name)(job)  # fmt: skip

        @functools.wraps(main)
        def run() -> Any:
            freeze_imports()
            arguments = sys.argv[1:]
            if answer_early(config_name, arguments):
                return None
            try:
                sys.argv[1:] = preflight(arguments, config_name)
            except ConfigError as error:
                _fail(error)
            return entry_point()

        run.job = job  # the undecorated job, for callers that compose the config themselves
        return run

    return decorate
