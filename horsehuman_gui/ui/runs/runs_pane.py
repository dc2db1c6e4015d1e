"""The Runs view: every training run recorded (``core.runs``), newest first.

Select one to open its model or delete it, two or more to compare them side by side. The list is
read again each time the view is shown (a run recorded meanwhile appears; models saved before
runs were recorded are added once, ``core.run_import``). "Find suspected
label errors…" looks through the open dataset (``label_errors_dialog``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel,
                               QMessageBox, QPushButton, QTableView, QVBoxLayout, QWidget)

from horsehuman_gui.core import runs
from horsehuman_gui.core.run_compare import format_size
from horsehuman_gui.core.run_import import record_unrecorded_models
from horsehuman_gui.ui.common.errors import show_error
from horsehuman_gui.ui.runs.compare_dialog import CompareDialog
from horsehuman_gui.ui.runs.runs_model import RECORD_ROLE, SORT_ROLE, RunsTableModel

logger = logging.getLogger(__name__)


class RunsPane(QWidget):
    open_model_requested = Signal(object)  # Path of the run's model file
    status_message = Signal(str)

    def __init__(self, tf_loader=None, parent=None):
        super().__init__(parent)
        self._tf = tf_loader
        self._report = None
        self.model = RunsTableModel(self)
        self.proxy = QSortFilterProxyModel(self, sortRole=SORT_ROLE)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView(objectName="runsTable", sortingEnabled=True,
                                alternatingRowColors=True)
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.summary = QLabel(objectName="runsSummary", wordWrap=True)
        self.compare_button = QPushButton("Compare…", objectName="compareRuns")
        self.compare_button.setToolTip("Show the selected runs side by side (select two or more)")
        self.open_button = QPushButton("Open model", objectName="openRunModel")
        self.open_button.setToolTip("Use the selected run's model on the Classify tab")
        self.delete_button = QPushButton("Delete…", objectName="deleteRuns")
        self.delete_button.setToolTip("Delete the selected runs with their files (asks first)")
        self.label_errors_button = QPushButton("Find suspected label errors…",
                                               objectName="findLabelErrors", enabled=False)
        self.label_errors_button.setToolTip(
            "Pictures of the open dataset that a model trained without them confidently puts "
            "in another class")
        self._build()
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(self.open_selected)
        self.compare_button.clicked.connect(self.compare_selected)
        self.open_button.clicked.connect(self.open_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.label_errors_button.clicked.connect(self.find_label_errors)
        self._update_buttons()

    def _build(self) -> None:
        buttons = QHBoxLayout()
        for button in (self.compare_button, self.open_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.label_errors_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    # --- list ----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the records again (cheap: one small JSON file per run)."""
        chosen = {r.id for r in self.selected()}
        record_unrecorded_models()
        self.model.set_records(runs.list_runs())
        records = [self.model.record(i) for i in range(self.model.rowCount())]
        total = sum(r.model_size() or 0 for r in records)
        self.summary.setText(
            f"{len(records)} run{'s' * (len(records) != 1)} recorded; their model files take "
            f"{format_size(total)}." if records else
            "No runs recorded yet: each training run appears here with its settings, figures "
            "and model file.")
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data(RECORD_ROLE).id in chosen:
                self.table.selectRow(row)
        self.table.resizeColumnsToContents()
        self._update_buttons()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()

    def selected(self) -> list:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return [index.data(RECORD_ROLE) for index in sorted(rows, key=lambda i: i.row())]

    def select_ids(self, ids) -> None:
        """Select the runs ``ids`` (tests, and after a refresh)."""
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data(RECORD_ROLE).id in ids:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def _update_buttons(self, *args) -> None:
        chosen = self.selected()
        self.compare_button.setEnabled(len(chosen) >= 2)
        self.open_button.setEnabled(len(chosen) == 1 and chosen[0].model_size() is not None)
        self.delete_button.setEnabled(bool(chosen))

    # --- actions -------------------------------------------------------------------------
    def compare_selected(self) -> CompareDialog | None:
        chosen = self.selected()
        if len(chosen) < 2:
            return None
        dialog = CompareDialog(chosen, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_selected(self, *args) -> None:
        chosen = self.selected()
        if len(chosen) == 1 and chosen[0].model_path and Path(chosen[0].model_path).is_file():
            self.open_model_requested.emit(Path(chosen[0].model_path))

    def delete_selected(self) -> None:
        chosen = self.selected()
        if not chosen:
            return
        choice = ask_delete(self, chosen)
        if choice is None:
            return
        removed = 0
        for record in chosen:
            try:
                runs.delete_run(record.id, user_files=choice)
                removed += 1
            except runs.RunError as exc:
                show_error(self, f"Run {record.dataset_name} ({record.started}) could not be "
                           "deleted.", hint=str(exc))
                break
        self.refresh()
        self.status_message.emit(f"Deleted {removed} run{'s' * (removed != 1)}.")

    # --- label errors --------------------------------------------------------------------
    def set_report(self, report) -> None:
        """The open dataset (None: none), searched by "Find suspected label errors…"."""
        self._report = report
        self.label_errors_button.setEnabled(report is not None)

    def shutdown(self) -> None:
        """Stop a label error search still running (the window is closing)."""
        from horsehuman_gui.ui.runs.label_errors_dialog import LabelErrorsDialog

        for dialog in self.findChildren(LabelErrorsDialog):
            dialog.stop_search()

    def find_label_errors(self):
        if self._report is None:
            return None
        from horsehuman_gui.ui.runs.label_errors_dialog import LabelErrorsDialog

        dialog = LabelErrorsDialog(self._report, self._tf, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        dialog.start()
        return dialog


def delete_box(parent, records) -> QMessageBox:
    """The question before deleting ``records``, listing every file that will go; its check box
    (shown when a model was saved outside the app's folder) adds those models."""
    plans = [runs.deletion_plan(r) for r in records]
    outside = [Path(r.model_path) for r in records if r.model_path and not
               r.model_is_autosaved() and Path(r.model_path).is_file()]
    what = f"{len(records)} runs" if len(records) > 1 else \
        f"the run on {records[0].dataset_name} of {records[0].started.replace('T', ' ')}"
    box = QMessageBox(QMessageBox.Icon.Question, "Delete runs", f"Delete {what}?", parent=parent)
    box.setObjectName("deleteRunsBox")
    files = [p for plan in plans for p in plan if p.is_file()]
    size = sum(p.stat().st_size for p in files if p.exists())
    box.setInformativeText(f"This removes {len(files)} model file(s) ({format_size(size)}) "
                           "and the run records. It cannot be undone." if files else
                           "This removes the run records (no model file of the app's own).")
    box.setDetailedText("\n".join(str(p) for plan in plans for p in plan))
    if outside:
        # Parented: PySide does not hand a check box's ownership to the box.
        box.setCheckBox(QCheckBox(f"Also delete {len(outside)} model file(s) saved elsewhere "
                                  f"({', '.join(p.name for p in outside)})", box))
    box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
    return box


def ask_delete(parent, records) -> bool | None:
    """None when cancelled, else whether models saved elsewhere go too."""
    box = delete_box(parent, records)
    box.exec()
    clicked = box.clickedButton()
    delete = clicked is not None and box.buttonRole(clicked) == \
        QMessageBox.ButtonRole.DestructiveRole
    elsewhere = box.checkBox() is not None and box.checkBox().isChecked()
    box.deleteLater()
    return elsewhere if delete else None
