"""A few sample thumbnails per class, decoded off the GUI thread and scaled while decoding.

QImageReader with ``setScaledSize`` never decodes the full-size image (JPEG decodes at reduced
scale directly); ``setAutoTransform`` applies the EXIF orientation. QImage is safe to create in
a worker thread; the GUI thread turns it into a QPixmap.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QImageReader, QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QGroupBox, QLabel

SAMPLES_PER_CLASS = 6
THUMB = 88


def pick_samples(paths: list, count: int = SAMPLES_PER_CLASS) -> list:
    """``count`` paths spread evenly over ``paths`` (not just the first few)."""
    if len(paths) <= count:
        return list(paths)
    step = len(paths) / count
    return [paths[int(i * step)] for i in range(count)]


def read_thumbnail(path, size: int = THUMB):
    """A QImage at most ``size`` px wide and high, or None when the file cannot be decoded."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    original = reader.size()
    if original.isValid() and (original.width() > size or original.height() > size):
        reader.setScaledSize(original.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return None if image.isNull() else image


def sample_job(report):
    """A Task function reporting ``(class index, slot, QImage, path)`` per decoded sample."""
    def run(should_stop, emit):
        for index in range(len(report.classes)):
            paths = [item.path for item in (*report.train, *report.validation)
                     if item.label == index]
            for slot, path in enumerate(pick_samples(paths)):
                if should_stop():
                    return None
                image = read_thumbnail(path)
                if image is not None:
                    emit((index, slot, image, path))
        return None
    return run


class SampleGrid(QGroupBox):
    """One row per class: its name and up to SAMPLES_PER_CLASS framed thumbnail slots, as many
    as fit its width (in a small window it shows fewer instead of being cut off)."""

    def __init__(self, parent=None):
        super().__init__("Samples", parent)
        self._grid = QGridLayout(self)
        self.labels: dict[tuple[int, int], QLabel] = {}
        self._names: list[QLabel] = []

    def columns(self) -> int:
        """How many sample slots per class fit the current width (at least 2)."""
        names = max((n.sizeHint().width() for n in self._names), default=0)
        slot = THUMB + 4 + self._grid.horizontalSpacing()
        free = self.contentsRect().width() - names - self._grid.horizontalSpacing() \
            - self._grid.contentsMargins().left() - self._grid.contentsMargins().right()
        return max(2, min(SAMPLES_PER_CLASS, free // slot))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        names = max((n.sizeHint().width() for n in self._names), default=0)
        height = super().minimumSizeHint().height()
        return QSize(names + 2 * (THUMB + 4 + self._grid.horizontalSpacing()) + 24, height)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._show_columns()

    def _show_columns(self) -> None:
        shown = self.columns()
        for (_row, slot), label in self.labels.items():
            label.setVisible(slot < shown)

    def set_classes(self, names) -> None:
        while self._grid.count():
            self._grid.takeAt(0).widget().deleteLater()
        self.labels = {}
        self._names = []
        for row, name in enumerate(names):
            self._names.append(QLabel(f"<b>{name}</b>"))
            self._grid.addWidget(self._names[-1], row, 0)
            for slot in range(SAMPLES_PER_CLASS):
                label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
                label.setFixedSize(THUMB + 4, THUMB + 4)
                label.setFrameShape(QFrame.Shape.StyledPanel)
                self._grid.addWidget(label, row, slot + 1)
                self.labels[(row, slot)] = label
        self._grid.setColumnStretch(SAMPLES_PER_CLASS + 1, 1)
        self._grid.setRowStretch(len(names), 1)
        self._show_columns()

    def set_image(self, class_index: int, slot: int, image: QImage, path) -> None:
        label = self.labels.get((class_index, slot))
        if label is not None:
            label.setPixmap(QPixmap.fromImage(image))
            label.setToolTip(str(path))
