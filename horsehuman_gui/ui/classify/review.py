"""Review the results in the Classify pane: accuracy against the folder names, the mistakes,
and corrections that become training pictures.

When the listed pictures sit in folders named like the model's classes, the bar above the grid
says how often the model agrees with those names and offers "Show mistakes". The grid's context
menu confirms or corrects a result: the picture is **copied** (never moved, never replacing a
file: a taken name becomes ``photo (1).jpg``) into the open dataset's class folder, so the next
training includes it; "Retrain" then starts training from the Train tab.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QWidget

from horsehuman_gui.ui.classify.folder_truth import folder_score, training_folder, truths
from horsehuman_gui.ui.classify.prediction_jobs import copy_job

#: Results arriving in a burst (a batch every ~0.25 s while classifying) rescore at most this
#: often: a score goes over every picture listed, and doing it for every batch of a long list
#: held the GUI thread tens of ms at a time while the workers wanted the GIL too.
RESCORE_MS = 300

NO_DATASET = "Open the dataset (File \u25b8 Open dataset\u2026) to add pictures to it"


class ReviewBar(QWidget):
    """``attach(model, proxy, view, controls, run_task)`` wires it to the pane's grid."""

    status_message = Signal(str)
    retrain_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._folder: Path | None = None
        self._report = None
        self._truth: dict[str, str] = {}
        self._looked_at = 0  # the model's first items whose folders were looked at
        self._rescore_due = False
        self._rescore_timer = QTimer(self, singleShot=True, interval=RESCORE_MS)
        self._rescore_timer.timeout.connect(self._rescore_if_due)
        self.score_label = QLabel(objectName="folderAccuracy")
        self.mistakes_button = QPushButton("Show mistakes", objectName="showMistakes",
                                           checkable=True,
                                           toolTip="Only the pictures whose result differs "
                                                   "from their folder's name")
        self.retrain_button = QPushButton("Retrain", objectName="retrainButton", visible=False,
                                          toolTip="Train again on the dataset, now with the "
                                                  "pictures copied into it (F5)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.score_label, 1)
        layout.addWidget(self.mistakes_button)
        layout.addWidget(self.retrain_button)
        self.retrain_button.clicked.connect(self.retrain_requested)
        self._update_visibility()

    def attach(self, model, proxy, view, controls, run_task) -> None:
        self._model, self._proxy, self._view = model, proxy, view
        self._controls, self._run_task = controls, run_task
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._menu_at)
        self.mistakes_button.toggled.connect(controls.show_mistakes)
        controls.filter_changed.connect(
            lambda spec: self._set_checked_quietly(spec.mistakes_only))
        model.modelReset.connect(self.relist)
        model.items_added.connect(self._listed_more)
        model.results_changed.connect(self._results_changed)

    # --- inputs -------------------------------------------------------------------------------
    def set_folder(self, folder: Path | None) -> None:
        """The folder listed (None: files added one by one: only their own folder counts)."""
        self._folder = None if folder is None else Path(folder)

    def set_report(self, report) -> None:
        """The dataset open (a ScanReport or None): where corrections are copied."""
        self._report = report

    def relist(self, *args) -> None:
        """Find each listed picture's class folder again (new list, or another model)."""
        items = self._model.items()
        self._truth = truths(items, self._folder, self._model.class_names)
        self._looked_at = len(items)
        self._proxy.set_truth(self._truth)
        self._controls.set_mistakes_available(bool(self._truth))
        self.rescore()

    def _listed_more(self, *args) -> None:
        """Pictures appended: only they are looked at. (This ran on every rows-inserted signal,
        over the whole list: the grid shows 500 more rows at a time as it scrolls, which held
        the GUI thread ~50 ms a time at 10,000 files; and pictures appended beyond the rows
        shown were not counted until the grid scrolled to them.)"""
        items = self._model.items()
        if len(items) == self._looked_at:
            return
        found = truths(items[self._looked_at:], self._folder, self._model.class_names)
        self._looked_at = len(items)
        if found:
            self._truth.update(found)
            self._proxy.set_truth(self._truth)
            self._controls.set_mistakes_available(True)
        self.rescore()

    def _results_changed(self) -> None:
        """Rescore now, unless a score was taken in the last ``RESCORE_MS``: then once when
        that time is up (the score is never left behind the results for longer)."""
        if self._rescore_timer.isActive():
            self._rescore_due = True
        else:
            self.rescore()

    def _rescore_if_due(self) -> None:
        if self._rescore_due:
            self.rescore()

    def rescore(self, *args) -> None:
        self._rescore_due = False
        self._rescore_timer.start()
        score = folder_score(self._model.items(), self._truth)
        self.score_label.setText(score.text() if score is not None else "")
        self._update_visibility()

    def score_text(self) -> str:
        return self.score_label.text()

    # --- corrections --------------------------------------------------------------------------
    def _menu_at(self, pos) -> None:
        index = self._view.indexAt(pos)
        if not index.isValid():
            return
        menu = self.correction_menu(self._items_for(index))
        menu.exec(self._view.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def _items_for(self, index) -> list:
        rows = {self._proxy.mapToSource(i).row() for i in self._view.selectedIndexes()}
        clicked = self._proxy.mapToSource(index).row()
        if clicked not in rows:
            rows = {clicked}
        return [self._model.item(row) for row in sorted(rows)]

    def correction_menu(self, items: list) -> QMenu:
        """Confirm (the predicted class) and Correct label \u25b8 <class> for ``items``."""
        menu = QMenu(self._view)
        menu.setObjectName("correctionMenu")
        names = self._classes()
        predicted = {i.prediction.label for i in items if i.classified}
        confirm = menu.addAction("Confirm \u201c" + "\u201d, \u201c".join(sorted(predicted))
                                 + "\u201d" if predicted else "Confirm")
        confirm.setObjectName("confirmAction")
        confirm.triggered.connect(lambda: self.copy_into_dataset(
            [(i.path, i.prediction.label) for i in items if i.classified]))
        confirm.setEnabled(bool(predicted) and bool(names) and predicted <= set(names))
        sub = menu.addMenu("Correct label")
        sub.setObjectName("correctMenu")
        for name in names:
            action = sub.addAction(name)
            action.triggered.connect(lambda checked=False, n=name: self.copy_into_dataset(
                [(i.path, n) for i in items]))
        sub.setEnabled(bool(names))
        tip = self._where_tip()
        for action in (confirm, sub.menuAction()):
            action.setToolTip(tip)
            action.setStatusTip(tip)
        menu.setToolTipsVisible(True)
        return menu

    def copy_into_dataset(self, pairs: list[tuple[Path, str]]):
        """Copy each (picture, class) into the dataset's class folder in a Task; returns it."""
        from horsehuman_gui.core.prediction import Prediction

        if self._report is None or not pairs:
            self.status_message.emit(NO_DATASET + "." if self._report is None else "")
            return None
        target = training_folder(self._report)
        predictions = [Prediction(Path(path), label, 1.0, ()) for path, label in pairs]
        task = self._run_task("correct", copy_job(predictions, target))
        task.result.connect(self._on_copied)
        return task

    def _on_copied(self, summary) -> None:
        self.status_message.emit(copied_text(summary))
        if summary.copied:
            self.retrain_button.setVisible(True)

    def _classes(self) -> tuple[str, ...]:
        """The model's classes that the open dataset has (corrections go there)."""
        if self._report is None:
            return ()
        return tuple(n for n in self._model.class_names if n in self._report.classes)

    def _where_tip(self) -> str:
        if self._report is None:
            return NO_DATASET
        return (f"Copies the picture into {training_folder(self._report)}/<class>/ (never "
                "moves it or replaces a file); the next training includes it")

    def _update_visibility(self) -> None:
        scored = bool(self.score_label.text())
        self.score_label.setVisible(scored)
        self.mistakes_button.setVisible(scored)
        self.setVisible(scored or self.retrain_button.isVisibleTo(self))

    def _set_checked_quietly(self, checked: bool) -> None:
        self.mistakes_button.blockSignals(True)
        self.mistakes_button.setChecked(checked)
        self.mistakes_button.blockSignals(False)


def copied_text(summary) -> str:
    """'Copied photo.jpg into .../train/humans as photo (1).jpg. Retrain to include it.' for
    one picture, a count for more, and what could not be copied."""
    if not summary.copied:
        reason = summary.skipped[0].reason if summary.skipped else "nothing to copy"
        return f"Nothing copied: {reason}."
    if len(summary.copied) == 1:
        source, copy = summary.copied[0]
        renamed = f" as {copy.name}" if copy.name != source.name else ""
        text = f"Copied {source.name} into {copy.parent}{renamed}"
    else:
        folders = sorted({str(copy.parent) for _, copy in summary.copied})
        text = f"Copied {len(summary.copied):,} pictures into {', '.join(folders)}"
    if summary.skipped:
        text += f"; not copied: {summary.skipped[0].path.name} ({summary.skipped[0].reason})"
        if len(summary.skipped) > 1:
            text += f" and {len(summary.skipped) - 1:,} more"
    return text + ". Retrain to include them in the model."
