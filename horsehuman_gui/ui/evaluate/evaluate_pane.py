"""The Evaluate tab: how good is a model on labelled pictures, and which pictures does it get
wrong.

Pick a model (the current one by default, or "Open model...") and a folder whose sub-folders
are named like its classes (by default the validation part of the dataset it was trained on).
Evaluate predicts them in a Task (progress, Stop); the figures, the confusion matrix and for two
classes the ROC curve appear on the left, the pictures of a clicked cell on the right. A model
file that carries its validation figures shows them at once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QScrollArea, QSplitter, QVBoxLayout, QWidget)

from horsehuman_gui.ui.common.errors import show_error
from horsehuman_gui.ui.common.model_files import model_label
from horsehuman_gui.ui.common.settings import Settings
from horsehuman_gui.ui.common.task_group import TaskGroup
from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
from horsehuman_gui.ui.evaluate.cell_grid import CellGrid
from horsehuman_gui.ui.evaluate.evaluation_jobs import (STORED_NOTE, EvaluationRun,
                                                        EvaluationSource, default_source,
                                                        evaluate_job, finished_text,
                                                        progress_text)
from horsehuman_gui.ui.evaluate.evaluation_view import EvaluationView

logger = logging.getLogger(__name__)

MODEL_FILTER = "Keras model files (*.keras);;All files (*)"
NO_MODEL = "No model yet: train one, or open a model file."
NO_SOURCE = "Choose a folder whose sub-folders are named like the model's classes."


class EvaluatePane(QWidget):
    status_message = Signal(str)

    def __init__(self, settings: Settings, tf_loader: TensorFlowLoader, parent=None):
        super().__init__(parent)
        self.setObjectName("evaluatePane")
        self._settings, self._tf_loader = settings, tf_loader
        self.tasks = TaskGroup(self)
        self._bundle = self._report = self._source = None
        self._request = 0  # bumped by stop/new model: a run waiting for TensorFlow expires
        self._model_number = 0  # bumped by set_bundle: a result of an earlier model is dropped
        self._closed = False
        self._build()
        self._connect()
        self.set_bundle(None)

    def _build(self) -> None:
        self.model_label = QLabel(objectName="evalModelLabel", wordWrap=True)
        self.open_model_button = QPushButton("Open model\u2026", objectName="evalOpenModel")
        self.source_label = QLabel(objectName="evalSourceLabel", wordWrap=True)
        self.folder_button = QPushButton("Choose folder\u2026", objectName="evalFolderButton",
                                         toolTip="A folder whose sub-folders are named like the "
                                                 "model's classes")
        self.evaluate_button = QPushButton("Evaluate", objectName="evaluateButton")
        self.stop_button = QPushButton("Stop", objectName="evalStopButton", enabled=False)
        self.progress = QProgressBar(objectName="evalProgress", visible=False)
        self.view = EvaluationView()
        self.grid = CellGrid()
        top = QVBoxLayout()
        model_row, source_row = QHBoxLayout(), QHBoxLayout()
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(self.open_model_button)
        source_row.addWidget(self.source_label, 1)
        for widget in (self.folder_button, self.progress, self.stop_button,
                       self.evaluate_button):
            source_row.addWidget(widget)
        top.addLayout(model_row)
        top.addLayout(source_row)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.view)
        scroll.setMinimumWidth(300)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(self.grid)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)

    def _connect(self) -> None:
        self.open_model_button.clicked.connect(self._ask_model)
        self.folder_button.clicked.connect(self._ask_folder)
        self.evaluate_button.clicked.connect(self.evaluate)
        self.stop_button.clicked.connect(self.stop)
        self.view.cell_chosen.connect(self._on_cell)
        self.view.threshold_changed.connect(self.grid.refresh)
        self.grid.least_button.clicked.connect(
            lambda: self.grid.show_least_confident(self.view.threshold))

    # --- the interface the main window uses ---------------------------------------------------
    def set_bundle(self, bundle) -> None:
        """Evaluate ``bundle`` (a ModelBundle or None) from now on; its stored figures show."""
        self.stop()
        self._bundle = bundle
        self._model_number += 1
        self.model_label.setText(model_label(self._bundle, f"Model: {NO_MODEL}"))
        self._set_source(default_source(bundle, self._report))
        self._show_stored()

    def replace_bundle(self, old, new) -> None:
        """``new`` holds the same model as ``old`` another way (saved, set aside while another
        trains, or read back): use it if ``old`` is in use, keeping everything shown."""
        if self._bundle is old:
            self._bundle = new
            self.model_label.setText(model_label(self._bundle, f"Model: {NO_MODEL}"))

    def set_report(self, report) -> None:
        """The dataset open (a ScanReport): its validation part is the default when the
        model was trained on it."""
        self._report = report
        if self._source is None or self._source.items:
            self._set_source(default_source(self._bundle, report))

    def set_folder(self, folder: Path) -> None:
        folder = Path(folder)
        self._set_source(EvaluationSource(f"{folder.name or folder}", folder=folder))

    def evaluate(self) -> None:
        """Predict every picture of the chosen source in the background."""
        if self._bundle is None or self._source is None:
            self.status_message.emit(NO_MODEL if self._bundle is None else NO_SOURCE)
            return
        if self.tasks.current("evaluate") is not None:
            return
        self._set_running(True)
        self._request += 1
        request, bundle, source = self._request, self._bundle, self._source
        if not self._tf_loader.is_ready:
            self.status_message.emit("Waiting for TensorFlow to finish loading\u2026")
        self._tf_loader.when_ready(lambda: self._start(request, bundle, source))

    def stop(self) -> None:
        """Stop after the current batch; the figures then cover the pictures done."""
        self._request += 1
        task = self.tasks.current("evaluate")
        if task is not None:
            task.request_stop()
        else:
            self._set_running(False)

    def shutdown(self) -> None:
        self._closed = True
        self._request += 1
        self.tasks.stop_all(60_000)
        self.grid.shutdown()

    # --- running ------------------------------------------------------------------------------
    def _start(self, request: int, bundle, source: EvaluationSource) -> None:
        if self._closed or request != self._request:
            return
        self.status_message.emit(f"Evaluating on {source.description}\u2026")
        task = self.tasks.run("evaluate", evaluate_job(bundle, source))
        task.progress.connect(self._on_progress)
        number = self._model_number
        task.result.connect(lambda run: self._on_result(number, run))
        task.failed.connect(self._on_failed)
        task.finished.connect(lambda: self._set_running(False))

    def _on_progress(self, done_total) -> None:
        done, total = done_total
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status_message.emit(progress_text(done, total))

    def _on_result(self, model_number: int, run: EvaluationRun | None) -> None:
        if self._closed or model_number != self._model_number:
            return
        if run is None:
            self.status_message.emit("Evaluation stopped before any picture was done.")
            return
        note = finished_text(run)
        self.view.show_scores(run.scores, note)
        accuracy = self.view.evaluation.accuracy
        self.grid.set_scores(run.scores, "Click a cell of the confusion matrix to see its "
                                         "pictures.")
        self.status_message.emit(f"{note[:-1]}: {accuracy:.1%} correct.")

    def _on_failed(self, message: str, details: str) -> None:
        self.status_message.emit("Evaluation failed.")
        show_error(self, f"Could not evaluate: {message}", details=details,
                   hint="Choose a folder whose sub-folders are named like the model's classes "
                        f"({', '.join(self._bundle.class_names) if self._bundle else ''}).")

    def _set_running(self, running: bool) -> None:
        if running:
            self.progress.setRange(0, 0)
        self.progress.setVisible(running)
        self.stop_button.setEnabled(running)
        self.evaluate_button.setEnabled(not running)

    # --- what is shown ------------------------------------------------------------------------
    def _set_source(self, source: EvaluationSource | None) -> None:
        self._source = source
        count = f" ({len(source.items):,} images)" if source is not None and source.items else ""
        self.source_label.setText(f"Pictures: {source.description}{count}" if source is not None
                                  else f"Pictures: {NO_SOURCE}")
        self.evaluate_button.setEnabled(self._bundle is not None and source is not None
                                        and self.tasks.current("evaluate") is None)

    def _show_stored(self) -> None:
        stored = _stored_evaluation(self._bundle)
        if stored is None:
            self.view.clear("Press Evaluate to see how the model does on these pictures."
                            if self._bundle is not None else NO_MODEL)
            self.grid.set_scores(None, "")
            return
        self.view.show_stored(stored, "Stored in the model file: its validation part")
        self.grid.set_scores(None, STORED_NOTE)

    def _on_cell(self, true: int, predicted: int) -> None:
        if self.view.scores is None:
            self.status_message.emit(STORED_NOTE)
            return
        self.grid.show_cell(true, predicted, self.view.threshold)

    # --- dialogs ------------------------------------------------------------------------------
    def _ask_model(self) -> None:
        start = self._settings.get("paths/last_model") or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open model to evaluate", start,
                                              MODEL_FILTER)
        if path:
            self.open_model(Path(path))

    def open_model(self, path: Path) -> None:
        """Load ``path`` in the background and evaluate with it (the app's model stays)."""
        self.status_message.emit(f"Opening model {path.name}\u2026")
        self._tf_loader.when_ready(lambda: self._load(path))

    def _load(self, path: Path) -> None:
        if self._closed:
            return
        task = self.tasks.run("open-model", _load_job(path))
        task.result.connect(self._on_loaded)
        task.failed.connect(lambda message, details: show_error(
            self, f"Could not open {path.name}.", details=details, hint=message))

    def _on_loaded(self, bundle) -> None:
        if self._closed:
            return
        self._settings.set("paths/last_model", str(Path(bundle.path).parent))
        self.set_bundle(bundle)
        self.status_message.emit(f"Evaluating with {Path(bundle.path).name}")

    def _ask_folder(self) -> None:
        start = self._settings.get("paths/last_dataset") or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Folder of class folders to evaluate on",
                                                  start)
        if folder:
            self.set_folder(Path(folder))


def _stored_evaluation(bundle):
    if bundle is None or not bundle.evaluation:
        return None
    from horsehuman_gui.core.evaluation import Evaluation

    try:
        return Evaluation.from_json(bundle.evaluation)
    except ValueError as exc:
        logger.warning("the model's stored evaluation cannot be read: %s", exc)
        return None


def _load_job(path: Path):
    def run(should_stop, report):
        from horsehuman_gui.core.bundle import open_model

        return open_model(path)
    return run
