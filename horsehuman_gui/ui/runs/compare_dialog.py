"""Two or more runs side by side: a row per setting or figure (``core.run_compare``), a column
per run; rows whose values differ are highlighted, and can be shown alone."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QHeaderView, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from horsehuman_gui.core.run_compare import compare

#: A pale yellow that reads on light and dark palettes alike with the text in black.
DIFFERS = QColor(255, 236, 150)


class CompareDialog(QDialog):
    def __init__(self, records, parent=None):
        super().__init__(parent)
        self.setObjectName("compareRunsDialog")
        self.setWindowTitle(f"Compare {len(records)} runs")
        self.rows = compare(records)
        self.table = QTableWidget(len(self.rows), len(records), objectName="compareTable")
        self.table.setHorizontalHeaderLabels(
            [f"{r.dataset_name}\n{r.started[:16].replace('T', ' ')}" for r in records])
        self.table.setVerticalHeaderLabels([row.label for row in self.rows])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self._fill()
        self.only_differences = QCheckBox("Only rows that differ", objectName="onlyDifferences")
        self.only_differences.toggled.connect(self._filter)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.only_differences)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(min(260 + 220 * len(records), 1200), 640)

    def _fill(self) -> None:
        bold = QFont()
        bold.setBold(True)
        for r, row in enumerate(self.rows):
            for c, value in enumerate(row.values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                if row.differs:
                    item.setBackground(QBrush(DIFFERS))
                    item.setForeground(QBrush(Qt.GlobalColor.black))
                    item.setFont(bold)
                self.table.setItem(r, c, item)
            header = QTableWidgetItem(row.label)
            header.setToolTip(row.section)
            if row.differs:
                header.setFont(bold)
            self.table.setVerticalHeaderItem(r, header)

    def _filter(self, only: bool) -> None:
        for r, row in enumerate(self.rows):
            self.table.setRowHidden(r, only and not row.differs)

    def differing_labels(self) -> list[str]:
        return [row.label for row in self.rows if row.differs]
