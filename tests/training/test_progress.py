"""The epoch bar does not invent an ETA under early stopping; the stop line says why."""

from heco_pyg.training.progress import NO_ETA, epoch_bar, epoch_bar_format, stop_reason


def test_stop_reason_names_early_stop_and_max_epochs():
    assert stop_reason(84, 300, 64) == (
        "early stop at epoch 84 (best epoch 64, 20 without improvement)"
    )
    assert stop_reason(300, 300, 290) == "max epochs (300) reached (best epoch 290)"


def test_epoch_bar_has_no_eta_when_early_stopping_may_end_the_run():
    assert epoch_bar_format(300, 20) == NO_ETA and "remaining" not in NO_ETA
    assert epoch_bar_format(30, 30) is None  # no early stopping: the full bar with its ETA
    epoch_bar(300, 20, progress=False).close()


def test_without_a_terminal_progress_is_a_log_line_every_few_seconds(caplog, monkeypatch):
    """stderr is not a terminal under pytest: no bar, log lines instead."""
    import logging

    import heco_pyg.training.progress as progress

    clock = iter([0.0, 10.0, 31.0, 40.0, 62.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    with caplog.at_level(logging.INFO, logger="heco_pyg.training.progress"):
        bar = epoch_bar(300, 20, progress=True, every=30)
        for loss in (5.0, 4.0, 3.5, 3.4):  # at 10, 31, 40 and 62 s
            bar.update()
            bar.set_postfix(loss=f"{loss:.4f}", best=f"{loss:.4f}")
        bar.close()
    lines = [r.getMessage() for r in caplog.records if "elapsed" in r.getMessage()]
    assert lines == [
        "training: epoch 2/300 loss 4.0000 best 4.0000, elapsed 31 s",
        "training: epoch 4/300 loss 3.4000 best 3.4000, elapsed 1 min 02 s",
    ]


def test_no_progress_lines_when_switched_off(caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="heco_pyg.training.progress"):
        for every in (0, None):
            bar = epoch_bar(3, 3, progress=True, every=every)
            bar.update()
            bar.set_postfix(loss="1.0", best="1.0")
            bar.close()
    assert not [r for r in caplog.records if "elapsed" in r.getMessage()]
