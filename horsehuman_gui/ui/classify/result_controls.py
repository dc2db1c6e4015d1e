"""The row above the grid: sort, filter (label, minimum confidence, errors only) and, for
two-class models, the decision threshold as a slider with its value beside it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QVBoxLayout,
                               QWidget)

from horsehuman_gui.ui.classify.result_filter import FilterSpec

_ALL, _ERRORS, _MISTAKES = "__all__", "__errors__", "__mistakes__"
#: (text, key of image_items.SORT_KEYS)
SORTS = (("Name", "name"), ("Label", "label"), ("Most confident first", "confidence"),
         ("Least confident first", "least_confident"))
#: The slider's shortest useful length: at its minimum size hint Fusion draws a lone handle
#: that looks like an unticked check box.
SLIDER_WIDTH = 120
GROUP_SPACING = 12  # pixels between a control and the next label on a row


class ResultControls(QWidget):
    sort_changed = Signal(str)
    filter_changed = Signal(object)  # FilterSpec
    threshold_changed = Signal(float)

    def __init__(self, threshold: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.sort = QComboBox(objectName="sortCombo", toolTip="Order of the pictures")
        for text, key in SORTS:
            self.sort.addItem(text, key)
        self.show_combo = QComboBox(objectName="showCombo", toolTip="Which pictures to show")
        self.min_confidence = QSpinBox(objectName="minConfidence", suffix=" %", maximum=100,
                                       toolTip="Hide results less confident than this")
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal, objectName="thresholdSlider",
                                        minimum=1, maximum=99, pageStep=5,
                                        minimumWidth=SLIDER_WIDTH)
        self.threshold_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.threshold_slider.setTickInterval(10)
        self.threshold_value = QLabel(objectName="thresholdValue")
        # room for "0.50" in this font, so the row does not shift as the value changes
        self.threshold_value.setMinimumWidth(self.fontMetrics().horizontalAdvance("0.00") + 4)
        self.threshold_label = QLabel("Threshold")
        self._build()
        self.set_classes((), False)
        self.set_threshold(threshold)
        self.sort.currentIndexChanged.connect(
            lambda: self.sort_changed.emit(self.sort.currentData()))
        self.show_combo.currentIndexChanged.connect(self._emit_filter)
        self.min_confidence.valueChanged.connect(self._emit_filter)
        self.threshold_slider.valueChanged.connect(self._on_threshold)

    def _build(self) -> None:
        self._groups = [_group(QLabel("Sort by"), self.sort), _group(QLabel("Show"), self.show_combo),
                        _group(QLabel("Confidence at least"), self.min_confidence),
                        _group(self.threshold_label, self.threshold_slider, self.threshold_value)]
        self._threshold_group = self._groups[-1]
        self._binary = False
        self._rows: list[list[QWidget]] = []
        self._lines: list[QHBoxLayout] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._reflow(10_000)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._reflow(event.size().width())

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """A hidden tab already has its size: shown without a resize, it would keep the one
        row ``set_classes`` made while hidden (combo boxes cut short in a 1200 px window)."""
        super().showEvent(event)
        self._reflow(self.width())

    def _reflow(self, width: int) -> None:
        """As many groups on a row as fit in ``width``, the rest on the next rows: in a small
        window the row wraps instead of cutting its combo boxes short."""
        spacing = GROUP_SPACING
        rows, row, used = [], [], 0
        for group in self._groups:
            if group is self._threshold_group and not self._binary:
                continue
            needed = group.sizeHint().width()
            if row and used + spacing + needed > width:
                rows.append(row)
                row, used = [], 0
            row.append(group)
            used += needed + spacing
        rows.append(row)
        if rows != self._rows:
            self._rows = rows
            self._lay_out(rows)

    def _lay_out(self, rows: list[list[QWidget]]) -> None:
        layout = self.layout()
        # The rows' layouts are the ones made here, removed through their own wrappers: taking
        # them back with takeAt() hands Python a second, owning wrapper of the same object
        # (QLayout is both a QObject and a QLayoutItem), which PySide6 then deletes on its own.
        for line in self._lines:
            for group in self._groups:
                line.removeWidget(group)
            layout.removeItem(line)
            line.deleteLater()
        self._lines = []
        for row in rows:
            line = QHBoxLayout()
            self._lines.append(line)
            line.setSpacing(GROUP_SPACING)
            for group in row:
                line.addWidget(group, 1 if group is self._threshold_group else 0)
            if self._threshold_group not in row:
                line.addStretch(1)
            layout.addLayout(line)
        self.setMinimumWidth(max(g.minimumSizeHint().width() for g in self._groups))
        self.updateGeometry()

    def set_classes(self, class_names: tuple[str, ...], binary: bool) -> None:
        """Offer one filter entry per class; the threshold exists for two-class models only."""
        self.show_combo.blockSignals(True)
        self.show_combo.clear()
        self.show_combo.addItem("All pictures", _ALL)
        for name in class_names:
            self.show_combo.addItem(f"Only \u201c{name}\u201d", name)
        self.show_combo.addItem("Only files that failed", _ERRORS)
        self.show_combo.blockSignals(False)
        self._binary = binary
        self._threshold_group.setVisible(binary)
        for widget in self._threshold_widgets():
            widget.setVisible(binary)
        self._rows = []  # lay the groups out again: one more or one fewer
        self._reflow(self.width() if self.isVisible() else 10_000)
        if binary:
            tip = (f"A picture is \u201c{class_names[1]}\u201d when its score for it is above this,"
                   f" else \u201c{class_names[0]}\u201d. Changing it relabels instantly.")
            for widget in self._threshold_widgets():
                widget.setToolTip(tip)
        self._emit_filter()

    def set_mistakes_available(self, available: bool) -> None:
        """Offer "Only mistakes" while the pictures' folders name the model's classes."""
        at = self.show_combo.findData(_MISTAKES)
        if available and at < 0:
            self.show_combo.addItem("Only mistakes (against the folder names)", _MISTAKES)
        elif not available and at >= 0:
            self.show_combo.removeItem(at)  # the current entry: the combo moves on and emits

    def show_mistakes(self, shown: bool) -> None:
        """Choose "Only mistakes" (or all pictures again)."""
        at = self.show_combo.findData(_MISTAKES if shown else _ALL)
        if at >= 0:
            self.show_combo.setCurrentIndex(at)

    def _threshold_widgets(self) -> tuple[QWidget, ...]:
        return self.threshold_label, self.threshold_slider, self.threshold_value

    @property
    def threshold(self) -> float:
        return self.threshold_slider.value() / 100

    def set_threshold(self, value: float) -> None:
        """Move the slider to ``value`` (0.01-0.99, in steps of 0.01); emits if it moved."""
        self.threshold_slider.setValue(round(value * 100))
        self.threshold_value.setText(f"{self.threshold:.2f}")

    def filter_spec(self) -> FilterSpec:
        choice = self.show_combo.currentData()
        return FilterSpec(label=None if choice in (_ALL, _ERRORS, _MISTAKES, None) else choice,
                          min_confidence=self.min_confidence.value() / 100,
                          errors_only=choice == _ERRORS, mistakes_only=choice == _MISTAKES)

    def _emit_filter(self) -> None:
        self.filter_changed.emit(self.filter_spec())

    def _on_threshold(self, percent: int) -> None:
        self.threshold_value.setText(f"{percent / 100:.2f}")
        self.threshold_changed.emit(percent / 100)


def _group(*widgets: QWidget) -> QWidget:
    """Widgets that stay together on one row (a label and its control)."""
    group = QWidget()
    layout = QHBoxLayout(group)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QSlider) else 0)
    return group
