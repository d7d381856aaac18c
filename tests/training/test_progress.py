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
