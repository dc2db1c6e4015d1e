"""pyqtgraph axes whose grid is cheap to draw.

pyqtgraph draws a plot's grid as the axes' tick lines stretched across the view, in translucent
colours, above the plotted data. Qt's raster engine draws a translucent line about 50 times
slower than an opaque one (50 grid lines: ~14 ms against ~0.3 ms), so painting the training
plot's four axes the first time took ~40 ms of the GUI thread: the longest freeze when the Train
tab first opened, and most of every redraw that moved an axis.

``GridAxis`` mixes each line's colour with the plot's background beforehand and draws it opaque.
On the plain background the pixels come out the same; ``lay_under_data`` then puts the axes
beneath the data, so no curve is crossed out by a grid line.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen


class GridAxis(pg.AxisItem):
    """An ``AxisItem`` drawing its tick and grid lines in opaque colours, as they look on the
    background given to ``set_background``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._background = QColor(Qt.GlobalColor.white)
        self._pens: dict[tuple[int, float], QPen] = {}

    def set_background(self, colour: QColor) -> None:
        self._background = QColor(colour)
        self._pens.clear()
        self.picture = None  # pyqtgraph's cached drawing of the axis
        self.update()

    def generateDrawSpecs(self, p):  # noqa: N802 - pyqtgraph's name
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis, ticks, texts = specs
        return axis, [(self._opaque(pen), start, end) for pen, start, end in ticks], texts

    def _opaque(self, pen: QPen) -> QPen:
        colour = pen.color()
        if colour.alpha() == 255 or pen.brush().style() != Qt.BrushStyle.SolidPattern:
            return pen
        key = (colour.rgba(), pen.widthF())
        if key not in self._pens:
            alpha, back = colour.alphaF(), self._background
            mixed = QColor.fromRgbF(*(b + (c - b) * alpha for c, b in (
                (colour.redF(), back.redF()), (colour.greenF(), back.greenF()),
                (colour.blueF(), back.blueF()))))
            opaque = QPen(pen)
            opaque.setColor(mixed)
            self._pens[key] = opaque
        return self._pens[key]


def lay_under_data(plot: pg.PlotItem, background: QColor) -> None:
    """Draw ``plot``'s GridAxis axes beneath its data, mixed for ``background``."""
    for side in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(side)
        if isinstance(axis, GridAxis):
            axis.setZValue(plot.getViewBox().zValue() - 1)
            axis.set_background(background)
