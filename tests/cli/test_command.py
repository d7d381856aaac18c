"""The commands' entry point end to end (subprocesses): the OpenAlex key never reaches
stdout, stderr, the run folder, the cache or the wandb run file, whatever the API does;
user errors are one line and a non-zero exit; HYDRA_FULL_ERROR=1 keeps the traceback."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from email.utils import formatdate
from pathlib import Path

import pytest

from tests.conftest import ROOT, TINY_SYNTHETIC
from tests.helpers.fake_http import JsonHandler, start_server
from tests.helpers.openalex_factory import page, work

ENV_KEY, LINE_KEY = "ENVSECRET999", "CLISECRET777"
WORKS = [work(i, authors=(f"A{i}", f"A{i + 1}"), references=(i + 1,)) for i in range(1, 61)]


class HostileOpenAlex:
    """``/<mode>/works``: ``ok`` (two pages), ``forbidden`` (403 echoing the request),
    ``slow`` (429 with an HTTP-date Retry-After, then ok), ``broken`` (a body cut off)."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802
                mode = self.path.split("/")[1]
                count = fake.seen[mode] = fake.seen.get(mode, 0) + 1
                cursor = "c1" if "cursor=c1" in self.path else "*"
                body = page(WORKS[:30] if cursor == "*" else WORKS[30:],
                            "c1" if cursor == "*" else None)  # fmt: skip
                if mode == "forbidden":
                    return self.answer(403, {"error": f"bad key in {self.path}"})
                if mode == "slow" and count == 1:
                    return self.answer(429, {}, {"Retry-After": formatdate(usegmt=True)})
                if mode == "broken":
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(b'{"results": [')
                    return None
                return self.answer(200, body)

        self.server, self.url = start_server(Handler)


@pytest.fixture
def fake_api():
    fake = HostileOpenAlex()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def run(module: str, arguments: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "WANDB_MODE": "offline", "OPENALEX_API_KEY": ENV_KEY,
                   "PYTHONPATH": str(ROOT), **env}  # fmt: skip
    environment.pop("HYDRA_FULL_ERROR", None) if "HYDRA_FULL_ERROR" not in env else None
    return subprocess.run([sys.executable, "-m", module, *arguments], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def hits(result: subprocess.CompletedProcess, *folders: Path) -> list[str]:
    """Where either key appears: the output streams and every file under ``folders``."""
    found = [name for name, text in (("stdout", result.stdout), ("stderr", result.stderr))
             if ENV_KEY in text or LINE_KEY in text]  # fmt: skip
    for folder in folders:
        for file in folder.rglob("*"):
            if file.is_file():
                content = file.read_bytes()
                if ENV_KEY.encode() in content or LINE_KEY.encode() in content:
                    found.append(str(file))
    return found


def openalex(url: str, tmp_path: Path) -> list[str]:
    return ["data=openalex", f"data.api_url={url}", f"paths.data_dir={tmp_path / 'data'}",
            "data.api_retries=2", "data.api_backoff=0", "data.api_timeout=5",
            "data.text_dim=8", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip


@pytest.mark.slow  # eight subprocesses, ~20 s each on a busy 2-core machine
@pytest.mark.parametrize("mode", ["refused", "forbidden", "broken", "slow"])
@pytest.mark.parametrize("on_command_line", [False, True])
def test_prepare_never_shows_the_key(tmp_path, fake_api, mode, on_command_line):
    url = "http://127.0.0.1:9" if mode == "refused" else f"{fake_api.url}/{mode}"
    key = [f"data.api_key={LINE_KEY}"] if on_command_line else []
    result = run("heco_pyg.prepare", [*openalex(url, tmp_path), *key], tmp_path)
    if mode == "slow":
        assert result.returncode == 0, result.stderr
        assert fake_api.seen["slow"] >= 3  # the 429 was retried, then two pages
    else:  # an unreachable or refusing API is bad input, not a bad command line: exit 1
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert hits(result, tmp_path) == []


@pytest.mark.slow
def test_train_with_wandb_never_stores_the_key(tmp_path, fake_api):
    arguments = [*openalex(f"{fake_api.url}/ok", tmp_path), f"data.api_key={LINE_KEY}",
                 "logger=wandb", "logger.mode=offline", *TINY_SYNTHETIC[4:]]  # fmt: skip
    result = run("heco_pyg.train", arguments, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert list((tmp_path / "run").rglob("*.wandb")), "no wandb run file to check"
    assert hits(result, tmp_path) == []


def test_a_user_error_is_one_line_unless_hydra_full_error(tmp_path):
    result = run("heco_pyg.train", ["trainer.epochs=5"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: trainer.epochs: no such key; did you mean `trainer.max_epochs`? "
        "(python -m heco_pyg.train --help lists them)"
    )
    result = run("heco_pyg.train", ["trainer.lr=1e6", f"hydra.run.dir={tmp_path / 'run'}"],
                 tmp_path, HYDRA_FULL_ERROR="1")  # fmt: skip
    assert result.returncode != 0 and "Traceback" in result.stderr and "trainer.lr" in result.stderr


def test_help_and_info(tmp_path):
    result = run("heco_pyg.train", ["--help"], tmp_path)
    assert result.returncode == 0 and "trainer.max_epochs" in result.stdout
    result = run("heco_pyg.train", ["--info"], tmp_path)
    assert result.returncode == 0 and "heco_acm" in result.stdout and "minibatch" in result.stdout


def test_sources_import_from_the_clone():
    assert Path(__import__("heco_pyg").__file__).is_relative_to(ROOT)


def test_the_entry_point_moves_its_imports_out_of_the_collector(monkeypatch, capsys):
    """In-process: ``run()`` freezes what the command imported (cheaper collections during
    the run and at exit), before it reads the command line."""
    from heco_pyg.train import main

    monkeypatch.setattr(sys, "argv", ["heco-train", "--info"])
    gc.unfreeze()
    try:
        main()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert "heco_acm" in capsys.readouterr().out


def test_hydras_own_flags_pass_the_command_line_check():
    from heco_pyg.cli.command import answer_early, preflight

    for arguments in (["-sc", "install=bash"], ["--shell-completion", "query=bash"],
                      ["--cfg", "job", "-p", "trainer", "--resolve"], ["-c", "all"],
                      ["--package", "trainer", "--cfg", "job"], ["--info", "defaults"],
                      ["-i", "searchpath"], ["--info", "defaults-tree", "trainer.lr=0.1"],
                      ["-cn", "train", "-cp", "conf", "-cd", "my_conf"], ["--hydra-help"],
                      ["--experimental-rerun", "config.pickle"], ["-m", "seed=0,1"]):  # fmt: skip
        assert preflight(arguments, "train") == arguments, arguments
        assert not answer_early("train", arguments), arguments
    with pytest.raises(Exception, match="install: no such key"):
        preflight(["install=bash"], "train")  # without -sc it is an override like any other


def test_a_bare_info_lists_the_experiments(capsys):
    from heco_pyg.cli.command import answer_early

    assert answer_early("train", ["-i"]) and answer_early("train", ["--info", "seed=1"])
    assert "heco_acm" in capsys.readouterr().out


def test_the_command_line_check_knows_hydras_flags():
    """Hydra's parser and the lists the check uses agree (a new Hydra flag that takes a
    value would otherwise be read as an override)."""
    from hydra._internal.utils import get_args_parser

    from heco_pyg.cli.command import HYDRA_INFO, HYDRA_INFO_FLAGS, HYDRA_VALUE_FLAGS

    actions = {tuple(a.option_strings): a for a in get_args_parser()._actions}
    takes_value = {o for options, a in actions.items() if a.nargs is None for o in options}
    assert takes_value == HYDRA_VALUE_FLAGS
    (info,) = [a for options, a in actions.items() if "--info" in options]
    assert set(info.option_strings) == set(HYDRA_INFO_FLAGS)
    assert tuple(info.choices) == HYDRA_INFO


def test_shell_completion_installs(tmp_path):
    """``heco-train -sc install=bash`` prints Hydra's bash completion script."""
    script = Path(sys.executable).parent / "heco-train"
    if not script.is_file():
        pytest.skip(f"no console script {script} (pip install -e . makes it)")
    result = subprocess.run([str(script), "-sc", "install=bash"], cwd=tmp_path, text=True,
                            capture_output=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "complete -o nospace -o default -F hydra_bash_completion heco-train" in result.stdout
