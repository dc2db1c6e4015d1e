"""The row above the grid: sort, filter (label, minimum confidence, errors only) and, for
two-class models, the decision threshold as a slider with its value beside it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QWidget

from horsehuman_gui.ui.classify.result_filter import FilterSpec

_ALL, _ERRORS = "__all__", "__errors__"
#: (text, key of image_items.SORT_KEYS)
SORTS = (("Name", "name"), ("Label", "label"), ("Most confident first", "confidence"),
         ("Least confident first", "least_confident"))
#: The slider's shortest useful length: at its minimum size hint Fusion draws a lone handle
#: that looks like an unticked check box.
SLIDER_WIDTH = 120


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
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (QLabel("Sort by"), self.sort, QLabel("Show"), self.show_combo,
                       QLabel("Confidence at least"), self.min_confidence):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.threshold_label)
        layout.addWidget(self.threshold_slider, 1)
        layout.addWidget(self.threshold_value)

    def set_classes(self, class_names: tuple[str, ...], binary: bool) -> None:
        """Offer one filter entry per class; the threshold exists for two-class models only."""
        self.show_combo.blockSignals(True)
        self.show_combo.clear()
        self.show_combo.addItem("All pictures", _ALL)
        for name in class_names:
            self.show_combo.addItem(f"Only \u201c{name}\u201d", name)
        self.show_combo.addItem("Only files that failed", _ERRORS)
        self.show_combo.blockSignals(False)
        for widget in self._threshold_widgets():
            widget.setVisible(binary)
        if binary:
            tip = (f"A picture is \u201c{class_names[1]}\u201d when its score for it is above this,"
                   f" else \u201c{class_names[0]}\u201d. Changing it relabels instantly.")
            for widget in self._threshold_widgets():
                widget.setToolTip(tip)
        self._emit_filter()

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
        return FilterSpec(label=None if choice in (_ALL, _ERRORS, None) else choice,
                          min_confidence=self.min_confidence.value() / 100,
                          errors_only=choice == _ERRORS)

    def _emit_filter(self) -> None:
        self.filter_changed.emit(self.filter_spec())

    def _on_threshold(self, percent: int) -> None:
        self.threshold_value.setText(f"{percent / 100:.2f}")
        self.threshold_changed.emit(percent / 100)
