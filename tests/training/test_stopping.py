"""Early stopping on a smoothed loss, weight averaging, and the stable recipes' configs."""

import math

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import open_dict
from torch_geometric import seed_everything

from heco_pyg.cli.restore import load_trained_model
from heco_pyg.data import build_data
from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.train import train
from heco_pyg.training.embedding import embed
from heco_pyg.training.stopping import EarlyStopping, WeightAverage
from heco_pyg.training.trainer import Trainer
from tests.conftest import TINY_SYNTHETIC, compose_config


def stop_epoch(losses, **settings) -> int | None:
    """The epoch (1-based) at which :class:`EarlyStopping` ends training on ``losses``."""
    stopping = EarlyStopping(**settings)
    for loss in losses:
        stopping.step(loss)
        if stopping.should_stop:
            return stopping.epoch
    return None


def official_stop_epoch(losses, patience: int) -> int | None:
    """The official HeCo rule: stop after ``patience`` epochs without a strictly lower loss."""
    best, stale = math.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        best, stale = (loss, 0) if loss < best else (best, stale + 1)
        if stale >= patience:
            return epoch
    return None


def noisy_plateau(descent: int = 100, plateau: int = 2000, seed: int = 0) -> list[float]:
    """A loss falling from 8 to 6 over ``descent`` epochs, then flat, creeping down by 1e-6
    per epoch (the "improvements in the 4th decimal"), with epoch noise of 0.01."""
    rng = np.random.default_rng(seed)
    curve = np.concatenate([np.linspace(8.0, 6.0, descent), 6.0 - 1e-6 * np.arange(1, plateau + 1)])
    return list(curve + rng.normal(0, 0.01, curve.size))


def test_defaults_are_the_official_rule():
    for seed in range(5):
        losses = noisy_plateau(seed=seed)
        for patience in (5, 30):
            assert stop_epoch(losses, patience=patience) == official_stop_epoch(losses, patience)


def test_smoothed_relative_stopping_ends_a_plateau_within_the_window():
    settings = dict(patience=20, min_delta=1e-3, smoothing=10)
    for seed in range(5):
        epoch = stop_epoch(noisy_plateau(seed=seed), **settings)
        # The plateau starts at epoch 100; the smoothed loss reaches it a window later,
        # then `patience` epochs without a 0.1 % improvement end the run (slack: a window).
        assert epoch is not None and 100 + 20 <= epoch <= 100 + 10 + 20 + 20


def test_strict_improvement_keeps_running_on_a_creeping_plateau():
    # No noise: every epoch is 1e-6 lower, so the official rule never stops ...
    flat = [6.0 - 1e-6 * i for i in range(1000)]
    assert stop_epoch(flat, patience=40) is None
    # ... while a relative min_delta sees the plateau.
    assert stop_epoch(flat, patience=40, min_delta=1e-4) == 41


def test_never_stops_before_min_epochs():
    flat = [5.0] * 200
    assert stop_epoch(flat, patience=5) == 6
    assert stop_epoch(flat, patience=5, min_epochs=150) == 150
    assert stop_epoch(flat, patience=5, smoothing=10, min_delta=1e-2, min_epochs=150) == 150


def test_min_delta_is_relative():
    # One drop of 0.05 %, then flat: below a 0.1 % threshold, above 0.01 %, at any scale.
    for scale in (1.0, 1000.0):
        losses = [scale] + [scale * (1 - 5e-4)] * 100
        assert stop_epoch(losses, patience=10, min_delta=1e-3) == 11
        assert stop_epoch(losses, patience=10, min_delta=1e-4) == 12


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        EarlyStopping(patience=5, smoothing=0)
    with pytest.raises(ValueError):
        EarlyStopping(patience=5, min_delta=-0.1)
    with pytest.raises(ValueError):
        WeightAverage(1.0)


def test_weight_average_is_an_exponential_moving_average():
    model = torch.nn.Linear(2, 1)
    average = WeightAverage(0.75)
    for value in (1.0, 2.0, 3.0):
        torch.nn.init.constant_(model.weight, value)
        average.update(model)
    # Starts from the first weights: 1 -> 0.75 + 0.25 * 2 -> 0.75 * 1.25 + 0.25 * 3.
    assert torch.allclose(average.state["weight"], torch.full((1, 2), 0.75 * 1.25 + 0.75))


def tiny_problem():
    cfg = compose_config([*TINY_SYNTHETIC, "logger=none"])
    seed_everything(0)
    data = build_data(cfg.data)
    model = instantiate(cfg.model, **model_arguments(data))
    inputs = model.prepare(**model_inputs(data))
    positives = positive_index(data)
    return model, instantiate(cfg.loss), inputs, positives


def test_the_averaged_model_is_returned_and_checkpointed(tmp_path):
    model, loss_fn, inputs, positives = tiny_problem()
    raw_states = []
    run = RunDir(tmp_path)
    trainer = Trainer(lr=0.01, max_epochs=5, patience=100, ema_decay=0.5, device="cpu",
                      progress=False, checkpoints=run)  # fmt: skip
    trainer.fit(model, loss_fn, inputs, positives,
                on_epoch=lambda *_: raw_states.append({k: v.clone() for k, v in
                                                       model.state_dict().items()}))  # fmt: skip
    # The EMA of the per-epoch weights, up to the epoch of the best loss.
    expected = dict(raw_states[0])
    for state in raw_states[1 : trainer.best_epoch]:
        expected = {k: 0.5 * expected[k] + 0.5 * v for k, v in state.items()}
    checkpoint = torch.load(run.checkpoint, weights_only=True)
    assert checkpoint["epoch"] == trainer.best_epoch
    for key, value in expected.items():
        assert torch.allclose(checkpoint["model"][key], value, atol=1e-6), key
        assert torch.allclose(model.state_dict()[key], value, atol=1e-6), key
    differs = [not torch.equal(model.state_dict()[k], raw_states[-1][k]) for k in expected]
    assert any(differs)  # not the raw last weights


def test_train_embeds_the_averaged_checkpoint(tiny_config, tmp_path):
    with open_dict(tiny_config):
        tiny_config.trainer.ema_decay = 0.5
        tiny_config.trainer.smoothing = 2
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    train(tiny_config, run_dir)
    written = RunDir(run_dir).embeddings("semantic")[0].numpy()
    model, _, inputs = load_trained_model(run_dir, tiny_config)
    from_checkpoint = embed(model, inputs)[1]
    normalised = torch.nn.functional.normalize(from_checkpoint, dim=1).numpy()
    assert np.allclose(written, normalised, atol=1e-5)


@pytest.mark.parametrize("dataset", ["acm", "dblp", "aminer", "freebase"])
def test_stable_recipe_composes(dataset):
    official = compose_config([f"experiment=heco_{dataset}"])
    stable = compose_config([f"experiment=heco_{dataset}_stable"])
    assert stable.data.name == dataset
    # The official hyper-parameters, plus the stabiliser in the trainer and unit-length
    # rows for the paper's protocol (everything else of the protocol is the official one).
    for group in ("model", "loss", "data"):
        assert stable[group] == official[group], group
    assert official.protocol.normalize is False and stable.protocol.normalize is True
    for key in set(official.protocol) - {"normalize"}:
        assert stable.protocol[key] == official.protocol[key], key
    stabiliser = {"ema_decay", "min_delta", "smoothing", "min_epochs", "patience", "max_epochs"}
    for key in set(official.trainer) - stabiliser:
        assert stable.trainer[key] == official.trainer[key], key
    assert stable.trainer.ema_decay is not None
    trainer = instantiate(stable.trainer, device="cpu")
    assert trainer.ema_decay == stable.trainer.ema_decay
