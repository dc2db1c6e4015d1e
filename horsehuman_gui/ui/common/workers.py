"""The one worker pattern: a QObject moved to a QThread, with a direct, thread-safe stop.

``Task(fn)`` runs ``fn(should_stop, report)`` on its own QThread. ``fn`` calls ``report(value)`` for
progress (delivered to ``progress`` on the GUI thread) and polls ``should_stop()``; what it returns
arrives as ``result``; an exception arrives as ``failed(message, traceback)``, never raw.

Stopping is ``request_stop()``: it sets a ``threading.Event`` from any thread. A queued slot would
never run because the worker thread is busy inside ``fn`` (e.g. ``model.fit``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

logger = logging.getLogger(__name__)

TaskFn = Callable[[Callable[[], bool], Callable[[Any], None]], Any]


#: Niceness of worker threads. On 2 cores TensorFlow's compute threads would otherwise share the
#: CPU evenly with the GUI thread and the event loop would wait its turn for tens of ms. Threads
#: inherit it, so TensorFlow's thread pools (created inside the loader task) are niced as well.
#: HORSEHUMAN_WORKER_NICE=0 turns it off (to measure the difference).
WORKER_NICE = int(os.environ.get("HORSEHUMAN_WORKER_NICE", "10"))


def _lower_priority() -> None:
    if WORKER_NICE <= 0 or not sys.platform.startswith("linux"):
        return
    try:  # on Linux the "process" priority of a thread id is that thread's alone
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
    except OSError as exc:
        logger.debug("could not lower a worker thread's priority: %s", exc)


class _Worker(QObject):
    progress = Signal(object)
    result = Signal(object)
    failed = Signal(str, str)
    finished = Signal()

    def __init__(self, fn: TaskFn, stop: threading.Event):
        super().__init__()
        self._fn = fn
        self._stop = stop

    @Slot()
    def run(self) -> None:
        _lower_priority()
        try:
            value = self._fn(self._stop.is_set, self.progress.emit)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user as a signal
            logger.exception("background task failed")
            self.failed.emit(str(exc) or type(exc).__name__, traceback.format_exc())
        else:
            self.result.emit(value)
        finally:
            self.finished.emit()


class Task(QObject):
    """Owns one worker and its thread; signals are re-emitted on the GUI thread."""

    progress = Signal(object)
    result = Signal(object)
    failed = Signal(str, str)
    finished = Signal()

    def __init__(self, fn: TaskFn, name: str = "task", parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._stop = threading.Event()
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._worker = _Worker(fn, self._stop)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self.progress)
        self._worker.result.connect(self.result)
        self._worker.failed.connect(self.failed)
        self._worker.finished.connect(self._thread.quit)
        self._thread.finished.connect(self.finished)
        self._running = False
        self._thread.finished.connect(self._on_thread_finished)

    def start(self) -> "Task":
        self._running = True
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Thread-safe: the task sees ``should_stop()`` become true at its next check."""
        self._stop.set()

    def is_running(self) -> bool:
        return self._running

    def stop_and_wait(self, timeout_ms: int = 30_000) -> bool:
        """Ask the task to stop and block until its thread has ended; True if it ended."""
        self.request_stop()
        if not self._thread.isRunning():
            return True
        # worker.finished -> thread.quit is a queued call that needs the GUI event loop, which
        # this wait blocks: quit directly (it takes effect once fn has returned) or wait forever.
        self._thread.quit()
        ended = self._thread.wait(timeout_ms)
        if not ended:
            logger.warning("task %s did not stop within %d ms", self.name, timeout_ms)
        return ended

    def _on_thread_finished(self) -> None:
        self._running = False
