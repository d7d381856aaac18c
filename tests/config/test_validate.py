"""The config schema: every composed recipe validates, bad values and misspelt keys are
refused with the key, the value and the allowed range."""

from __future__ import annotations

import pytest
from omegaconf import open_dict

from heco_pyg.cli.command import help_text, known_keys, preflight
from heco_pyg.config.schema import DATA, LOSS, MODEL, PREPARATION, TRAINER
from heco_pyg.config.validate import validate_config
from heco_pyg.core.errors import ConfigError
from tests.conftest import CONFIG_DIR, compose_config

EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))
DATA_CHOICES = sorted(p.stem for p in (CONFIG_DIR / "data").glob("*.yaml"))


@pytest.mark.parametrize("overrides", [[f"experiment={e}"] for e in EXPERIMENTS]
                         + [[f"data={d}"] for d in DATA_CHOICES]
                         + [["model=heco_mean", "trainer=ddp"], ["trainer=official"]])  # fmt: skip
def test_every_recipe_validates(overrides):
    validate_config(compose_config(overrides), "train")


@pytest.mark.parametrize("command", ["prepare", "evaluate", "recommend"])
def test_every_command_config_validates(command):
    overrides = {"evaluate": ["run_dir=x"], "recommend": ["run_dir=x"]}.get(command, [])
    validate_config(compose_config(overrides, name=command), command)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.batch_size=0", r"trainer\.batch_size=0: expected int >= 2 or null"),
        ("trainer.lr=1e6", r"trainer\.lr=1000000\.0: expected float in \(0, 10\]"),
        ("trainer.lr=1e38", r"trainer\.lr=1e\+38"),
        ("trainer.optimizer=sgd", r"trainer\.optimizer='sgd': expected adamw\|adam"),
        ("data.preparation.metapath_topk=0", r"metapath_topk=0: expected int >= 1"),
        ("data.preparation.max_concept_df=-1", r"max_concept_df=-1"),
        ("data.preparation.sample_sizes.author=0", r"sample_sizes\.author=0"),
        ("model.hidden_channels=0", r"hidden_channels=0"),
        ("protocol.per_class=0", r"protocol\.per_class=0"),
        ("loss.tau=0", r"loss\.tau=0"),
        ("trainer.max_epochs=true", r"trainer\.max_epochs=True"),
        (
            "+trainer.epochs=5",
            r"trainer\.epochs: unknown key; did you mean `trainer\.max_epochs`\?",
        ),
    ],
)
def test_bad_values_name_the_key_value_and_range(override, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(compose_config([override]), "train")


def test_a_misspelt_override_is_refused_before_hydra_with_the_suggestion():
    with pytest.raises(ConfigError, match=r"did you mean `trainer\.max_epochs`"):
        preflight(["trainer.epochs=5"], "train")
    with pytest.raises(ConfigError, match=r"did you mean `loss\.tau`"):
        preflight(["loss.taus=0.5"], "train")
    kept = ["model.sparse_embeddings=true", "data.query.filter.x=1", "+trainer.x=1", "-m"]
    assert preflight(kept, "train") == kept


def test_every_yaml_key_of_the_checked_groups_has_a_description():
    keys, _ = known_keys("train")
    described = {f"trainer.{k}" for k in TRAINER} | {f"model.{k}" for k in MODEL}
    described |= {f"loss.{k}" for k in LOSS} | {f"data.preparation.{k}" for k in PREPARATION}
    described |= {f"data.{k}" for table in DATA.values() for k in table}
    for key in keys:
        group = key.split(".")[0]
        if group in ("trainer", "model", "loss") and key.count(".") == 1:
            assert key in described, key


def test_help_lists_a_description_for_every_key():
    text = help_text("train")
    cfg = compose_config(["data=synthetic"])
    for group in ("trainer", "model", "loss", "data"):
        for key in cfg[group]:
            if key in ("_target_", "preparation"):
                continue
            line = next((line for line in text.splitlines() if f" {group}.{key} " in line), "")
            assert len(line.split()) >= 3, f"{group}.{key} has no description in --help"


def test_readme_keys_exist():
    """Keys README's table lists are in the composed configs (model.sparse_embeddings was not)."""
    cfg = compose_config(["data=synthetic"])
    with open_dict(cfg):
        for key in ("model.sparse_embeddings", "model.metapath_sample_size", "trainer.threads",
                    "model.dense_metapath_density", "data.preparation.max_hub_degree"):  # fmt: skip
            group, name = key.split(".", 1)
            assert name.split(".")[-1] in (
                cfg[group] if "." not in name else cfg[group][name.split(".")[0]]
            ), key
