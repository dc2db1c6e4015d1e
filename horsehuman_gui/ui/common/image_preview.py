"""The selected image shown large, upright (EXIF), with every class score as a bar and its path.

The picture is decoded off the GUI thread at a bounded size by its own small ThumbnailLoader, so
stepping through a folder of 20-megapixel photos never freezes the window.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QGridLayout, QLabel, QProgressBar, QSizePolicy, QVBoxLayout,
                               QWidget)

from horsehuman_gui.ui.common.image_list_model import ImageItem
from horsehuman_gui.ui.common.thumbnail_view import ERROR_COLOUR, class_colour
from horsehuman_gui.ui.common.thumbnails import ThumbnailLoader

PREVIEW_BOX = 768  # device px: sharp at the pane's usual size, a few MB at most per image


class ImagePreview(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("imagePreview")
        dpr = self.devicePixelRatioF()
        self._loader = ThumbnailLoader(box=round(PREVIEW_BOX * dpr), workers=1, cache_size=12,
                                       device_pixel_ratio=dpr, parent=self)
        self._loader.ready.connect(self._on_loaded)
        self._loader.failed.connect(self._on_failed)
        self._path: str | None = None
        self._pixmap: QPixmap | None = None
        self._build()
        self.show_item(None, ())

    def _build(self) -> None:
        self._image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self._image.setMinimumSize(160, 160)
        self._image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self._name = QLabel(objectName="previewName")
        self._name.setStyleSheet("font-weight: bold")
        self._path_label = QLabel(objectName="previewPath", wordWrap=True)
        self._path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._message = QLabel(objectName="previewMessage", wordWrap=True)
        self._scores = QGridLayout()
        layout = QVBoxLayout(self)
        layout.addWidget(self._image, 1)
        layout.addWidget(self._name)
        layout.addWidget(self._path_label)
        layout.addWidget(self._message)
        layout.addLayout(self._scores)

    def show_item(self, item: ImageItem | None, class_names: tuple[str, ...],
                  error: str = "") -> None:
        """Show ``item`` (None clears); ``error`` is the model's reason the file is unusable."""
        self._clear_scores()
        self._pixmap = None
        self._image.clear()
        if item is None:
            self._path = None
            self._name.setText("")
            self._path_label.setText("")
            self._message.setText("Select a picture to see it larger with all class scores.")
            return
        self._path = str(item.path)
        self._name.setText(item.path.name)
        self._path_label.setText(str(item.path))
        self._show_result(item, class_names, error)
        pixmap = self._loader.pixmap(self._path)
        if pixmap is not None:
            self._set_pixmap(pixmap)
        elif self._loader.error(self._path) is not None:
            self._image.setText(f"\u26a0 {self._loader.error(self._path)}")
        elif not item.error:
            self._image.setText("Loading\u2026")
            self._loader.new_generation()  # only the newest selection matters
            self._loader.request(self._path)

    def _show_result(self, item: ImageItem, class_names, error: str) -> None:
        if error:
            self._message.setText(f"<span style='color:{ERROR_COLOUR}'>\u26a0 Cannot use this "
                                  f"file: {error}</span>")
        elif item.classified:
            self._message.setText(f"Predicted <b>{item.prediction.label}</b> "
                                  f"({item.prediction.confidence:.1%} confidence)")
            self._add_scores(class_names, item.prediction.scores, item.prediction.label)
        else:
            self._message.setText("Not classified yet.")

    def _add_scores(self, class_names, scores, label) -> None:
        for row, (name, score) in enumerate(zip(class_names, scores)):
            swatch = QLabel(name)
            weight = "bold" if name == label else "normal"
            swatch.setStyleSheet(f"border-left: 10px solid {class_colour(row).name()};"
                                 f" padding-left: 4px; font-weight: {weight}")
            bar = QProgressBar(objectName=f"score_{name}", maximum=1000, value=round(score * 1000))
            # The percentage beside the bar, not on it: a styled bar draws its text over the
            # chunk's start, where it is hard to read.
            bar.setTextVisible(False)
            bar.setStyleSheet(f"QProgressBar::chunk {{ background: {class_colour(row).name()} }}")
            percent = QLabel(f"{score:.1%}", objectName=f"percent_{name}")
            percent.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            percent.setMinimumWidth(percent.fontMetrics().horizontalAdvance("100.0%"))
            self._scores.addWidget(swatch, row, 0)
            self._scores.addWidget(bar, row, 1)
            self._scores.addWidget(percent, row, 2)

    def score_bars(self) -> dict[str, float]:
        """Class name -> score shown (for tests and accessibility checks)."""
        bars = {}
        for i in range(self._scores.count()):
            widget = self._scores.itemAt(i).widget()
            if isinstance(widget, QProgressBar):
                bars[widget.objectName().removeprefix("score_")] = widget.value() / 1000
        return bars

    def shown_path(self) -> str | None:
        return self._path if self._pixmap is not None else None

    def _clear_scores(self) -> None:
        while self._scores.count():
            widget = self._scores.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()

    def _on_loaded(self, path: str) -> None:
        if path == self._path:
            self._set_pixmap(self._loader.pixmap(path))

    def _on_failed(self, path: str, reason: str) -> None:
        if path == self._path:
            self._image.setText(f"\u26a0 {reason}")

    def _set_pixmap(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is None:
            return
        dpr = self._pixmap.devicePixelRatio()
        target = self._image.size() * dpr
        scaled = self._pixmap.scaled(target, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
        if scaled.width() > self._pixmap.width():  # never enlarge beyond the decoded size
            scaled = self._pixmap
        scaled.setDevicePixelRatio(dpr)
        self._image.setPixmap(scaled)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._rescale()

    def shutdown(self) -> None:
        self._loader.shutdown()
