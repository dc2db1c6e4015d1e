"""TensorFlow is imported in the background after the window shows; actions that need it queue
behind it with ``when_ready`` instead of freezing the window."""

from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtCore import QObject, Signal

from horsehuman_gui.ui.common.workers import Task

logger = logging.getLogger(__name__)


def _import_tensorflow(should_stop, report):
    from horsehuman_gui.core.tfsetup import load_tensorflow

    return load_tensorflow()


class TensorFlowLoader(QObject):
    """``start()`` once; ``ready`` fires on the GUI thread when TensorFlow and Keras are imported."""

    started = Signal()
    ready = Signal()
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._task: Task | None = None
        self._loaded = False
        self._closed = False
        self._waiting: list[Callable[[], None]] = []

    @property
    def is_ready(self) -> bool:
        return self._loaded

    def start(self) -> None:
        """Start the import (once; never after ``shutdown``, e.g. from a queued call)."""
        if self._task is not None or self._loaded or self._closed:
            return
        self._task = Task(_import_tensorflow, name="tensorflow-import", parent=self)
        self._task.result.connect(self._on_loaded)
        self._task.failed.connect(self.failed)
        self._task.start()
        self.started.emit()

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` now if TensorFlow is loaded, else as soon as it is (starting the load)."""
        if self._loaded:
            callback()
            return
        self._waiting.append(callback)
        self.start()

    def shutdown(self) -> None:
        """An import cannot be interrupted; wait for it so no thread outlives the window."""
        self._closed = True
        if self._task is not None:
            self._task.stop_and_wait(120_000)

    def _on_loaded(self, _keras) -> None:
        self._loaded = True
        logger.info("TensorFlow loaded")
        self.ready.emit()
        waiting, self._waiting = self._waiting, []
        for callback in waiting:
            callback()
