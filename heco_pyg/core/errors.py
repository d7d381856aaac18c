"""The errors a command turns into one line and an exit status (:mod:`heco_pyg.cli.command`):
a config the commands cannot use (:class:`ConfigError`, exit 2), input the user can fix
(:class:`UserError`: :class:`DataError`, :class:`RunError`, exit 1) and a stop by a signal
(:class:`Interrupted`, 128 + the signal). Each message is one line that says what is wrong
and where (the file, field or key)."""

from __future__ import annotations

import signal


class ConfigError(ValueError):
    """A config value or key the commands cannot use; the message names the key."""


class UserError(ValueError):
    """Input the user can fix; the message says what is wrong and where."""


class DataError(UserError):
    """Bad input data. The message names the file (or source) and the field."""


class RunError(UserError):
    """A run folder that cannot be read or written as asked (not finished, changed since
    training, already holding another run). The message says what is wrong and what to
    run."""


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Interrupted(BaseException):
    """Training was stopped by a signal; ``exit_code`` is 128 + the signal number. A
    ``BaseException``, like ``KeyboardInterrupt``: ``except Exception`` blocks (Hydra's
    ``instantiate`` among them) let it through."""

    def __init__(self, signum: int | None = None, message: str | None = None) -> None:
        self.signum = int(signum) if signum is not None else int(signal.SIGINT)
        super().__init__(message or f"interrupted by {signal_name(self.signum)}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
