"""The ROC curve of a two-class evaluation, with a dot where the current threshold puts it.

Imports pyqtgraph: the figures view imports this module only when a two-class evaluation with
per-image scores is first shown (by then the Train tab has usually imported pyqtgraph in the
background).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from horsehuman_gui.ui.common.plot_axes import GridAxis, lay_under_data
from horsehuman_gui.ui.evaluate.evaluation_tables import RIGHT_COLOUR, WRONG_COLOUR


class RocPlot(QWidget):
    """``set_curve(roc, positive)`` draws the curve; ``set_point(fpr, tpr, threshold)`` moves
    the threshold's dot (cheap: called as the slider moves)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = pg.PlotWidget(objectName="rocPlot", axisItems={
            "left": GridAxis("left"), "bottom": GridAxis("bottom")})
        self.view.setMenuEnabled(False)
        self.view.setMouseEnabled(x=False, y=False)
        self.view.hideButtons()
        self.view.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.05)
        self.view.showGrid(x=True, y=True, alpha=0.2)
        for side in ("left", "bottom"):
            self.view.getAxis(side).enableAutoSIPrefix(False)
        self.view.plot([0, 1], [0, 1], pen=pg.mkPen("#888888", style=Qt.PenStyle.DashLine))
        self.curve = self.view.plot([], [], pen=pg.mkPen(RIGHT_COLOUR, width=2))
        self.point = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(WRONG_COLOUR),
                                        pen=pg.mkPen("white"))
        self.view.addItem(self.point)
        self.view.setMinimumSize(220, 200)
        background = self.palette().color(QPalette.ColorRole.Base)
        self.view.setBackground(background)
        lay_under_data(self.view.getPlotItem(), background)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def set_curve(self, roc, positive: str) -> None:
        self.curve.setData(roc.fpr, roc.tpr)
        self.view.setLabel("bottom", "false positive rate")
        self.view.setLabel("left", f"true positive rate (\u201c{positive}\u201d)")
        auc = "" if math.isnan(roc.auc) else f"   AUC {roc.auc:.3f}"
        self.view.setTitle(f"ROC curve{auc}")

    def set_point(self, fpr: float, tpr: float) -> None:
        self.point.setData([fpr], [tpr])

    def point_position(self) -> tuple[float, float]:
        x, y = self.point.getData()
        return float(x[0]), float(y[0])
