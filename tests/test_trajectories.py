"""scripts/trajectories.py: stopping rules replayed on recorded runs (the script is not part
of the package), and one short recorded run on ACM's validation splits."""

from __future__ import annotations

import argparse
import json

import pytest

from tests.helpers.scripts import load_script


@pytest.fixture(scope="module")
def trajectories():
    return load_script("trajectories")


def fake_run(losses, peak_epoch, peak=90.0, low=80.0):
    """Snapshots every 10 epochs whose six validation numbers are ``peak`` at
    ``peak_epoch`` and ``low`` elsewhere (raw weights always ``low``)."""
    scores = []
    for epoch in range(10, len(losses) + 1, 10):
        value = peak if epoch == peak_epoch else low
        ema = {rate: [value, value] for rate in ("20", "40", "60")}
        raw = {rate: [low, low] for rate in ("20", "40", "60")}
        scores.append({"epoch": epoch, "ema": ema, "raw": raw})
    return {"losses": losses, "scores": scores}


def test_a_rule_stops_on_the_plateau_and_keeps_the_best_smoothed_epoch(trajectories):
    losses = [10.0 - 0.1 * e for e in range(60)] + [4.0] * 40  # falls for 60 epochs, then flat
    end, kept = trajectories.stopping_epochs(losses, 1, 0.0, 10, 0)
    assert (end, kept) == (71, 61)  # the first flat epoch is the best, 10 stale ones stop it
    assert trajectories.stopping_epochs(losses, 1, 0.0, 10, 90) == (90, 61)  # min_epochs
    assert trajectories.stopping_epochs(losses, 1, 0.0, 10, 0, 30) == (30, 30)  # max_epochs
    assert trajectories.stopping_epochs(losses, 1, 0.0, 1000, 0) == (100, 61)  # ran out


def test_replay_scores_the_kept_snapshot_and_the_oracle(trajectories):
    losses = [10.0 - 0.1 * e for e in range(60)] + [4.0] * 40
    runs = [fake_run(losses, peak_epoch=60), fake_run(losses, peak_epoch=100, peak=88.0)]
    rows = trajectories.replay(runs, [(1, 0.0, 10, 0)])
    # kept epoch 61 -> snapshot 60: the first run's peak, the second run's low
    assert rows[2] == "| 1, 0.0, 10, 0 | 85.00 | 7.07 | 80.00 | 71 (61), 71 (61) |"
    assert (
        rows[3].startswith("| best snapshot per seed")
        and "| 89.00 | 1.41 | 88.00 | 60, 100 |" in rows[3]
    )


def test_a_rule_needs_four_or_five_numbers(trajectories):
    assert trajectories.parse_rule("10,0.001,10,50") == (10, 0.001, 10, 50)
    assert trajectories.parse_rule("1,0,5,0,150") == (1, 0.0, 5, 0, 150)
    with pytest.raises(argparse.ArgumentTypeError, match="smoothing,min_delta"):
        trajectories.parse_rule("10,0.001")


def test_replay_names_a_file_that_is_not_a_recorded_run(trajectories, tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"losses": [1.0]}')
    with pytest.raises(SystemExit, match=r"notes.json: not a recorded run.*'scores'"):
        trajectories.main(["replay", str(bad), "--rule", "1,0,2,0"])


@pytest.mark.slow
def test_record_scores_validation_snapshots_on_acm(trajectories, shared_dir, tmp_path, capsys):
    trajectories.main(["record", "--dataset", "acm", "--seeds", "0", "--epochs", "4", "--every", "2",
                       "--repeats", "2", "--output-dir", str(tmp_path), "--",
                       f"paths.data_dir={shared_dir / 'data'}"])  # fmt: skip
    run = json.loads((tmp_path / "acm_0.json").read_text())
    assert len(run["losses"]) == 4 and [row["epoch"] for row in run["scores"]] == [2, 4]
    for row in run["scores"]:
        for weights in ("ema", "raw"):
            assert sorted(row[weights]) == ["20", "40", "60"]
            assert all(0 < value <= 100 for pair in row[weights].values() for value in pair)
    trajectories.main(["replay", str(tmp_path / "acm_0.json"), "--rule", "1,0,2,0"])
    assert "| 1, 0.0, 2, 0 |" in capsys.readouterr().out
