"""Figures that tell the truth: noise-wide colour scales, real axes for scattered sweeps,
mean ± std over seeds, the best cell and epoch marked."""

import numpy as np
import pandas as pd
import pytest

from heco_pyg.runs.plots import (
    colour_range,
    heatmap_caption,
    is_grid,
    plot_heatmap,
    plot_history,
    plot_sweep,
    smooth,
)
from heco_pyg.runs.sweep import seed_cells


def grid_summary() -> pd.DataFrame:
    rows = []
    for tau in (0.3, 0.8):
        for lam in (0.2, 0.7):
            for seed in (0, 1, 2):
                score = 0.89 + 0.0004 * (tau > 0.5) + 0.005 * np.sin(seed + 3 * tau + lam)
                rows.append({"loss.tau": tau, "loss.lam": lam, "seed": seed, "f1": score})
    return pd.DataFrame(rows)


def test_seed_cells_group_the_runs_that_differ_only_in_seed():
    cells = seed_cells(grid_summary(), ["loss.tau", "loss.lam"], "f1")
    assert len(cells) == 4 and (cells["seeds"] == 3).all()
    assert (cells["std"] > 0).all() and cells["noise"].equals(cells["std"])


def test_colour_range_is_never_narrower_than_the_noise():
    cells = pd.DataFrame({"mean": [0.8924, 0.8932], "std": [0.005, 0.009], "seeds": [3, 3]})
    low, high = colour_range(cells, maximise=True)
    assert high == 0.8932 and high - low == pytest.approx(2 * 0.009)  # not the means' 0.0008
    low, high = colour_range(cells, maximise=False)
    assert low == 0.8924 and high - low == pytest.approx(2 * 0.009)


def test_is_grid_tells_a_grid_from_scattered_samples():
    cells = seed_cells(grid_summary(), ["loss.tau", "loss.lam"], "f1")
    assert is_grid(cells, "loss.tau", "loss.lam")
    scattered = pd.DataFrame({"lr": [1e-4, 3e-3, 2e-2], "tau": [0.2, 0.5, 0.9]})
    assert not is_grid(scattered, "lr", "tau")


def test_heatmap_and_scatter_are_drawn(tmp_path):
    cells = seed_cells(grid_summary(), ["loss.tau", "loss.lam"], "f1")
    assert plot_heatmap(cells, "f1", ["loss.tau", "loss.lam"], tmp_path / "grid.png")
    optuna = pd.DataFrame({"lr": [1e-4, 3e-3, 2e-2], "tau": [0.2, 0.5, 0.9], "f1": [0.8, 0.9, 0.7]})
    cells = seed_cells(optuna, ["lr", "tau"], "f1")
    assert plot_heatmap(cells, "f1", ["lr", "tau"], tmp_path / "scatter.png")
    assert not plot_heatmap(cells.iloc[:0], "f1", ["lr"], tmp_path / "none.png")
    assert (tmp_path / "grid.png").stat().st_size > 0 and (tmp_path / "scatter.png").exists()


def test_loss_and_attention_plots(tmp_path):
    epochs = np.arange(1, 41)
    history = pd.DataFrame({
        "epoch": epochs, "loss": 9 - np.log(epochs), "loss_metapath": 5 - np.log(epochs),
        "loss_schema": 4 - 0.5 * np.log(epochs), "attention/type/author": 0.5 + 0.01 * np.sin(epochs),
        "attention/type/concept": 0.5 - 0.01 * np.sin(epochs),
    })  # fmt: skip
    plot_history(history, tmp_path / "loss.png", tmp_path / "attention.png", title="run")
    assert (tmp_path / "loss.png").stat().st_size > 0 and (tmp_path / "attention.png").exists()
    smoothed = smooth(history["attention/type/author"], window=5)
    assert smoothed.std() < history["attention/type/author"].std()


def test_attention_plot_states_its_smoothing_window(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    titles = []
    monkeypatch.setattr(
        plt.Figure,
        "savefig",
        lambda figure, path, **kwargs: titles.append(figure._suptitle.get_text()),
    )
    history = pd.DataFrame({"epoch": np.arange(1, 101), "loss": np.linspace(9, 8, 100),
                            "attention/semantic/PAP": np.linspace(0.4, 0.6, 100)})  # fmt: skip
    plot_history(history, tmp_path / "loss.png", tmp_path / "attention.png", title="synthetic")
    assert titles == [
        "HeCo training loss: synthetic",
        "synthetic: faint: each epoch; solid: centred rolling mean over 5 epochs",
    ]


def test_heatmap_caption_says_what_the_cells_show():
    three = seed_cells(grid_summary(), ["loss.tau", "loss.lam"], "f1")
    assert heatmap_caption(three) == "mean ± std over 3 seeds"
    one = grid_summary().query("seed == 0").assign(f1_std=0.009)
    assert heatmap_caption(seed_cells(one, ["loss.tau", "loss.lam"], "f1")) == (
        "one run per cell, ± std over the probe's splits")  # fmt: skip
    bare = seed_cells(grid_summary().query("seed == 0"), ["loss.tau", "loss.lam"], "f1")
    assert heatmap_caption(bare) == "one run per cell"


def test_runs_figure_scales_incomparable_losses_and_says_so():
    epochs = np.arange(1, 11)
    histories = {f"tau={tau}": pd.DataFrame({"epoch": epochs, "loss": tau * 10 - np.log(epochs)})
                 for tau in (0.3, 0.8)}  # fmt: skip
    figure = plot_sweep(histories, ["loss.tau"])
    axis = figure.axes[0]
    assert "not comparable" in axis.get_title()
    assert [line.get_ydata()[0] for line in axis.get_lines()] == [1.0, 1.0]  # own range
    assert len(figure.legends) == 1 and not axis.get_legend()  # one legend, off the curves
    raw = plot_sweep(histories).axes[0]
    assert raw.get_title() == "loss" and raw.get_lines()[1].get_ydata()[0] == pytest.approx(8)
