"""SignalStop: a signal inside the training loop is a stop request; outside it, an
immediate clean exit; the previous handlers come back afterwards."""

import os
import signal

import pytest

from heco_pyg.training.interrupt import Interrupted, SignalStop


def test_a_signal_inside_the_loop_only_asks_to_stop(capsys):
    previous = signal.getsignal(signal.SIGTERM)
    with SignalStop() as stop:
        with stop.deferred():
            assert not stop.requested()
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)  # a second signal changes nothing
            assert stop.requested() and stop.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is previous
    assert capsys.readouterr().err == "SIGTERM: finishing the current step, then saving\n"


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_outside_the_loop_stops_at_once(signum, code):
    with pytest.raises(Interrupted) as interrupted, SignalStop():
        os.kill(os.getpid(), signum)
    assert interrupted.value.exit_code == code


def test_a_stop_that_is_never_entered_installs_nothing():
    stop = SignalStop()
    assert not stop.requested()
    stop.request(signal.SIGTERM)
    assert stop.requested() and Interrupted(stop.signum).exit_code == 143
