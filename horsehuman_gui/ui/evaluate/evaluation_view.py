"""The figures of one evaluation: accuracy, a table per class, the confusion matrix, and for
two classes the threshold slider and the ROC curve.

With per-image scores (``show_scores``) moving the threshold re-reads the stored scores (no new
prediction) and every figure follows at once. A stored evaluation (``show_stored``, from the
model file) has only the figures.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QSlider,
                               QTableView, QVBoxLayout, QWidget)

from horsehuman_gui.ui.evaluate.evaluation_jobs import STORED_NOTE
from horsehuman_gui.ui.evaluate.evaluation_tables import ClassFiguresModel, ConfusionModel


class EvaluationView(QWidget):
    cell_chosen = Signal(int, int)  # true class, predicted class
    threshold_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.scores = None  # core.evaluation.Scores, or None (stored figures or nothing)
        self.evaluation = None
        self.roc = None  # RocPlot, made for the first two-class scores
        self.confusion = ConfusionModel(self)
        self.figures = ClassFiguresModel(self)
        self._build()
        self.threshold_slider.valueChanged.connect(self._on_threshold)
        self.confusion_table.clicked.connect(
            lambda index: self.cell_chosen.emit(index.row(), index.column()))
        self.clear("")

    def _build(self) -> None:
        self.accuracy_label = QLabel(objectName="accuracyLabel", wordWrap=True)
        font = self.accuracy_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.accuracy_label.setFont(font)
        self.note_label = QLabel(objectName="evaluationNote", wordWrap=True)
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal, objectName="evalThreshold",
                                        minimum=1, maximum=99, value=50, pageStep=5)
        self.threshold_value = QLabel("0.50", objectName="evalThresholdValue")
        self.threshold_row = QWidget()
        row = QHBoxLayout(self.threshold_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Threshold"))
        row.addWidget(self.threshold_slider, 1)
        row.addWidget(self.threshold_value)
        self.class_table = _table("classTable", self.figures)
        self.class_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.confusion_table = _table("confusionTable", self.confusion)
        self.confusion_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Stretch)
        self.confusion_table.setCursor(Qt.CursorShape.PointingHandCursor)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.accuracy_label, self.note_label, self.threshold_row,
                       self.class_table, QLabel("Confusion matrix (rows: the true class; "
                                                "click a cell to see its pictures)",
                                                wordWrap=True),
                       self.confusion_table):
            self._layout.addWidget(widget)
        self._layout.addStretch(1)

    # --- what is shown ------------------------------------------------------------------------
    def clear(self, message: str) -> None:
        self.scores = self.evaluation = None
        self.accuracy_label.setText("")
        self.note_label.setText(message)
        self._set_evaluation(None)
        self.threshold_row.setVisible(False)
        self._show_roc(False)

    def show_stored(self, evaluation, what: str) -> None:
        """Figures without pictures (from a model file): no ROC, a fixed threshold."""
        self.scores = None
        self.note_label.setText(f"{what}. {STORED_NOTE}")
        self._set_threshold_quietly(evaluation.threshold or 0.5)
        self.threshold_row.setVisible(evaluation.threshold is not None)
        self.threshold_slider.setEnabled(False)
        self._show_roc(False)
        self._set_evaluation(evaluation)

    def show_scores(self, scores, note: str = "") -> None:
        """Every figure of ``scores`` (a core Scores) at the slider's threshold."""
        self.scores = scores
        self.note_label.setText(note)
        self.threshold_row.setVisible(scores.binary)
        self.threshold_slider.setEnabled(True)
        if scores.binary:
            self._roc_plot().set_curve(scores.roc(), scores.class_names[1])
        self._show_roc(scores.binary)
        self._set_evaluation(scores.evaluate(self.threshold))

    @property
    def threshold(self) -> float:
        return self.threshold_slider.value() / 100

    def set_threshold(self, value: float) -> None:
        self.threshold_slider.setValue(round(value * 100))

    # --- internals ----------------------------------------------------------------------------
    def _set_evaluation(self, evaluation) -> None:
        self.evaluation = evaluation
        self.confusion.set_evaluation(evaluation)
        self.figures.set_evaluation(evaluation)
        for table in (self.class_table, self.confusion_table):
            table.setVisible(evaluation is not None)
            _fit_height(table)
        if evaluation is None:
            return
        correct = sum(evaluation.confusion[i][i] for i in range(len(evaluation.class_names)))
        text = (f"Accuracy {evaluation.accuracy:.1%} ({correct:,} of {evaluation.n_images:,} "
                "correct)")
        if evaluation.auc is not None:
            text += f" \u00b7 AUC {evaluation.auc:.3f}"
        self.accuracy_label.setText(text)
        if self.scores is not None and self.scores.binary and self.roc is not None:
            (tn, fp), (fn, tp) = evaluation.confusion
            self.roc.set_point(fp / max(tn + fp, 1), tp / max(fn + tp, 1))

    def _on_threshold(self, percent: int) -> None:
        self.threshold_value.setText(f"{percent / 100:.2f}")
        if self.scores is None:
            return
        self._set_evaluation(self.scores.evaluate(percent / 100))
        self.threshold_changed.emit(percent / 100)

    def _set_threshold_quietly(self, value: float) -> None:
        self.threshold_slider.blockSignals(True)
        self.threshold_slider.setValue(round(value * 100))
        self.threshold_slider.blockSignals(False)
        self.threshold_value.setText(f"{self.threshold:.2f}")

    def _roc_plot(self):
        if self.roc is None:
            from horsehuman_gui.ui.evaluate.roc_plot import RocPlot  # pyqtgraph: on first use

            self.roc = RocPlot()
            self._layout.insertWidget(self._layout.count() - 1, self.roc, 1)
        return self.roc

    def _show_roc(self, shown: bool) -> None:
        if self.roc is not None:
            self.roc.setVisible(shown)


def _table(name: str, model) -> QTableView:
    table = QTableView(objectName=name)
    table.setModel(model)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return table


def _fit_height(table: QTableView) -> None:
    """As tall as its rows: a table of three classes needs no scroll bar nor empty space."""
    table.resizeRowsToContents()
    rows = sum(table.rowHeight(r) for r in range(table.model().rowCount()))
    height = rows + table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
    table.setFixedHeight(height + 2)
