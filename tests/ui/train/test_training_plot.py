"""The live plot keeps its axes still, so a batch's redraw does not redraw (and re-grid) them."""

from __future__ import annotations

import math

import pytest
from PySide6.QtWidgets import QGraphicsItem

from horsehuman_gui.core.config import BatchProgress, EpochMetrics
from horsehuman_gui.ui.train.training_plot import TrainingPlot, round_up


@pytest.fixture
def plot(qtbot):
    plot = TrainingPlot()
    qtbot.addWidget(plot)
    plot.resize(600, 400)
    plot.show()
    plot.clear(epochs=3)
    return plot


def _batch(position: int, loss: float) -> BatchProgress:
    return BatchProgress(epoch=1, epochs=3, batch=position, batches=10, loss=loss,
                         accuracy=0.5, elapsed=float(position))


def _loss_range(plot) -> tuple[float, float]:
    return tuple(plot.loss_plot.getViewBox().viewRange()[1])


@pytest.mark.parametrize("value, expected", [
    (0.69, 1.0), (1.0, 1.0), (1.0986, 2.0), (2.2, 2.5), (3.0, 5.0), (7.3, 10.0), (12.0, 20.0),
    (0.0004, 0.0005), (0.02, 0.02)])
def test_round_up(value, expected):
    assert math.isclose(round_up(value), expected)


def test_axes_are_cached_pixmaps(plot):
    for chart in (plot.loss_plot, plot.accuracy_plot):
        for side in ("left", "bottom"):
            assert chart.getAxis(side).cacheMode() == \
                QGraphicsItem.CacheMode.DeviceCoordinateCache


def test_loss_axis_widens_to_round_numbers_and_never_narrows(plot):
    plot.add_batch(_batch(1, 0.69))
    low, high = _loss_range(plot)
    assert low < 0 < 0.69 < 1.0 < high < 1.06  # 0..1 with a little padding

    for position, loss in enumerate([0.6, 0.5, 0.3], start=2):  # falling: nothing moves
        plot.add_batch(_batch(position, loss))
        assert _loss_range(plot) == (low, high)

    plot.add_batch(_batch(5, 3.2))  # a spike widens it to the next round number
    assert 5.0 < _loss_range(plot)[1] < 5.3
    plot.add_batch(_batch(6, 0.1))
    assert 5.0 < _loss_range(plot)[1] < 5.3

    plot.add_epoch(EpochMetrics(epoch=1, epochs=3, loss=0.4, accuracy=0.8, val_loss=7.0,
                                val_accuracy=0.5, seconds=1.0))
    assert 10.0 < _loss_range(plot)[1] < 10.5  # validation loss counts too


def test_non_finite_loss_is_not_ranged_for(plot):
    plot.add_batch(_batch(1, 0.69))
    before = _loss_range(plot)
    plot.add_batch(_batch(2, float("nan")))
    plot.add_batch(_batch(3, float("inf")))
    assert _loss_range(plot) == before
    assert plot.point_counts()["batch_loss"] == 3


def test_a_zoomed_plot_is_left_as_the_person_set_it(plot):
    plot.add_batch(_batch(1, 0.69))
    plot.loss_plot.setYRange(0.2, 0.4, padding=0)  # as a mouse wheel or drag would
    plot.add_batch(_batch(2, 4.0))
    low, high = _loss_range(plot)
    assert math.isclose(low, 0.2) and math.isclose(high, 0.4)


def test_clear_starts_the_next_run_at_zero_to_one(plot):
    plot.add_batch(_batch(1, 40.0))
    assert _loss_range(plot)[1] > 50
    plot.clear(epochs=2)
    assert 1.0 < _loss_range(plot)[1] < 1.06
    assert plot.point_counts()["batch_loss"] == 0


@pytest.mark.parametrize("paint_now", [True, False])
def test_paint_now_leaves_no_axis_to_redraw_later(plot, qtbot, monkeypatch, paint_now):
    from pyqtgraph import AxisItem

    qtbot.wait(50)  # the first paint of the new plot
    plot.clear(epochs=7)  # the x axes change: they must be redrawn
    if paint_now:
        plot.paint_now()
    painted_later = []
    original = AxisItem.paint
    monkeypatch.setattr(AxisItem, "paint",
                        lambda self, *args: (painted_later.append(self), original(self, *args)))
    qtbot.wait(100)
    assert (painted_later == []) == paint_now


def _tick_labels(axis) -> list[str]:
    from PySide6.QtGui import QImage, QPainter

    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        return [text for _rect, _flags, text in axis.generateDrawSpecs(painter)[2]]
    finally:
        painter.end()


def test_accuracy_axis_shows_both_ends(qtbot, plot):
    qtbot.waitUntil(lambda: plot.accuracy_plot.getAxis("left").height() > 50)
    labels = _tick_labels(plot.accuracy_plot.getAxis("left"))
    assert labels[0] in ("0", "0.0") and labels[-1] == "1.0"  # pyqtgraph dropped both


@pytest.mark.parametrize("size", [(600, 400), (360, 220)])
def test_the_legend_never_covers_the_curves(qtbot, plot, size):
    plot.resize(*size)
    qtbot.waitUntil(lambda: plot.legend.sceneBoundingRect().height() > 0)
    qtbot.wait(20)
    legend = plot.legend.sceneBoundingRect()
    for each in (plot.loss_plot, plot.accuracy_plot):
        assert not legend.intersects(each.getViewBox().sceneBoundingRect())
