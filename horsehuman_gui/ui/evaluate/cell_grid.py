"""The pictures behind the figures: one confusion-matrix cell (most confident first) or the
least confident right answers, as the shared thumbnail grid; a double-click opens a picture
large with its scores.
"""

from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout,
                               QWidget)

from horsehuman_gui.ui.common.image_list_model import ImageItem, ImageListModel
from horsehuman_gui.ui.common.image_preview import ImagePreview
from horsehuman_gui.ui.common.thumbnail_view import THUMB, ThumbnailView
from horsehuman_gui.ui.common.thumbnails import ThumbnailLoader

LEAST_CONFIDENT_COUNT = 60


def cell_items(scores, cell_items_list, threshold: float) -> list[ImageItem]:
    """Grid items for ``core.evaluation.CellItem``s: each with its prediction and scores."""
    from horsehuman_gui.core.prediction import Prediction

    names = scores.class_names
    return [ImageItem(c.path, Prediction(c.path, names[c.predicted], c.confidence,
                                         tuple(float(s) for s in scores.scores[c.index])))
            for c in cell_items_list]


class CellGrid(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        dpr = self.devicePixelRatioF()
        self.thumbnails = ThumbnailLoader(box=round(THUMB * dpr), device_pixel_ratio=dpr,
                                          parent=self)
        self.model = ImageListModel(self.thumbnails, self)
        self._scores = None
        self._shown = None  # ("cell", true, predicted) or ("least",): what to list again
        self._dialog = None
        self.title = QLabel(objectName="cellTitle", wordWrap=True)
        self.least_button = QPushButton("Least confident correct", objectName="leastButton",
                                        toolTip="The right answers the model was least sure of")
        self.view = ThumbnailView()
        self.view.setModel(self.model)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.least_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self.view.doubleClicked.connect(self._open_large)
        self.view.visible_paths_changed.connect(self.thumbnails.retain)
        self.set_scores(None, "")

    def set_scores(self, scores, message: str) -> None:
        """New scores (None: none; ``message`` says why there are no pictures)."""
        self._scores, self._shown = scores, None
        self.model.set_class_names(scores.class_names if scores is not None else ())
        self.model.set_items([])
        self.least_button.setEnabled(scores is not None)
        self.title.setText(message)

    def show_cell(self, true: int, predicted: int, threshold: float) -> None:
        if self._scores is None:
            return
        names = self._scores.class_names
        cell = self._scores.cell(true, predicted, threshold)
        what = (f"\u201c{names[true]}\u201d recognised" if true == predicted else
                f"\u201c{names[true]}\u201d taken for \u201c{names[predicted]}\u201d")
        self._show(("cell", true, predicted), cell, threshold,
                   f"{what}: {len(cell):,} picture(s), most confident first")

    def show_least_confident(self, threshold: float) -> None:
        if self._scores is None:
            return
        cell = self._scores.least_confident_correct(LEAST_CONFIDENT_COUNT, threshold)
        self._show(("least",), cell, threshold,
                   f"The {len(cell):,} right answers the model was least sure of, least "
                   "confident first")

    def refresh(self, threshold: float) -> None:
        """List what is shown again at a new threshold (a cell's pictures change with it)."""
        if self._shown is None:
            return
        if self._shown[0] == "cell":
            self.show_cell(self._shown[1], self._shown[2], threshold)
        else:
            self.show_least_confident(threshold)

    def paths(self) -> list:
        return [item.path for item in self.model.items()]

    def _show(self, what, cell, threshold: float, title: str) -> None:
        self._shown = what
        self.model.set_items(cell_items(self._scores, cell, threshold))
        self.title.setText(title)

    def _open_large(self, index) -> None:
        item = self.model.item(index.row())
        if self._dialog is None:
            self._dialog = QDialog(self, objectName="previewDialog")
            self._dialog.setWindowTitle("Picture")
            self._dialog.preview = ImagePreview()
            QVBoxLayout(self._dialog).addWidget(self._dialog.preview)
            self._dialog.resize(560, 640)
        self._dialog.preview.show_item(item, self.model.class_names, self.model.error_of(item))
        self._dialog.setWindowTitle(item.path.name)
        self._dialog.show()
        self._dialog.raise_()

    def shutdown(self) -> None:
        self.thumbnails.shutdown()
        if self._dialog is not None:
            self._dialog.preview.shutdown()
