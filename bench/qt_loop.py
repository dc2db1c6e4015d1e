"""Waiting in the benches: in Qt's real event loop, never a ``processEvents`` busy loop.

A busy loop keeps the GUI thread running Python, and so holding the GIL, between events; the
app's worker threads then ran 2-10x slower than they do in the app (bench/thumbnails_10k.py
measured the first screen of one unchanged folder at 0.3-1.8 s that way).
"""

from __future__ import annotations

import time
from typing import Callable


def run_for(seconds: float) -> None:
    """Run the event loop for ``seconds``."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def wait_until(condition: Callable[[], object], timeout_s: float, what: str,
               poll_ms: int = 20) -> None:
    """Run the event loop until ``condition()`` holds, checking it every ``poll_ms``; raise
    ``TimeoutError`` after ``timeout_s``."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    poll = QTimer(interval=poll_ms, timerType=Qt.TimerType.PreciseTimer)
    poll.timeout.connect(lambda: (condition() or time.monotonic() > deadline) and loop.quit())
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    if not condition():
        raise TimeoutError(f"timed out waiting for {what} ({timeout_s:.0f} s)")
