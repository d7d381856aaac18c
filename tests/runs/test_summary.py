"""The end-of-run summary: run folder, stop reason, times, captioned table, warnings."""

import logging

import numpy as np

from heco_pyg.core.phases import Phases
from heco_pyg.evaluation import ProtocolSettings
from heco_pyg.runs.summary import RunOutcome, next_commands, run_summary, warnings
from heco_pyg.train import train


def outcome(**changes) -> RunOutcome:
    values = dict(
        run_dir="outputs/train/run", epochs=84, max_epochs=300, best_epoch=64,
        phase_seconds={"graph build": 3.0, "training": 11.0},
        results={"fused": {"micro_f1": 0.90, "micro_f1_std": 0.01},
                 "features": {"micro_f1": 0.80, "micro_f1_std": 0.02}},
        settings=ProtocolSettings(per_class=20, repeats=5),
        labels=np.repeat(np.arange(3), 50), has_splits=True,
    )  # fmt: skip
    return RunOutcome(**(values | changes))


def test_summary_says_where_why_and_what_next():
    text = run_summary(outcome())
    flat = " ".join(text.split())  # the caption and warnings are wrapped
    assert "run folder  outputs/train/run" in text
    assert "early stop at epoch 84 (best epoch 64, 20 epochs without improvement)" in text
    assert "graph build 3.0 s, training 11 s, total 14 s" in text
    assert "20 labelled training and 20 validation papers per class" in flat
    assert "mean over 5 seeded splits" in flat and "`features` = the raw input features" in flat
    assert "micro_f1 std over splits: fused 0.010, features 0.020" in text
    assert "warnings:" not in text  # nothing changes the reading here
    assert "python -m heco_pyg.recommend run_dir=outputs/train/run" in text
    assert "max epochs (300) reached" in run_summary(outcome(epochs=300))


def test_warnings_change_the_reading():
    below = {"fused": {"micro_f1": 0.336}, "features": {"micro_f1": 0.377}}
    labels = np.array([0] * 100 + [1] * 30 + [2] * 5)
    found = warnings(outcome(results=below, labels=labels, has_splits=False))
    assert len(found) == 2
    assert "below the raw features" in found[0] and "0.336 < features 0.377" in found[0]
    assert "2 of 3 classes have fewer than 41 labelled papers" in found[1]
    assert "1 (30); 2 (5)" in found[1]
    named = warnings(outcome(labels=labels, class_names=["Biology", "Economics", "Law"]))
    assert named == [found[1].replace("1 (30); 2 (5)", "Economics (30); Law (5)")]
    assert warnings(outcome(labels=None, results={"fused": {"mean_cosine": 0.1}})) == []


def test_no_split_masks_is_said_once_in_the_caption_not_as_a_warning():
    text = " ".join(run_summary(outcome(has_splits=False)).split())
    assert "no fixed split masks" in text and "warnings:" not in text
    assert "split masks" not in " ".join(run_summary(outcome()).split())


def test_the_epoch_cap_while_still_improving_is_a_warning():
    (found,) = warnings(outcome(epochs=300, best_epoch=298))
    assert "still improving (best epoch 298 of 300)" in found
    assert found.endswith("trainer.max_epochs=600")
    assert warnings(outcome(epochs=300, best_epoch=200)) == []  # levelled off long before
    assert warnings(outcome(epochs=84, best_epoch=84)) == []  # not at the cap


def test_next_commands_name_a_real_paper_and_the_evaluations_the_data_supports():
    commands = next_commands("outputs/latest", outcome(example_id="S0", has_citations=False))
    assert "recommend run_dir=outputs/latest query=S0" in commands[0]
    assert any("task=protocol" in c for c in commands)
    assert not any("task=recommend" in c for c in commands)
    numeric = next_commands("x", outcome(example_id="17", has_splits=False))
    assert "run_dir=x row=0" in numeric[0] and "task=recommend" in numeric[-1]


def test_phases_time_each_phase_in_order():
    phases = Phases()
    phases.start("one")
    phases.start("two")
    phases.stop()
    phases.stop()  # idempotent
    assert list(phases.seconds) == ["one", "two"] and min(phases.seconds.values()) >= 0


def test_a_tiny_run_ends_with_its_summary(tiny_config, tmp_path, caplog):
    run_dir = tmp_path / "outputs" / "train" / "tiny"
    run_dir.mkdir(parents=True)
    with caplog.at_level(logging.INFO, logger="heco_pyg.runs.summary"):
        train(tiny_config, run_dir)
    (text,) = [r.getMessage() for r in caplog.records if "run summary" in r.getMessage()]
    assert f"run folder  {run_dir}  (also {tmp_path / 'outputs' / 'latest'})" in text
    assert "stopped     max epochs (3) reached (best epoch" in text
    for phase in ("graph build", "training", "embedding", "evaluation", "total"):
        assert phase in text
    flat = " ".join(text.split())
    assert "Linear probe" in text and "features" in text
    assert "no fixed split masks" in flat  # synthetic: said once, in the caption
    assert "next:" in text
    assert (tmp_path / "outputs" / "latest").resolve() == run_dir.resolve()
