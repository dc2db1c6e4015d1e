"""Named Tasks of one owner: one current task per name, and every unfinished one tracked, so
a newer request supersedes an older one and closing waits for all of them."""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from horsehuman_gui.ui.common.workers import Task


class TaskGroup(QObject):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._current: dict[str, Task] = {}
        self._alive: set[Task] = set()  # a superseded task runs on until it notices the stop

    def run(self, name: str, fn) -> Task:
        """Start ``fn`` as the current task ``name``; the previous one is asked to stop."""
        previous = self._current.get(name)
        if previous is not None:
            previous.request_stop()
        task = Task(fn, name=name, parent=self)
        self._current[name] = task
        self._alive.add(task)
        # A bound slot finding its task with sender(): a lambda holding the task would be
        # released inside the task's own destructor, which crashes PySide6.
        task.finished.connect(self._forget)
        return task.start()

    def current(self, name: str) -> Task | None:
        """The newest task ``name`` while it has not finished."""
        return self._current.get(name)

    def stop_all(self, timeout_ms: int = 60_000) -> bool:
        """Stop every task and wait until their threads ended; True if they all did."""
        tasks = list(self._alive)
        for task in tasks:
            task.request_stop()  # all at once: they wind down in parallel
        return all([task.stop_and_wait(timeout_ms) for task in tasks])

    @Slot()
    def _forget(self) -> None:
        task = self.sender()
        self._alive.discard(task)
        if self._current.get(task.name) is task:
            del self._current[task.name]
        task.stop_and_wait(1_000)  # ``finished`` is queued: let the thread end before deleting
        task.deleteLater()
