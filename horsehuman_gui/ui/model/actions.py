""""Export model...", "Save report..." and "Export as Python script...": the File menu's actions
on the current model. Each asks where (remembering the last folder), never replaces anything
unasked, and writes in a Task; failures reach the person through ``show_error``.

``install_model_actions(window, menu, after)`` puts them in ``menu`` after the action ``after``;
the main window only calls it and ``shutdown()`` on close.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from horsehuman_gui.ui.common.errors import show_error
from horsehuman_gui.ui.common.workers import Task
from horsehuman_gui.ui.model.export_dialog import ExportDialog
from horsehuman_gui.ui.model.jobs import (EXPORT_CHOICES, export_job, free_name, model_stem,
                                          report_job, script_job, trained_on)

logger = logging.getLogger(__name__)

REPORT_FILTER = "Web page (*.html);;All files (*)"
SCRIPT_FILTER = "Python script (*.py);;All files (*)"


class ModelActions(QObject):
    """The three actions, enabled while there is a model (the script: a model trained here,
    which carries its settings); ``done(job, result)`` when a file or folder was written."""

    done = Signal(str, object)  # "export" | "report" | "script", ExportResult | Path
    status_message = Signal(str)

    def __init__(self, window: QWidget, models, settings, tf_loader):
        super().__init__(window)
        self._window, self._models, self._settings, self._tf = window, models, settings, tf_loader
        self._tasks: dict[str, Task] = {}
        self._closed = False
        self._last_choice = "tflite"
        self.export_action = self._action("&Export model…", self.choose_export,
                                          "Save the model for TensorFlow, TFLite or ONNX")
        self.report_action = self._action("Save &report…", self.choose_report,
                                          "Save an HTML page about the model: data, settings, "
                                          "training curves, evaluation")
        self.script_action = self._action("Export as &Python script…", self.choose_script,
                                          "Save a Keras script that trains this model the same "
                                          "way")
        models.bundle_changed.connect(lambda _: self._update())
        self._update()

    def actions(self) -> list[QAction]:
        return [self.export_action, self.report_action, self.script_action]

    def _action(self, text: str, slot, tip: str) -> QAction:
        action = QAction(text, self._window, toolTip=tip.rstrip("…"), statusTip=tip)
        action.triggered.connect(slot)
        return action

    def _update(self) -> None:
        bundle = self._models.bundle
        self.export_action.setEnabled(bundle is not None and "export" not in self._tasks)
        self.report_action.setEnabled(bundle is not None and "report" not in self._tasks)
        self.script_action.setEnabled(bundle is not None and isinstance(bundle.config, dict)
                                      and "script" not in self._tasks)

    # --- export --------------------------------------------------------------------------
    def choose_export(self) -> ExportDialog | None:
        """Ask for the format (non-blocking), then where."""
        from horsehuman_gui.core.model_export import onnx_missing

        bundle = self._models.bundle
        if bundle is None:
            return None
        dialog = ExportDialog(model_stem(bundle), onnx_missing(), self._window,
                              initial=self._last_choice)
        dialog.accepted.connect(lambda: self._choose_export_folder(bundle, dialog.choice()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _choose_export_folder(self, bundle, choice: str) -> None:
        self._last_choice = choice
        start = self._start_folder("paths/last_model_export", bundle)
        name = free_name(start, f"{model_stem(bundle)}-{EXPORT_CHOICES[choice][2]}")
        # The export is a new folder: Qt's dialog opens an existing one rather than ask (so a
        # free name is offered), and a native dialog may return one: then we ask ourselves
        # (and keep Qt from asking a second time about a file).
        path, _ = QFileDialog.getSaveFileName(
            self._window, "Export model to a new folder", str(start / name), "",
            options=QFileDialog.Option.DontConfirmOverwrite)
        if not path:
            return
        path = Path(path)
        if os.path.lexists(path) and not confirm_replace(self._window, path):
            return
        self._settings.set("paths/last_model_export", str(path.parent))
        self.export_to(path, choice, overwrite=os.path.lexists(path))

    def export_to(self, path: Path, choice: str, overwrite: bool = False) -> None:
        """Export the current model as ``choice`` (a key of ``EXPORT_CHOICES``) into ``path``
        once TensorFlow is ready."""
        bundle = self._models.bundle
        label = EXPORT_CHOICES[choice][3].split(" (")[0]
        self.status_message.emit(f"Exporting the model as {label} to {path}…")
        self._tf.when_ready(lambda: self._run(
            "export", export_job(bundle, Path(path), choice, overwrite),
            f"Could not export the model to {path}.", _exported_message))

    # --- report --------------------------------------------------------------------------
    def choose_report(self) -> None:
        bundle = self._models.bundle
        if bundle is None:
            return
        path = self._ask_file("paths/last_report", bundle, "Save report",
                              f"{model_stem(bundle)}-report.html", REPORT_FILTER, ".html")
        if path is not None:
            self.save_report(path, overwrite=path.exists())

    def save_report(self, path: Path, overwrite: bool = False) -> None:
        self.status_message.emit(f"Writing the report to {path}…")
        self._run("report", report_job(self._models.bundle, Path(path), overwrite),
                  f"Could not write the report to {path}.",
                  lambda written: f"Report saved to {written}")

    # --- script --------------------------------------------------------------------------
    def choose_script(self) -> None:
        bundle = self._models.bundle
        if bundle is None or not isinstance(bundle.config, dict):
            return
        data = trained_on(bundle)
        if data is None:  # older files: ask which folder the script should read
            folder = QFileDialog.getExistingDirectory(
                self._window, "Which dataset folder should the script train on?",
                str(self._start_folder("paths/last_script", bundle)))
            if not folder:
                return
            data = Path(folder)
        path = self._ask_file("paths/last_script", bundle, "Export as Python script",
                              f"train_{model_stem(bundle)}.py", SCRIPT_FILTER, ".py")
        if path is not None:
            self.save_script(path, data, overwrite=path.exists())

    def save_script(self, path: Path, data_dir: Path, overwrite: bool = False) -> None:
        self.status_message.emit(f"Writing the script to {path}…")
        self._run("script", script_job(self._models.bundle, Path(data_dir), Path(path),
                                       overwrite),
                  f"Could not write the script to {path}.",
                  lambda written: f"Script saved to {written} (run: python {written.name})")

    # --- shared --------------------------------------------------------------------------
    def _start_folder(self, key: str, bundle) -> Path:
        last = self._settings.get(key)
        if last and Path(last).is_dir():
            return Path(last)
        path = getattr(bundle, "path", None)
        if path and Path(path).parent.is_dir():
            return Path(path).parent
        return Path.home()

    def _ask_file(self, key: str, bundle, title: str, name: str, filters: str,
                  suffix: str) -> Path | None:
        """A file name from Qt's save dialog (which asks before replacing a file); a suffix
        added here afterwards names a file the dialog never asked about, so we ask."""
        start = self._start_folder(key, bundle)
        chosen, _ = QFileDialog.getSaveFileName(self._window, title, str(start / name), filters)
        if not chosen:
            return None
        path = Path(chosen)
        if path.suffix.lower() != suffix:
            path = path.with_name(path.name + suffix)
            if os.path.lexists(path) and not confirm_replace(self._window, path):
                return None
        self._settings.set(key, str(path.parent))
        return path

    def _run(self, name: str, fn, failure: str, success) -> None:
        if self._closed or name in self._tasks:
            return
        task = Task(fn, name=f"{name}-model", parent=self)
        task.result.connect(lambda value: self._succeeded(name, value, success(value)))
        task.failed.connect(lambda message, details: self._failed(failure, message, details))
        task.finished.connect(lambda: self._forget(name, task))
        self._tasks[name] = task
        self._update()
        task.start()

    def _succeeded(self, name: str, value, message: str) -> None:
        self.status_message.emit(message)
        self.done.emit(name, value)

    def _failed(self, sentence: str, message: str, details: str) -> None:
        self.status_message.emit(sentence)
        show_error(self._window, sentence, details=details, hint=message)

    def _forget(self, name: str, task: Task) -> None:
        if self._tasks.get(name) is task:
            del self._tasks[name]
        task.deleteLater()
        self._update()

    def is_busy(self) -> bool:
        return bool(self._tasks)

    def shutdown(self) -> None:
        """Wait for a job in progress: an export or a file is never left half-written."""
        self._closed = True
        for task in list(self._tasks.values()):
            task.stop_and_wait(120_000)


def _exported_message(result) -> str:
    files = [result.labels.name, result.info.name]
    if result.model != result.folder:  # a SavedModel is the folder itself
        files.insert(0, result.model.name)
    return f"Model exported to {result.folder} ({', '.join(files)})"


def confirm_replace(parent: QWidget | None, path: Path) -> bool:
    """Ask before replacing ``path``; No is the default."""
    what = "folder" if path.is_dir() else "file"
    answer = QMessageBox.question(
        parent, "Replace?", f"The {what} {path.name} already exists in {path.parent}. "
        "Replace it?", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def install_model_actions(window: QWidget, models, settings, tf_loader, menu: QMenu,
                          after: QAction) -> ModelActions:
    """Create the actions and put them in ``menu`` after ``after``, behind a separator;
    their status messages go to ``window.show_status``."""
    actions = ModelActions(window, models, settings, tf_loader)
    items = menu.actions()
    index = items.index(after) + 1 if after in items else len(items)
    before = items[index] if index < len(items) else None
    separator = QAction(window)
    separator.setSeparator(True)
    menu.insertActions(before, [separator, *actions.actions()])
    actions.status_message.connect(window.show_status)
    return actions
