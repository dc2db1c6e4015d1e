"""GridAxis: opaque grid lines that look as pyqtgraph's translucent ones, beneath the data."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor, QImage, QPainter

from horsehuman_gui.ui.common.plot_axes import GridAxis, lay_under_data

BACKGROUND = QColor(250, 250, 245)
CURVE = QColor(220, 30, 30)


@pytest.fixture
def plot(qtbot):
    widget = pg.PlotWidget(axisItems={"left": GridAxis("left"), "bottom": GridAxis("bottom")})
    qtbot.addWidget(widget)
    widget.setBackground(BACKGROUND)
    widget.showGrid(x=True, y=True, alpha=0.3)
    widget.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    widget.getAxis("bottom").setPen(pg.mkPen(QColor(20, 20, 20)))
    lay_under_data(widget.getPlotItem(), BACKGROUND)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _specs(axis, draw_specs):
    image = QImage(10, 10, QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    try:
        return draw_specs(axis, painter)
    finally:
        painter.end()


def test_each_grid_line_is_pyqtgraphs_colour_mixed_with_the_background(plot):
    axis = plot.getAxis("bottom")
    ours = _specs(axis, GridAxis.generateDrawSpecs)[1]
    theirs = _specs(axis, pg.AxisItem.generateDrawSpecs)[1]

    assert len(ours) == len(theirs) > 5
    assert any(pen.color().alpha() < 255 for pen, _, _ in theirs)  # the grid is translucent
    for (mine, *line), (pen, *same_line) in zip(ours, theirs):
        assert line == same_line and mine.color().alpha() == 255
        alpha = pen.color().alphaF()
        for channel in ("red", "green", "blue"):
            expected = getattr(BACKGROUND, channel)() * (1 - alpha) \
                + getattr(pen.color(), channel)() * alpha
            assert abs(getattr(mine.color(), channel)() - expected) <= 1


def test_a_curve_crossing_the_grid_is_drawn_over_it(plot, qtbot):
    plot.plot([0, 1], [0.5, 0.5], pen=pg.mkPen(CURVE, width=5))
    qtbot.wait(50)
    image = plot.grab().toImage()
    view = plot.getPlotItem().getViewBox()
    left = plot.mapFromScene(view.mapViewToScene(pg.Point(0.02, 0.5)))
    right = plot.mapFromScene(view.mapViewToScene(pg.Point(0.98, 0.5)))

    row = [image.pixelColor(x, left.y()) for x in range(left.x(), right.x())]
    assert len(row) > 300
    assert all(colour.rgb() == CURVE.rgb() for colour in row)  # no grid line crosses it out


def test_a_new_background_mixes_the_lines_again(plot):
    axis = plot.getAxis("bottom")
    before = {pen.color().rgb() for pen, _, _ in _specs(axis, GridAxis.generateDrawSpecs)[1]}
    axis.set_background(QColor(30, 30, 30))
    after = {pen.color().rgb() for pen, _, _ in _specs(axis, GridAxis.generateDrawSpecs)[1]}

    assert before and after and not before & after
