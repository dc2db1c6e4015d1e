"""A small horizontal bar chart of images per class: training and validation stacked per row.

Painted with QPainter from the palette (text, grid) plus the training plot's two series colours,
so it reads the same on light and dark themes.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from horsehuman_gui.ui.common.colours import TRAIN_COLOUR, VALIDATION_COLOUR

ROW = 30
BAR = 18
LEGEND = 26


class ClassChart(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("classChart")
        self._rows: list[tuple[str, int, int]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_counts(self, train: dict[str, int], validation: dict[str, int]) -> None:
        self._rows = [(name, train.get(name, 0), validation.get(name, 0)) for name in train]
        self.setToolTip("\n".join(f"{n}: {t} training, {v} validation images"
                                  for n, t, v in self._rows))
        self.updateGeometry()
        self.update()

    def rows(self) -> list[tuple[str, int, int]]:
        return list(self._rows)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(360, LEGEND + ROW * max(len(self._rows), 1) + 6)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        """As wide as the legend needs (it was cut off at 200 px)."""
        metrics = self.fontMetrics()
        names = max((metrics.horizontalAdvance(n) for n, _, _ in self._rows), default=0) + 12
        legend = sum(18 + metrics.horizontalAdvance(t) + 20 for t in ("training", "validation"))
        return QSize(max(200, names + legend), self.sizeHint().height())

    def paintEvent(self, event) -> None:  # noqa: N802
        if not self._rows:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        metrics = self.fontMetrics()
        label_w = max(metrics.horizontalAdvance(n) for n, _, _ in self._rows) + 12
        number_w = max(metrics.horizontalAdvance(f"{t:,} + {v:,}") for _, t, v in self._rows) + 12
        bar_w = max(self.width() - label_w - number_w - 4, 20)
        biggest = max(t + v for _, t, v in self._rows) or 1
        self._legend(p, text, label_w)
        for i, (name, train, validation) in enumerate(self._rows):
            top = LEGEND + i * ROW
            p.setPen(text)
            p.drawText(QRectF(0, top, label_w - 8, ROW), Qt.AlignmentFlag.AlignRight
                       | Qt.AlignmentFlag.AlignVCenter, name)
            y = top + (ROW - BAR) / 2
            w_train = bar_w * train / biggest
            w_val = bar_w * validation / biggest
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(TRAIN_COLOUR))
            p.drawRoundedRect(QRectF(label_w, y, w_train, BAR), 3, 3)
            p.setBrush(QColor(VALIDATION_COLOUR))
            p.drawRoundedRect(QRectF(label_w + w_train, y, w_val, BAR), 3, 3)
            p.setPen(text)
            p.drawText(QRectF(label_w + w_train + w_val + 6, top, number_w, ROW),
                       Qt.AlignmentFlag.AlignVCenter, f"{train:,} + {validation:,}")
        p.end()

    def _legend(self, p: QPainter, text: QColor, x: float) -> None:
        for colour, label in ((TRAIN_COLOUR, "training"), (VALIDATION_COLOUR, "validation")):
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(colour))
            p.drawRoundedRect(QRectF(x, 7, 12, 12), 2, 2)
            p.setPen(text)
            width = self.fontMetrics().horizontalAdvance(label)
            p.drawText(QRectF(x + 18, 0, width + 4, LEGEND), Qt.AlignmentFlag.AlignVCenter, label)
            x += 18 + width + 20
