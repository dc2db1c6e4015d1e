"""Suspected label errors of the open dataset, for review: a thumbnail per picture with the
class folder it is in, the class a model trained without it sees, and how sure that model is.

The search (``core.label_errors.find_label_errors``: backbone features, cached, then a linear
head per fold) and the thumbnails' decoding run in a Task; Cancel stops it between batches.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QImage, QImageReader, QPixmap
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QLabel, QProgressBar,
                               QTableWidget, QTableWidgetItem, QVBoxLayout)

from horsehuman_gui.ui.common.workers import Task

logger = logging.getLogger(__name__)

THUMB = 72
#: Thumbnails decoded at most; the list itself shows every suspect.
MAX_THUMBNAILS = 300


class LabelErrorsDialog(QDialog):
    def __init__(self, report, tf_loader=None, parent=None):
        super().__init__(parent)
        self.setObjectName("labelErrorsDialog")
        self.setWindowTitle(f"Suspected label errors — {report.root.name}")
        self._report, self._tf = report, tf_loader
        self._task: Task | None = None
        self.suspects: list = []
        self.message = QLabel("Computing each picture's features (cached for next time)…",
                              objectName="labelErrorsMessage", wordWrap=True)
        self.progress = QProgressBar(objectName="labelErrorsProgress")
        self.progress.setRange(0, 0)
        self.table = QTableWidget(0, 4, objectName="labelErrorsTable")
        self.table.setHorizontalHeaderLabels(["Picture", "In folder", "Looks like",
                                              "Confidence"])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 8)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Double-click a picture to open it in your image viewer")
        self.table.cellDoubleClicked.connect(self._open_picture)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.message, self.progress, self.table, self.buttons):
            layout.addWidget(widget)
        self.resize(760, 560)

    def start(self) -> None:
        """Search once TensorFlow is loaded (at once when there is no loader: tests)."""
        if self._tf is None:
            self._launch()
        else:
            self._tf.when_ready(self._launch)

    def _launch(self) -> None:
        if self._task is not None or not self.isVisible() and self.result() != 0:
            return
        self._task = Task(_search(self._report), name="label-errors", parent=self)
        self._task.progress.connect(self._on_progress)
        self._task.result.connect(self._show)
        self._task.failed.connect(self._failed)
        self._task.finished.connect(self._finished)
        self._task.start()

    def _on_progress(self, done_total) -> None:
        done, total = done_total
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _show(self, found) -> None:
        self.suspects = [suspect for suspect, _ in found]
        self.progress.hide()
        self.message.setText(
            f"{len(found)} picture{'s' * (len(found) != 1)} that a model trained without "
            "them confidently puts in another class. Check each: mislabelled, ambiguous, or "
            "not a picture of any class?" if found else
            "No suspected label errors: every picture's class agrees with a model trained "
            "without it.")
        self.table.setRowCount(len(found))
        for row, (suspect, image) in enumerate(found):
            name = QTableWidgetItem(suspect.path.name)
            name.setToolTip(str(suspect.path))
            if image is not None and not image.isNull():
                name.setIcon(QPixmap.fromImage(image))  # QPixmap: GUI thread only
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, QTableWidgetItem(suspect.given))
            self.table.setItem(row, 2, QTableWidgetItem(suspect.predicted))
            confidence = QTableWidgetItem(f"{suspect.confidence:.0%}")
            confidence.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, 3, confidence)

    def _open_picture(self, row: int, column: int) -> None:
        if 0 <= row < len(self.suspects):
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.suspects[row].path)))

    def _failed(self, message: str, details: str) -> None:
        self.progress.hide()
        self.message.setText(f"The search failed: {message}")
        logger.error("label error search failed: %s", details)

    def _finished(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.deleteLater()

    def is_searching(self) -> bool:
        return self._task is not None

    def stop_search(self) -> None:
        """Stop the search between two batches and wait for its thread to end."""
        if self._task is not None:
            self._task.stop_and_wait(60_000)

    def done(self, code: int) -> None:  # Qt's name: Close and Escape come here
        self.stop_search()
        super().done(code)


def _search(report):
    def run(should_stop, emit):
        from horsehuman_gui.core.features import ExtractionCancelled
        from horsehuman_gui.core.label_errors import find_label_errors

        try:
            suspects = find_label_errors(report, should_stop=should_stop,
                                         on_progress=lambda done, total: emit((done, total)))
        except ExtractionCancelled:
            return []
        return [(s, _thumbnail(s.path) if i < MAX_THUMBNAILS else None)
                for i, s in enumerate(suspects)]
    return run


def _thumbnail(path) -> QImage:
    """Decoded at thumbnail size (QImage is safe off the GUI thread; QPixmap is not)."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid():
        reader.setScaledSize(size.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()
