""""Get a sample dataset...": download one of the course's datasets into a new folder, in a Task
with progress and Cancel, then open it as the dataset and show its licence.

A cancel or a failure leaves nothing behind (``core.sample_data`` stages everything). The folder
is always a new one (``<chosen folder>/<dataset name>``, numbered when that name is taken), so
nothing is ever replaced.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QMenu, QMessageBox, QProgressBar,
                               QPushButton, QVBoxLayout, QWidget)

from horsehuman_gui.ui.common.errors import show_error
from horsehuman_gui.ui.common.workers import Task

logger = logging.getLogger(__name__)


def free_folder(parent: Path, name: str) -> Path:
    """``parent/name``, or ``name-2``, ``name-3``... : the first that is missing or empty."""
    for number in range(1, 1000):
        path = parent / (name if number == 1 else f"{name}-{number}")
        if not path.exists() or (path.is_dir() and not any(path.iterdir())):
            return path
    raise OSError(f"no free folder name for {name} in {parent}")


def download_job(name: str, dest: Path):
    def run(should_stop, report):
        from horsehuman_gui.core.sample_data import DownloadCancelled, download_dataset

        try:
            return download_dataset(name, dest, lambda done, total: report((done, total)),
                                    should_stop)
        except DownloadCancelled:
            return None  # a cancel is no failure: nothing to report
    return run


class SampleDatasetDialog(QDialog):
    """Choose the dataset and where; *Download* runs it, *Cancel* stops it (nothing is kept)."""

    downloaded = Signal(object)  # core.sample_data.DownloadResult

    def __init__(self, settings, parent: QWidget | None = None):
        from horsehuman_gui.core.sample_data import DATASETS

        super().__init__(parent)
        self.setObjectName("sampleDatasetDialog")
        self.setWindowTitle("Get a sample dataset")
        self._settings = settings
        self.task: Task | None = None
        self._result = None  # the DownloadResult, once the Task has delivered it
        self._closing = False  # Cancel was pressed while downloading
        self.dataset = QComboBox(objectName="sampleDataset")
        for name, spec in DATASETS.items():
            self.dataset.addItem(spec.title, name)
        start = settings.get("paths/last_download") or str(Path.home())
        self.folder = QLineEdit(start, objectName="sampleFolder")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(self.browse)
        self.target = QLabel(objectName="sampleTarget", wordWrap=True)
        self.progress = QProgressBar(objectName="sampleProgress", visible=False)
        self.state = QLabel(objectName="sampleState", wordWrap=True)
        form = QFormLayout()
        form.addRow("Dataset:", self.dataset)
        form.addRow("Put it in:", row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.download_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.download_button.setText("Download")
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("The course's pictures (Horses or Humans: about 150 MB; "
                                "Rock Paper Scissors: about 250 MB) go into a new folder, in "
                                "train/ and validation/ with their licence, and open as the "
                                "dataset.", wordWrap=True))
        layout.addLayout(form)
        layout.addWidget(self.target)
        layout.addWidget(self.progress)
        layout.addWidget(self.state)
        layout.addWidget(self.buttons)
        self.dataset.currentIndexChanged.connect(self._show_target)
        self.folder.textChanged.connect(self._show_target)
        self._show_target()
        self.setMinimumWidth(520)  # the paths and the progress line stay on one line or two

    def destination(self) -> Path:
        return free_folder(Path(self.folder.text()).expanduser(), self.dataset.currentData())

    def _show_target(self) -> None:
        parent = Path(self.folder.text()).expanduser()
        ok = parent.is_dir()
        self.target.setText(f"The pictures go into {self.destination()}" if ok
                            else "Choose an existing folder.")
        self.download_button.setEnabled(ok and self.task is None)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Put the sample dataset in",
                                                  self.folder.text())
        if folder:
            self.folder.setText(folder)

    def start(self) -> Task | None:
        """Start the download in a Task (the form is locked until it ends)."""
        if self.task is not None or not Path(self.folder.text()).expanduser().is_dir():
            return None
        dest = self.destination()
        self._settings.set("paths/last_download", str(dest.parent))
        for widget in (self.dataset, self.folder, self.browse, self.download_button):
            widget.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.state.setText(f"Downloading {self.dataset.currentText()}…")
        self.task = Task(download_job(self.dataset.currentData(), dest),
                         name="sample-download", parent=self)
        self.task.progress.connect(self._progress)
        self.task.result.connect(self._done)
        self.task.failed.connect(self._failed)
        self.task.finished.connect(self._finished)
        return self.task.start()

    def _progress(self, value) -> None:
        done, total = value
        megabytes = f"{done / 1e6:,.1f} MB" + (f" of {total / 1e6:,.1f} MB" if total else "")
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
        if total and done >= total:
            self.state.setText(f"Downloaded {megabytes}; checking and unpacking the pictures…")
        else:
            self.state.setText(f"Downloading {self.dataset.currentText()}: {megabytes}")

    def _done(self, result) -> None:
        self._result = result
        if result is None:
            self.state.setText("Cancelled; nothing was kept.")

    def _failed(self, message: str, details: str) -> None:
        self.state.setText("The download failed; nothing was kept.")
        if not self._closing:
            show_error(self, f"Could not download {self.dataset.currentText()}.",
                       details=details, hint=message)

    def _finished(self) -> None:
        task, self.task = self.task, None
        task.deleteLater()
        self.progress.hide()
        for widget in (self.dataset, self.folder, self.browse):
            widget.setEnabled(True)
        self._show_target()
        if self._result is not None:
            self.downloaded.emit(self._result)
            self.accept()
        elif self._closing:
            super().reject()

    def reject(self) -> None:  # Cancel, Escape
        """Stop a download in progress (the dialog closes once it has stopped)."""
        if self.task is None:
            super().reject()
            return
        self._closing = True
        self.state.setText("Stopping the download…")
        self.task.request_stop()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.task is not None:
            event.ignore()
            self.reject()
        else:
            super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop a download and wait for its thread (the window is closing)."""
        self._closing = True
        if self.task is not None:
            self.task.stop_and_wait(60_000)


class SampleDatasets(QObject):
    """The File menu's "Get a sample dataset..." action and its dialog. A finished download
    opens as the dataset (``open_dataset(path)``) and its licence is shown."""

    def __init__(self, window: QWidget, settings, open_dataset):
        super().__init__(window)
        self._window, self._settings, self._open_dataset = window, settings, open_dataset
        self.dialog: SampleDatasetDialog | None = None
        self.action = QAction("&Get a sample dataset…", window,
                              statusTip="Download Horses or Humans or Rock Paper Scissors "
                                        "and open it")
        self.action.triggered.connect(self.show_dialog)

    def show_dialog(self) -> SampleDatasetDialog:
        if self.dialog is None:
            self.dialog = SampleDatasetDialog(self._settings, self._window)
            self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.dialog.downloaded.connect(self._downloaded)
            self.dialog.destroyed.connect(self._forget)
        self.dialog.open()
        return self.dialog

    def _forget(self) -> None:
        self.dialog = None

    def _downloaded(self, result) -> None:
        self._open_dataset(result.root)
        show_licence(self._window, result)

    def shutdown(self) -> None:
        if self.dialog is not None:
            self.dialog.shutdown()


def show_licence(parent: QWidget | None, result) -> QMessageBox:
    """A non-blocking note: where the pictures are and under which licence."""
    counts = {part: sum(per_class.values()) for part, per_class in result.counts.items()}
    summary = ", ".join(f"{n:,} {part}" for part, n in counts.items())
    box = QMessageBox(QMessageBox.Icon.Information, "Sample dataset",
                      f"The pictures are in {result.root} ({summary}).", parent=parent)
    box.setObjectName("licenceNote")
    try:
        licence = result.licence_file.read_text(encoding="utf-8").split("\n\n")[0].strip()
    except OSError:
        licence = ""
    box.setInformativeText(f"{licence}\n\nIf you share them, credit the author as the licence "
                           f"asks. The licence is kept in {result.licence_file.name} beside "
                           "them.")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def install_sample_datasets(window: QWidget, settings, menu: QMenu,
                            after: QAction) -> SampleDatasets:
    """Create the action and put it in ``menu`` after ``after``."""
    samples = SampleDatasets(window, settings, window.open_dataset)
    items = menu.actions()
    index = items.index(after) + 1 if after in items else len(items)
    menu.insertAction(items[index] if index < len(items) else None, samples.action)
    return samples
