"""What every ``horsehuman`` command shares: exit codes, printing that survives any terminal,
the refusal to replace files, progress lines and the signal handling (``Interrupts``)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path

from horsehuman_gui.core.errors import HorsehumanError
from horsehuman_gui.core.files import printable

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "EXIT_OK", "Interrupts", "ProgressLines",
           "UsageError", "err", "out", "printable", "refuse_existing"]

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 2, 130


class UsageError(HorsehumanError):
    """Bad arguments found after parsing (e.g. an output file that already exists)."""


def refuse_existing(path: Path | None, overwrite: bool) -> None:
    """``UsageError`` when ``path`` exists and ``overwrite`` was not given."""
    if path is not None and path.exists() and not overwrite:
        raise UsageError(f"{printable(path)} already exists; pass --overwrite to replace it")


def out(message: str) -> None:
    _write(sys.stdout, message)


def err(message: str) -> None:
    _write(sys.stderr, message)


def _write(stream, message: str) -> None:
    """Print; a terminal that went away (SIGHUP, a closed pipe) must not end the work: the
    model still has to be saved, the CSV written."""
    try:
        print(message, file=stream, flush=True)
    except (OSError, ValueError, AttributeError):  # AttributeError: stream is None
        pass


class ProgressLines:
    """``label done/total`` on stderr at the start, every tenth of the way and at the end:
    a handful of lines, readable in a log file as on a terminal."""

    def __init__(self, label: str, scale: float = 1.0, unit: str = ""):
        self.label, self.scale, self.unit = label, scale, unit
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:  # not known yet: said once
            if self._shown == -1:
                self._shown = -0.5
                err(f"{self.label} {self._fmt(done)}{self.unit}...")
            return
        step = min(10, done * 10 // total)
        if step > self._shown:
            self._shown = step
            err(f"{self.label} {self._fmt(done)}/{self._fmt(total)}{self.unit}")

    def _fmt(self, value: int) -> str:
        return str(value) if self.scale == 1 else f"{value / self.scale:.1f}"


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                      if hasattr(signal, name))


class Interrupts:
    """Ctrl-C, SIGTERM and SIGHUP ask the core to stop after the current batch (``is_set``).

    A second Ctrl-C aborts (KeyboardInterrupt), except inside ``saving()``: there every signal
    only says that the save is being waited for, so a file is never lost half-way. A second
    SIGTERM or SIGHUP changes nothing (a service manager sends more than one).
    """

    def __init__(self):
        self.event = threading.Event()
        self.is_set = self.event.is_set
        self._saving: str | None = None

    def __enter__(self) -> Interrupts:
        self._previous = {s: signal.getsignal(s) for s in _STOP_SIGNALS}
        for signum in _STOP_SIGNALS:
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self._saving is not None:
            err(f"{name}: saving {self._saving}; waiting for the save to finish")
            return
        if self.event.is_set():
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        self.event.set()
        again = " (Ctrl-C again to abort)" if signum == signal.SIGINT else ""
        err(f"{name}: stopping after the current batch{again}")

    @contextlib.contextmanager
    def saving(self, what: str):
        self._saving = what
        try:
            yield
        finally:
            self._saving = None

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
