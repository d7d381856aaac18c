"""``heco_pyg/conf/experiment/``: each file composes, carries the official release's
hyper-parameters (shared/data/heco/README.md), and holds only what differs from the
defaults."""

from __future__ import annotations

import pytest
import yaml
from omegaconf import OmegaConf

from tests.conftest import CONFIG_DIR, compose_config

# The official HeCo release: hidden, lr, weight decay, patience, tau, feature dropout,
# attention dropout, lambda, seed (shared/data/heco/README.md, "Official hyper-parameters").
OFFICIAL = {
    "acm": (64, 0.0008, 0.0, 5, 0.8, 0.3, 0.5, 0.5, 0),
    "dblp": (64, 0.0008, 0.0, 30, 0.9, 0.4, 0.35, 0.5, 53),
    "aminer": (64, 0.003, 0.0, 40, 0.5, 0.5, 0.5, 0.5, 4),
    "freebase": (64, 0.001, 0.0, 20, 0.5, 0.1, 0.3, 0.5, 32),
}
PROBE_LR = {"acm": 0.05, "dblp": 0.01, "aminer": 0.01, "freebase": 0.01}
EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("dataset", sorted(OFFICIAL))
def test_official_experiments_have_the_release_hyperparameters(dataset):
    cfg = compose_config([f"experiment=heco_{dataset}"])
    composed = (cfg.model.hidden_channels, cfg.trainer.lr, cfg.trainer.weight_decay,
                cfg.trainer.patience, cfg.loss.tau, cfg.model.feature_dropout,
                cfg.model.attention_dropout, cfg.loss.lam, cfg.seed)  # fmt: skip
    assert composed == OFFICIAL[dataset]
    assert cfg.data.name == dataset and cfg.model._target_ == "heco_pyg.nn.HeCo"
    # The release's loop: full batch, Adam, no clipping; the paper's 50-probe protocol.
    assert cfg.trainer.batch_size is None and cfg.trainer.optimizer == "adam"
    assert cfg.trainer.gradient_clip is None
    assert cfg.protocol.repeats == 50 and cfg.protocol.steps == 200
    assert cfg.protocol.lr == PROBE_LR[dataset]


def _leaves(tree: dict, prefix: str = "") -> dict[str, object]:
    leaves = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            leaves |= _leaves(value, f"{prefix}{key}.")
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiments_hold_only_deltas(experiment):
    """Each key an experiment sets differs from what its config groups give without it."""
    spec = yaml.safe_load((CONFIG_DIR / "experiment" / f"{experiment}.yaml").read_text())
    groups = []
    for entry in spec.pop("defaults", []):
        if isinstance(entry, dict):
            ((key, value),) = entry.items()
            if key.startswith("override /"):
                groups.append(f"{key.removeprefix('override /')}={value}")
    base = OmegaConf.to_container(compose_config(groups), resolve=False)
    with_experiment = compose_config([f"experiment={experiment}"])
    for key, value in _leaves(spec).items():
        assert OmegaConf.select(with_experiment, key) == value, key
        assert OmegaConf.select(OmegaConf.create(base), key, default="<absent>") != value, (
            f"experiment={experiment} restates the default {key}={value!r}"
        )
