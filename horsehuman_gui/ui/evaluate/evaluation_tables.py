"""Table models over an ``Evaluation``: the per-class figures and the confusion matrix.

The matrix colours each cell by its share of the true class (its row): right answers in blue,
mistakes in vermilion (Okabe-Ito, readable with colour-blindness), through Qt's own
BackgroundRole and ForegroundRole, so the default delegate draws it.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from horsehuman_gui.ui.common import qt_compat  # noqa: F401 - PySide6 6.12 refcount workaround

RIGHT_COLOUR = QColor("#0072B2")
WRONG_COLOUR = QColor("#D55E00")
SHARE_ROLE = Qt.ItemDataRole.UserRole + 1  # float: the cell's share of its row
_FIGURES = (("Precision", "precision"), ("Recall", "recall"), ("F1", "f1"))


def _blend(colour: QColor, share: float) -> QColor:
    """``colour`` over white, as strong as ``share`` (0-1); a faint tint for any count > 0."""
    strength = 0.0 if share <= 0 else 0.12 + 0.88 * share
    return QColor.fromRgbF(*(1 - strength + strength * c for c in colour.getRgbF()[:3]))


class ConfusionModel(QAbstractTableModel):
    """Rows: true class; columns: predicted class; each cell its count."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._names: tuple[str, ...] = ()
        self._counts: tuple[tuple[int, ...], ...] = ()

    def set_evaluation(self, evaluation) -> None:
        """Show ``evaluation``'s matrix (None: empty)."""
        self.beginResetModel()
        self._names = tuple(evaluation.class_names) if evaluation is not None else ()
        self._counts = tuple(evaluation.confusion) if evaluation is not None else ()
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._counts)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._counts)

    def count(self, true: int, predicted: int) -> int:
        return self._counts[true][predicted]

    def share(self, true: int, predicted: int) -> float:
        total = sum(self._counts[true])
        return self._counts[true][predicted] / total if total else 0.0

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        true, predicted = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{self.count(true, predicted):,}"
        if role == SHARE_ROLE:
            return self.share(true, predicted)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._background(true, predicted)
        if role == Qt.ItemDataRole.ForegroundRole:
            dark = self.share(true, predicted) > 0.45
            return QColor("white") if dark else QColor("black")
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(true, predicted)
        return None

    def _background(self, true: int, predicted: int) -> QColor:
        colour = RIGHT_COLOUR if true == predicted else WRONG_COLOUR
        return _blend(colour, self.share(true, predicted))

    def _tooltip(self, true: int, predicted: int) -> str:
        name, guess = self._names[true], self._names[predicted]
        what = "right" if true == predicted else f"taken for \u201c{guess}\u201d"
        return (f"{self.count(true, predicted):,} \u201c{name}\u201d picture(s) {what} "
                f"({self.share(true, predicted):.1%} of \u201c{name}\u201d). Click to see them.")

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole or section >= len(self._names):
            return None
        if orientation == Qt.Orientation.Vertical:
            return f"is {self._names[section]}"
        return f"taken for\n{self._names[section]}"


class ClassFiguresModel(QAbstractTableModel):
    """One row per class: precision, recall, F1 (as percentages) and its number of images."""

    HEADERS = ("Class", *(text for text, _ in _FIGURES), "Images")

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows = ()

    def set_evaluation(self, evaluation) -> None:
        self.beginResetModel()
        self._rows = tuple(evaluation.per_class) if evaluation is not None else ()
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        figures, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return figures.name
            if column == len(self.HEADERS) - 1:
                return f"{figures.support:,}"
            return f"{getattr(figures, _FIGURES[column - 1][1]):.1%}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return _HEADER_TIPS.get(section)
        return None


_HEADER_TIPS = {
    1: "Of the pictures taken for this class, the share that really are",
    2: "Of the pictures of this class, the share recognised",
    3: "The harmonic mean of precision and recall",
    4: "Pictures of this class evaluated",
}
