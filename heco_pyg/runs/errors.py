"""What the commands share at their edge: a refused run or bad input is one line on stderr
and exit status 1, an interrupted training run its resume line and 128 + the signal."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from heco_pyg.data.graph import DataError
from heco_pyg.training.interrupt import Interrupted


class RunError(DataError):
    """A run folder that cannot be read or written as asked (not finished, changed since
    training, already holding another run). The message says what is wrong and what to
    run."""


@contextmanager
def command_errors() -> Iterator[None]:
    """``with command_errors():`` around a command's body: :class:`DataError` (and
    :class:`RunError`) print ``error: <message>`` and exit 1, :class:`Interrupted` prints
    its message and exits 128 + the signal (a Ctrl-C anywhere else: 130), without a
    traceback."""
    try:
        yield
    except Interrupted as interrupted:
        sys.stdout.flush()
        print(str(interrupted), file=sys.stderr, flush=True)
        raise SystemExit(interrupted.exit_code) from None
    except KeyboardInterrupt:  # outside the training loop (e.g. reading the data)
        sys.stdout.flush()
        print(str(Interrupted(signal.SIGINT)), file=sys.stderr, flush=True)
        raise SystemExit(Interrupted(signal.SIGINT).exit_code) from None
    except DataError as error:
        sys.stdout.flush()
        print(f"error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
