"""The Dataset tab: what was found in a folder before any training.

Layout, classes with counts per part (bar chart), sample thumbnails per class, what stops
training on it (blocking problems), warnings and data health findings, and a table of skipped
files with reasons. Scanning and thumbnail decoding run in Tasks; a newer scan makes older
results stale (generation number) so they are dropped, and Cancel drops the scan at once (its
worker winds down in the background).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFrame, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QScrollArea, QStackedWidget,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from horsehuman_gui.ui.dataset.class_chart import ClassChart
from horsehuman_gui.ui.common.errors import show_error
from horsehuman_gui.ui.dataset.sample_images import SampleGrid, sample_job
from horsehuman_gui.ui.common.settings import Settings
from horsehuman_gui.ui.common.workers import Task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _ScanProblem:
    """A scan that ended without a report: the folder is unusable, or the scan was cancelled."""

    message: str
    cancelled: bool = False


class DatasetPane(QWidget):
    report_changed = Signal(object)  # ScanReport
    scan_failed = Signal()
    status_message = Signal(str)
    open_requested = Signal()

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self._settings = settings
        self._report = None
        self._generation = 0
        self._scan: Task | None = None
        self._tasks: list[Task] = []
        self._build()

    # --- widgets -------------------------------------------------------------------------
    def _build(self) -> None:
        selectable = Qt.TextInteractionFlag.TextSelectableByMouse
        self.title = QLabel(objectName="datasetTitle", textInteractionFlags=selectable)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.title.setFont(font)
        self.details = QLabel(objectName="datasetDetails", wordWrap=True,
                              textInteractionFlags=selectable)
        self.rescan_button = QPushButton("Rescan", objectName="rescanButton")
        self.rescan_button.setToolTip("Scan the folder again (after adding or removing images)")
        self.rescan_button.clicked.connect(lambda: self.rescan())
        # The progress text is a label of its own: inside a bar it was cut off when narrow.
        self.scan_status = QLabel(objectName="scanStatus", wordWrap=True)
        self.progress = QProgressBar(objectName="scanProgress", textVisible=False)
        self.progress.setMaximumWidth(240)
        self.cancel_button = QPushButton("Cancel", objectName="cancelScanButton")
        self.cancel_button.setToolTip("Stop scanning; the dataset shown before stays")
        self.cancel_button.clicked.connect(self.cancel)
        self.scan_row = QWidget(objectName="scanRow", visible=False)
        row = QHBoxLayout(self.scan_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.scan_status, 1)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        self.problems = QLabel(objectName="datasetProblems", wordWrap=True,
                               textFormat=Qt.TextFormat.RichText)
        self.problems.setStyleSheet("QLabel#datasetProblems { color: #b3261e; }")
        self.chart = ClassChart()
        self.samples = SampleGrid()
        self.warnings = QLabel(objectName="datasetWarnings", wordWrap=True, openExternalLinks=False,
                               textFormat=Qt.TextFormat.RichText)
        self.warnings.linkActivated.connect(self._show_findings)
        self.skipped = QTableWidget(0, 2, objectName="skippedTable")
        self.skipped.setHorizontalHeaderLabels(["File", "Reason"])
        self.skipped.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.skipped.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.skipped.verticalHeader().setVisible(False)
        self.skipped.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.skipped.setAlternatingRowColors(True)
        self.pages = QStackedWidget()
        self.pages.addWidget(self._empty_page())
        self.pages.addWidget(self._report_page())
        self.title.setMinimumWidth(1)  # a long folder name must not widen the window
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.rescan_button)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.scan_row)
        layout.addWidget(self.pages, 1)
        self.rescan_button.setVisible(False)

    def _empty_page(self) -> QWidget:
        page = QWidget()
        text = QLabel("<h2>Start with a folder of pictures</h2>"
                      "<p>One sub-folder per class (for example <i>horses/</i> and "
                      "<i>humans/</i>), or <i>train/</i> and <i>validation/</i> folders that "
                      "each hold the class folders.<br>You can also drop a folder on this "
                      "window.</p>", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        button = QPushButton("Open dataset…", objectName="openDatasetButton")
        button.clicked.connect(self.open_requested)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(text)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        return page

    def _report_page(self) -> QWidget:
        classes = QGroupBox("Images per class")
        box = QVBoxLayout(classes)
        box.addWidget(self.problems)
        box.addWidget(self.details)
        box.addWidget(self.chart)
        box.addWidget(self.warnings)
        box.addStretch(1)
        skipped = QGroupBox("Skipped files")
        QVBoxLayout(skipped).addWidget(self.skipped)
        self.skipped_box = skipped
        top = QHBoxLayout()
        top.addWidget(classes, 1)
        top.addWidget(self.samples, 1)
        content = QWidget()
        column = QVBoxLayout(content)
        column.addLayout(top)
        column.addWidget(skipped, 1)
        column.addStretch(0)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        return scroll

    # --- public --------------------------------------------------------------------------
    @property
    def report(self):
        return self._report

    def is_scanning(self) -> bool:
        return self._scan is not None

    def open_dataset(self, path: str | Path) -> None:
        """Scan ``path`` with the training form's validation fraction and seed."""
        self._start_scan(Path(path).expanduser(), self._settings.get("training/validation_split"),
                         self._settings.get("training/seed"))

    def rescan(self, validation_split: float | None = None, seed: int | None = None) -> None:
        root = self._root
        if root is None:
            return
        if validation_split is None:
            validation_split = self._settings.get("training/validation_split")
        self._start_scan(root, validation_split,
                         self._settings.get("training/seed") if seed is None else seed)

    def cancel(self) -> None:
        """Drop the scan under way at once; the dataset shown before (if any) stays."""
        scan = self._scan
        if scan is None:
            return
        scan.request_stop()  # its worker stops at its next check; its result is dropped
        self._generation += 1
        self._scan_ended()
        self.title.setText(_title(self._report.root) if self._report else "")
        self.status_message.emit("Scan cancelled.")
        self.scan_failed.emit()

    def shutdown(self) -> None:
        self._generation += 1
        for task in list(self._tasks):
            task.stop_and_wait(60_000)

    # --- scanning ------------------------------------------------------------------------
    @property
    def _root(self) -> Path | None:
        scanning = getattr(self, "_scanning_root", None)
        return scanning or (self._report.root if self._report else None)

    def _start_scan(self, root: Path, validation_split: float, seed: int) -> None:
        self._generation += 1
        for task in self._tasks:
            task.request_stop()
        self._scanning_root = root
        generation = self._generation
        self.title.setText(_title(root))
        self.progress.setRange(0, 0)
        self.scan_status.setText(f"Looking for images in {root.name or root}…")
        self.scan_row.setVisible(True)
        self.rescan_button.setVisible(False)
        self.status_message.emit(f"Scanning {root}…")
        self._scan = self._run(_scan_job(root, validation_split, seed), "scan-dataset",
                               lambda value: self._on_scanned(generation, root, value))
        self._scan.progress.connect(lambda value: self._on_progress(generation, value))

    def _run(self, fn, name: str, on_result) -> Task:
        task = Task(fn, name=name, parent=self)
        task.result.connect(on_result)
        task.failed.connect(lambda message, details: show_error(
            self, "Something went wrong while reading the dataset.", details=details, hint=message))
        task.finished.connect(lambda: self._forget(task))
        self._tasks.append(task)
        return task.start()

    def _forget(self, task: Task) -> None:
        self._tasks.remove(task)
        if task is self._scan:
            self._scan_ended()
        task.deleteLater()

    def _scan_ended(self) -> None:
        self._scan = None
        self._scanning_root = None
        self.scan_row.setVisible(False)
        self.rescan_button.setVisible(self._report is not None)

    def _on_progress(self, generation: int, value) -> None:
        if generation != self._generation:
            return
        if isinstance(value, int):  # still walking the folders: images found so far
            self.progress.setRange(0, 0)
            self.scan_status.setText(f"Looking for images: {value:,} found")
        else:
            done, total = value
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)
            self.scan_status.setText(f"Checking images: {done:,}/{total:,}")

    def _on_scanned(self, generation: int, root: Path, value) -> None:
        if generation != self._generation:
            return
        if isinstance(value, _ScanProblem):
            self._on_problem(root, value)
            return
        self._settings.add_recent("recent/datasets", root)
        self._settings.set("paths/last_dataset", str(root))
        self._show(value)
        blocked = " — it cannot be trained on (see the Dataset tab)" \
            if getattr(value, "blocking_problems", ()) else ""
        self.status_message.emit(f"Dataset {root.name}: {len(value.classes)} classes, "
                                 f"{len(value.train) + len(value.validation):,} images, "
                                 f"{len(value.skipped):,} skipped{blocked}")
        self.report_changed.emit(value)

    def _on_problem(self, root: Path, problem: _ScanProblem) -> None:
        self.title.setText(self._report.root.name if self._report else "")
        self.scan_failed.emit()
        if problem.cancelled:
            self.status_message.emit("Scan cancelled.")
            return
        self.status_message.emit(f"{root} cannot be used as a dataset.")
        show_error(self, f"The folder {root.name or root} cannot be used as a dataset.",
                   hint=_sentence(problem.message) + ".\nA dataset is a "
                   "folder with one sub-folder of images per class (at least two classes).")

    # --- showing a report ----------------------------------------------------------------
    def _show(self, report) -> None:
        self._report = report
        self.pages.setCurrentIndex(1)
        self.title.setText(_title(report.root))
        self.title.setToolTip(str(report.root))
        self.details.setText(_layout_text(report))
        self.chart.set_counts(report.counts("train"), report.counts("validation"))
        self.problems.setText(problems_html(getattr(report, "blocking_problems", ())))
        self.problems.setVisible(bool(getattr(report, "blocking_problems", ())))
        findings = tuple(getattr(report, "findings", ()))
        text = notes_html(list(report.warnings)) + findings_html(findings) + grouping_html(report)
        self.warnings.setText(text)
        self.warnings.setVisible(bool(text))
        self._fill_skipped(report)
        self._fill_samples(report)

    def _show_findings(self, link: str) -> None:
        """A "Show" link: the findings of that kind, with their files."""
        from horsehuman_gui.ui.dataset.findings_dialog import FindingsDialog

        kind = link.removeprefix("finding:")
        found = [f for f in getattr(self._report, "findings", ()) if f.kind == kind]
        if found:
            dialog = FindingsDialog(found, self._report.root, self)
            dialog.setModal(False)
            dialog.show()
            self.findings_dialog = dialog  # kept for tests; closed with the pane

    def _fill_skipped(self, report) -> None:
        self.skipped.setSortingEnabled(False)
        self.skipped.setRowCount(len(report.skipped))
        for row, item in enumerate(report.skipped):
            shown = _relative(item.path, report.root)
            cell = QTableWidgetItem(shown)
            cell.setToolTip(str(item.path))
            self.skipped.setItem(row, 0, cell)
            self.skipped.setItem(row, 1, QTableWidgetItem(item.reason))
        self.skipped.setSortingEnabled(True)
        self.skipped_box.setTitle(f"Skipped files ({len(report.skipped)})")
        self.skipped_box.setVisible(bool(report.skipped))

    def _fill_samples(self, report) -> None:
        self.samples.set_classes(report.classes)
        generation = self._generation
        task = self._run(sample_job(report), "dataset-samples", lambda _: None)
        task.progress.connect(
            lambda value: generation == self._generation and self.samples.set_image(*value))


def _scan_job(root: Path, validation_split: float, seed: int):
    def run(should_stop, report):
        from horsehuman_gui.core.dataset import ScanCancelled, scan_dataset
        from horsehuman_gui.core.errors import DatasetError

        try:
            return scan_dataset(root, validation_split, seed,
                                on_progress=lambda done, total: report((done, total)),
                                should_stop=should_stop, on_walk=report)
        except ScanCancelled:
            return _ScanProblem("scan cancelled", cancelled=True)
        except DatasetError as exc:
            return _ScanProblem(str(exc))
    return run


#: Warnings and findings shown at most; the rest are counted (``horsehuman info`` lists all).
MAX_NOTES = 12


def problems_html(problems) -> str:
    """Why the folder cannot be trained on, as a short list under a plain heading."""
    if not problems:
        return ""
    items = "".join(f"<li>{escape(_sentence(p))}</li>" for p in problems)
    return f"<b>This folder cannot be used for training:</b><ul>{items}</ul>"


def findings_html(findings) -> str:
    """One line per kind of data-health finding, with how many and a link that lists them
    (a kind found once is shown whole)."""
    by_kind: dict[str, list] = {}
    for finding in findings:
        by_kind.setdefault(finding.kind, []).append(finding)
    lines = []
    for kind, found in by_kind.items():
        if len(found) == 1:
            lines.append(f"<p>⚠ {escape(_sentence(found[0].message))} "
                         f"<a href='finding:{escape(kind)}'>Show</a></p>")
        else:
            lines.append(f"<p>⚠ {len(found)} × {escape(FINDING_NAMES.get(kind, kind))} "
                         f"<a href='finding:{escape(kind)}'>Show them</a></p>")
    return "".join(lines)


#: How a kind of finding reads when counted ("57 × ...").
FINDING_NAMES = {
    "duplicate": "identical pictures within a class",
    "near duplicate": "near-identical pictures within a class (each set stays on one side of "
                      "the validation split)",
    "label conflict": "the same picture in two classes",
    "across parts": "near-identical pictures in both training and validation",
    "small image": "very small pictures",
    "aspect ratio": "very long or tall pictures",
    "few images": "classes with very few pictures",
}


def grouping_html(report) -> str:
    """Which signals found the near-duplicates the split keeps together."""
    links = dict(getattr(report, "grouping_links", ()))
    used = [f"{signal} ({count:,})" for signal, count in links.items() if count]
    if not used or report.layout != "classes":
        return ""
    return ("<p>Near-identical pictures are kept on one side of the validation split; found by "
            f"{escape(', '.join(used))}.</p>")


def notes_html(notes) -> str:
    shown = "".join(f"<p>⚠ {escape(_sentence(n))}</p>" for n in notes[:MAX_NOTES])
    if len(notes) > MAX_NOTES:
        shown += f"<p>… and {len(notes) - MAX_NOTES} more.</p>"
    return shown


def _layout_text(report) -> str:
    total = len(report.train) + len(report.validation)
    if report.layout == "split":
        layout = "its own <i>train</i> and <i>validation</i> folders"
    else:
        layout = (f"class folders; {report.validation_split:.0%} of each class is held out for "
                  f"validation (seed {report.seed})")
    return (f"{report.root}<br>{total:,} images in {len(report.classes)} classes, with {layout}.")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _title(root: Path) -> str:
    # "train" alone says little: the course's folders are <dataset>/train and <dataset>/validation
    return " / ".join(root.parts[-2:]) if len(root.parts) > 2 else str(root)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
