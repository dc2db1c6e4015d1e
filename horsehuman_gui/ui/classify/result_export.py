"""The two ways results leave the Classify pane: a CSV file, and copies sorted into class folders.

Both take exactly the rows the grid shows (``rows()``: filtered, sorted, labelled at the current
threshold). Nothing is overwritten without asking: Qt's save dialog asks before replacing a CSV,
and copies never replace anything (name clashes get a suffix in the core).
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from horsehuman_gui.ui.common.errors import show_error
from horsehuman_gui.ui.classify.folder_tree import default_folder
from horsehuman_gui.ui.classify.prediction_jobs import copy_job, copy_summary_text
from horsehuman_gui.ui.common.settings import Settings
from horsehuman_gui.ui.common.workers import Task


class ResultExporter(QObject):
    """Owns "Export CSV..." and "Copy into class folders..."; ``run_task(name, fn)`` starts a
    Task that the pane tracks (so closing the window waits for a copy in progress).

    ``rows`` and ``class_names`` are held as weak methods: the pane holds this object, and a
    pane <-> exporter reference cycle would leave the pane to Python's cyclic garbage collector,
    which may run in any thread, and Qt widgets must only be destroyed in the GUI thread.
    """

    status_message = Signal(str)

    def __init__(self, settings: Settings, rows: Callable[[], list],
                 class_names: Callable[[], tuple], run_task: Callable[[str, object], Task],
                 widget: QWidget):
        super().__init__(widget)
        self._settings = settings
        self._rows, self._class_names = weakref.WeakMethod(rows), weakref.WeakMethod(class_names)
        self._run_task = run_task  # the widget is reached as parent(), not held (see above)
        self._copying = False
        self._available = False
        self.export_csv_action = QAction("Export CSV...", widget, shortcut=QKeySequence("Ctrl+E"),
                                         enabled=False,
                                         toolTip="Save the results shown as a CSV file")
        self.copy_action = QAction("Copy into class folders...", widget, enabled=False,
                                   toolTip="Copy the pictures shown into one folder per label")
        self.export_csv_action.triggered.connect(self._ask_export_csv)
        self.copy_action.triggered.connect(self._ask_copy)

    def set_available(self, results: bool) -> None:
        """Enable the actions when there are results (and no copy is running)."""
        self._available = results
        self.export_csv_action.setEnabled(results)
        self.copy_action.setEnabled(results and not self._copying)

    def export_csv(self, path: Path) -> Path | None:
        """Write the shown results to ``path`` (replacing it: the save dialog asked first)."""
        from horsehuman_gui.core.export import write_csv

        try:
            written = write_csv(self._rows()(), self._class_names()(), path, overwrite=True)
        except OSError as exc:
            show_error(self.parent(), f"Could not write {path}.", details=str(exc),
                       hint="Choose another folder or file name.")
            return None
        self._settings.set("paths/last_export", str(Path(path).parent))
        self.status_message.emit(f"Results written to {written}")
        return written

    def copy_into(self, target: Path) -> Task:
        """Copy the shown results' pictures into ``target/<label>/`` in the background."""
        target = Path(target)
        predictions = [p for p in self._rows()() if p.ok]
        self._copying = True
        self.copy_action.setEnabled(False)
        self.status_message.emit(f"Copying {len(predictions):,} picture(s) into {target}\u2026")
        task = self._run_task("copy", copy_job(predictions, target))
        task.progress.connect(lambda p: self.status_message.emit(
            f"Copied {p[0]:,} of {p[1]:,} pictures\u2026"))
        task.result.connect(lambda summary: self._copied(summary, target))
        task.failed.connect(lambda message, details: show_error(
            self.parent(), "Copying stopped because of an error.",
            details=f"{message}\n\n{details}"))
        task.finished.connect(self._copy_finished)
        return task

    def _copy_finished(self) -> None:
        self._copying = False
        self.set_available(self._available)

    def _copied(self, summary, target: Path) -> None:
        self._settings.set("paths/last_copy", str(target))
        message, details = copy_summary_text(summary, target)
        box = QMessageBox(QMessageBox.Icon.Information, "Copy into class folders", message,
                          QMessageBox.StandardButton.Ok, self.parent())
        box.setObjectName("copySummaryBox")
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.status_message.emit(message.splitlines()[0])

    def csv_start_dir(self) -> str:
        """The folder the last CSV went to, else Documents: never the pictures' folder, where a
        CSV would be listed among the pictures next time."""
        last = self._settings.get("paths/last_export")
        if last and Path(last).is_dir():
            return last
        documents = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation)
        return documents if documents and Path(documents).is_dir() else str(Path.home())

    def copy_start_dir(self) -> str:
        last = self._settings.get("paths/last_copy")
        if last and Path(last).is_dir():
            return last
        return str(default_folder(self._settings.get("paths/last_images")))

    def _ask_export_csv(self) -> None:
        start = str(Path(self.csv_start_dir()) / "predictions.csv")
        path, _ = QFileDialog.getSaveFileName(self.parent(), "Export CSV", start,
                                              "CSV files (*.csv)")
        if path:
            self.export_csv(Path(path))

    def _ask_copy(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.parent(), "Copy into class folders under\u2026", self.copy_start_dir())
        if folder:
            self.copy_into(Path(folder))
