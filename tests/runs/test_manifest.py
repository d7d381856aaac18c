"""The manifest's pieces: config differences and hash, the resume command."""

from heco_pyg.runs.manifest import config_differences, config_hash, git_commit, train_command


def test_config_differences_name_the_keys_but_the_resumable_ones():
    old = {"seed": 0, "trainer": {"lr": 0.001, "max_epochs": 3, "resume": False}, "tags": [1]}
    new = {"seed": 7, "trainer": {"lr": 0.001, "max_epochs": 9, "resume": True}, "extra": "x"}
    assert config_differences(old, new) == [
        'extra: (absent) -> "x"', "seed: 0 -> 7", "tags: [1] -> (absent)"]  # fmt: skip
    assert config_differences(old, old) == []
    assert config_hash(old) == config_hash(dict(reversed(list(old.items()))))  # order-free
    assert config_hash(old) != config_hash(new)


def test_the_resume_command_keeps_the_overrides_and_quotes_them():
    overrides = ["loss.tau=0.5", "data.path=/my data", "trainer.resume=false", "overwrite=true"]
    assert train_command(overrides, "/runs/r", resume=True) == (
        "python -m heco_pyg.train loss.tau=0.5 'data.path=/my data' hydra.run.dir=/runs/r "
        "trainer.resume=true"
    )
    assert train_command([], "/r", resume=True, world_size=4).startswith(
        "torchrun --nproc-per-node=4 -m heco_pyg.train hydra.run.dir=/r"
    )


def test_git_commit_is_a_commit_or_unknown():
    commit = git_commit()
    assert commit is None or len(commit.removesuffix("+dirty")) == 40
