"""The live training plot: loss above, accuracy below, epochs on the shared x axis.

Curves are created once and fed with ``setData``; per-batch curves are downsampled ("peak") and
clipped to the view, so a long run stays cheap to redraw (pyqtgraph's own advice).

The axes (which also draw the grid) are the expensive part of a redraw (~13 ms of the ~15 ms
each batch cost, before ``GridAxis`` made their lines opaque), and while training that is
GUI-thread time spent fighting the training threads for the GIL. So their ranges stay put: x
spans the whole run from the start, accuracy is 0-1, and the loss axis goes from 0 to a round
number that only moves when a loss rises above it.
Unchanged axes are then drawn from a pixmap cache (~1 ms a batch).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QSize
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPalette, QPixmap, QResizeEvent
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QVBoxLayout, QWidget

from horsehuman_gui.core.config import BatchProgress, EpochMetrics
from horsehuman_gui.ui.common.colours import TRAIN_COLOUR, VALIDATION_COLOUR
from horsehuman_gui.ui.common.plot_axes import GridAxis, lay_under_data


class _EdgeLabelAxis(GridAxis):
    """A vertical axis whose end labels may reach half a line beyond it. With the grid on,
    pyqtgraph drops every label not wholly inside the axis, and so "1.0" (and "0.0"), which sit
    at its very ends, were never shown."""

    def boundingRect(self):  # noqa: N802 - Qt's name
        font = self.style["tickFont"] or self.font()
        margin = QFontMetricsF(font).height() / 2 + 1
        return super().boundingRect().adjusted(0, -margin, 0, margin)


def round_up(value: float) -> float:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten that is >= ``value`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    return next(power * step for step in (1, 2, 2.5, 5, 10) if power * step >= value * (1 - 1e-9))


class TrainingPlot(QWidget):
    """``add_batch``/``add_epoch`` append points; ``clear`` starts a new run."""

    def __init__(self, parent: QWidget | None = None, *, deferred: bool = False):
        """``deferred``: build nothing yet; ``build_step()`` builds a part per call (so the GUI
        thread never stops for the whole ~40 ms at once) and ``finish_building()`` the rest.
        No other method may be called before it is built."""
        super().__init__(parent)
        self._batches: dict[str, list[float]] = {"x": [], "loss": [], "accuracy": []}
        self._epochs: dict[str, list[float]] = {
            k: [] for k in ("x", "loss", "accuracy", "vx", "val_loss", "val_accuracy")}
        self._loss_top = 0.0  # the largest finite loss shown so far
        self._loss_range = (0.0, 1.0)  # the loss axis's y range as last set here
        self.curves = {}
        self._building = self._build()
        if not deferred:
            self.finish_building()

    @property
    def is_built(self) -> bool:
        return self._building is None

    def build_step(self) -> bool:
        """Build the next part (up to ~15 ms of the GUI thread); False once the plot is built."""
        if self._building is not None:
            try:
                next(self._building)
                return True
            except StopIteration:
                self._building = None
        return False

    def finish_building(self) -> None:
        while self.build_step():
            pass

    def _build(self):
        self.view = pg.GraphicsLayoutWidget()
        self.view.setObjectName("trainingPlot")
        # The legend has a row of its own: laid over a plot it hid the curves in a small window.
        self.legend = pg.LegendItem(colCount=3)
        self.view.addItem(self.legend, row=0, col=0)
        yield
        plots = []
        for row, name, unit in ((1, "loss", "Loss"), (2, "accuracy", "Accuracy")):
            plot = self.view.addPlot(row=row, col=0, enableMenu=False,  # no menus made to hide
                                     axisItems={"left": _EdgeLabelAxis("left"),
                                                "bottom": GridAxis("bottom")})
            yield
            self._setup_plot(plot, name, unit)
            plots.append(plot)
            yield
        self.loss_plot, self.accuracy_plot = plots
        self._link_plots()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.apply_palette()

    def _setup_plot(self, plot, name: str, unit: str) -> None:
        plot.setLabel("left", unit)
        for side in ("left", "bottom"):  # "Loss (x0.001)", "epoch (x0.001)" help nobody
            plot.getAxis(side).enableAutoSIPrefix(False)
        plot.getAxis("left").setWidth(56)  # same width in both plots: the x axes line up
        plot.setLabel("bottom", "epoch")
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setDownsampling(mode="peak")
        plot.setClipToView(True)
        for side in ("left", "bottom"):  # redrawn only when their range or style changes
            plot.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.curves[f"batch_{name}"] = plot.plot(
            name="training (per batch)", pen=pg.mkPen(TRAIN_COLOUR, width=1, alpha=0.4))
        self.curves[f"batch_{name}"].setOpacity(0.45)
        self.curves[f"epoch_{name}"] = plot.plot(
            name="training (epoch)", pen=pg.mkPen(TRAIN_COLOUR, width=2.5),
            symbol="o", symbolSize=7, symbolBrush=TRAIN_COLOUR, symbolPen=None)
        self.curves[f"val_{name}"] = plot.plot(
            name="validation (epoch)", pen=pg.mkPen(VALIDATION_COLOUR, width=2.5),
            symbol="s", symbolSize=7, symbolBrush=VALIDATION_COLOUR, symbolPen=None)
        if name == "loss":  # one legend serves both plots: same curves, same colours
            for key in ("batch", "epoch", "val"):
                curve = self.curves[f"{key}_{name}"]
                self.legend.addItem(curve, curve.name())

    def _link_plots(self) -> None:
        self.accuracy_plot.setXLink(self.loss_plot)
        self.accuracy_plot.setYRange(0, 1, padding=0.02)
        self.accuracy_plot.getViewBox().setLimits(yMin=-0.05, yMax=1.05)
        self.loss_plot.getViewBox().setLimits(yMin=-0.05, xMin=0)
        self.loss_plot.enableAutoRange(y=False)  # see _show_loss_up_to
        self._set_loss_range(1.0)
        self.accuracy_plot.getViewBox().setLimits(xMin=0)

    def apply_palette(self) -> None:
        """Take background and text colours from the Qt palette (works with dark themes)."""
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        self.view.setBackground(base)
        for plot in (self.loss_plot, self.accuracy_plot):
            lay_under_data(plot, base)
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(pg.mkPen(QColor(text)))
                axis.setTextPen(pg.mkPen(QColor(text)))
        legend = self.legend
        legend.setLabelTextColor(text)
        for _, label in legend.items:  # setLabelTextColor only stores it; redraw the labels
            label.setText(label.text)
        legend.setBrush(pg.mkBrush(QColor(base.red(), base.green(), base.blue(), 200)))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if not self.is_built:
            return
        # The legend's entries side by side while they fit, else on more rows.
        width = event.size().width()
        columns = 3 if width >= 520 else 2 if width >= 320 else 1
        if self.legend.columnCount != columns:
            self.legend.setColumnCount(columns)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.PaletteChange and self.is_built:
            self.apply_palette()
        super().changeEvent(event)

    def clear(self, epochs: int | None = None) -> None:
        for series in (*self._batches.values(), *self._epochs.values()):
            series.clear()
        for curve in self.curves.values():
            curve.setData([], [])
        self._loss_top = 0.0
        self._set_loss_range(1.0)
        if epochs:
            self.loss_plot.setXRange(0, epochs, padding=0.02)

    def draw_offscreen(self):
        """``draw_axes`` for a hidden plot laid out at the size it will be shown at: showing it
        later costs less (~20 instead of ~55 ms, the first time the Train tab opens)."""
        view = self.view
        if view.width() <= 0 or view.height() <= 0:
            return
        # A hidden widget's resize event waits for it to show; pyqtgraph lays its scene out then.
        QCoreApplication.sendEvent(view, QResizeEvent(view.size(), QSize()))
        yield from self.draw_axes()

    def draw_axes(self):
        """Draw each axis into a throw-away pixmap, one per step of this generator (each yields
        first). Drawing the axes is most of a full paint (~25 of ~35 ms), and pyqtgraph keeps
        an axis's drawing until its size or range changes: the next paint reuses them."""
        canvas = QPixmap(16, 16)
        for plot in (self.loss_plot, self.accuracy_plot):
            for side in ("left", "bottom"):
                yield True
                painter = QPainter(canvas)
                try:
                    plot.getAxis(side).paint(painter, QStyleOptionGraphicsItem(), None)
                finally:
                    painter.end()

    def paint_now(self) -> None:
        """Apply pending changes and paint them before returning (not at the next event loop)."""
        QCoreApplication.sendPostedEvents(self.view.scene())  # the scene's queued dirty items
        self.view.viewport().repaint()

    def add_batch(self, progress: BatchProgress) -> None:
        b = self._batches
        b["x"].append(progress.position)
        b["loss"].append(progress.loss)
        b["accuracy"].append(progress.accuracy)
        self.curves["batch_loss"].setData(b["x"], b["loss"])
        self.curves["batch_accuracy"].setData(b["x"], b["accuracy"])
        self._show_loss_up_to(progress.loss)

    def add_epoch(self, metrics: EpochMetrics) -> None:
        e = self._epochs
        e["x"].append(float(metrics.epoch))
        e["loss"].append(metrics.loss)
        e["accuracy"].append(metrics.accuracy)
        if metrics.val_loss is not None and metrics.val_accuracy is not None:
            e["vx"].append(float(metrics.epoch))
            e["val_loss"].append(metrics.val_loss)
            e["val_accuracy"].append(metrics.val_accuracy)
        self.curves["epoch_loss"].setData(e["x"], e["loss"])
        self.curves["epoch_accuracy"].setData(e["x"], e["accuracy"])
        self.curves["val_loss"].setData(e["vx"], e["val_loss"])
        self.curves["val_accuracy"].setData(e["vx"], e["val_accuracy"])
        self._show_loss_up_to(metrics.loss, metrics.val_loss)

    def _show_loss_up_to(self, *losses: float | None) -> None:
        """Widen the loss axis to 0..a round number above every loss so far; never narrow it.

        Left alone once the person has zoomed or dragged the plot (the range is no longer ours).
        Non-finite losses (a run that diverged) are drawn where they can be, not ranged for.
        """
        finite = [loss for loss in losses if loss is not None and math.isfinite(loss)]
        self._loss_top = max([self._loss_top, *finite])
        top = round_up(self._loss_top) if self._loss_top > 0 else 1.0
        if self._loss_range[1] >= top:
            return
        shown = self.loss_plot.getViewBox().viewRange()[1]
        if all(math.isclose(a, b) for a, b in zip(shown, self._loss_range)):
            self._set_loss_range(top)

    def _set_loss_range(self, top: float) -> None:
        self.loss_plot.setYRange(0, top, padding=0.02)
        self._loss_range = tuple(self.loss_plot.getViewBox().viewRange()[1])

    def point_counts(self) -> dict[str, int]:
        """How many points each curve holds (tests and the benchmark read this)."""
        return {name: len(curve.getData()[0] if curve.getData()[0] is not None else [])
                for name, curve in self.curves.items()}
