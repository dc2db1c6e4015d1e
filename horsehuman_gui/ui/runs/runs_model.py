"""The recorded runs as a table model: one row per ``RunRecord``, newest first.

Display texts come from ``core.run_compare.summary``; ``SORT_ROLE`` holds a value that sorts
right (a number for accuracy, duration and size), ``RECORD_ROLE`` the record itself.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from horsehuman_gui.core.run_compare import summary
from horsehuman_gui.core.runs import RunRecord

SORT_ROLE = Qt.ItemDataRole.UserRole
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1

#: (summary key, heading, sort key of a record)
COLUMNS = (
    ("date", "Date", lambda r: r.started),
    ("dataset", "Dataset", lambda r: r.dataset_name.lower()),
    ("model", "Model", lambda r: str(r.config.get("model", ""))),
    ("accuracy", "Val. accuracy", lambda r: -1.0 if r.val_accuracy is None else r.val_accuracy),
    ("epochs", "Epochs", lambda r: len(r.history)),
    ("duration", "Duration", lambda r: r.duration_s),
    ("size", "Size", lambda r: r.model_size() or -1),
)
_NUMERIC = {"accuracy", "epochs", "duration", "size"}


class RunsTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._records: list[RunRecord] = []
        self._rows: list[dict[str, str]] = []
        self._keys: list[tuple] = []

    def set_records(self, records: list[RunRecord]) -> None:
        """Replace every row (file sizes are read now, once, not on every paint)."""
        self.beginResetModel()
        self._records = list(records)
        self._rows = [summary(r) for r in self._records]
        self._keys = [tuple(key(r) for _, _, key in COLUMNS) for r in self._records]
        self.endResetModel()

    def record(self, row: int) -> RunRecord:
        return self._records[row]

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self._records)):
            return None
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._rows[index.row()][key]
        if role == SORT_ROLE:
            return self._keys[index.row()][index.column()]
        if role == RECORD_ROLE:
            return self._records[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(self._records[index.row()])
        if role == Qt.ItemDataRole.TextAlignmentRole and key in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(COLUMNS):
            return COLUMNS[section][1]
        return None

    @staticmethod
    def _tooltip(record: RunRecord) -> str:
        model = record.model_path or "not saved"
        if record.model_path and record.model_size() is None:
            model += " (no longer there)"
        return f"{record.dataset_root}\nModel: {model}\nRun {record.id}"
