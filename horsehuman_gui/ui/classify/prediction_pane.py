"""The Classify pane: browse folders, see thumbnails, classify them in the background, export.

Folder tree | thumbnail grid (sort/filter row above) | the selected image large with its scores.
Listing, thumbnails, classification and copying each run in Tasks; the pane only wires them up.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QHBoxLayout, QLabel, QMessageBox,
                               QProgressBar, QPushButton, QSplitter, QVBoxLayout, QWidget)

from horsehuman_gui.ui.common.errors import show_error
from horsehuman_gui.ui.common import qt_compat  # noqa: F401 - PySide6 6.12 refcount workaround
from horsehuman_gui.ui.classify.folder_tree import FolderTree, default_folder
from horsehuman_gui.ui.common.image_list_model import ImageListModel
from horsehuman_gui.ui.common.image_preview import ImagePreview
from horsehuman_gui.ui.common.model_files import model_label
from horsehuman_gui.ui.classify.prediction_jobs import (Listing, classified_text, classify_job,
                                               collect_job, finished_text, list_folder_job,
                                               listed_text, rows_for_export)
from horsehuman_gui.ui.classify.result_controls import ResultControls
from horsehuman_gui.ui.classify.result_export import ResultExporter
from horsehuman_gui.ui.classify.result_filter import ResultFilterProxy
from horsehuman_gui.ui.classify.review import ReviewBar
from horsehuman_gui.ui.common.settings import Settings
from horsehuman_gui.ui.common.task_group import TaskGroup
from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
from horsehuman_gui.ui.common.thumbnail_view import THUMB, ThumbnailView
from horsehuman_gui.ui.common.thumbnails import ThumbnailLoader
from horsehuman_gui.ui.common.workers import Task

logger = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"
NEED_MODEL = ("No model yet: train one on the Train tab, or open a model file with "
              "File \u25b8 Open model\u2026")


class PredictionPane(QWidget):
    status_message = Signal(str)
    retrain_requested = Signal()  # "Retrain" after corrections were copied into the dataset

    def __init__(self, settings: Settings, tf_loader: TensorFlowLoader, parent=None):
        super().__init__(parent)
        self.setObjectName("predictionPane")
        self.setAcceptDrops(True)
        self._settings, self._tf_loader = settings, tf_loader
        self._bundle = None
        self.tasks = TaskGroup(self)
        self._folder: Path | None = None  # the folder listed (None after "Add images...")
        self._classify_request = 0  # bumped by cancel: a request waiting for TensorFlow expires
        self._preview_item = None
        self._listing = 0  # id of the newest listing; older results are dropped
        self._classified = self._to_classify = 0
        self._left_out = 0  # files listed that are not pictures by name: counted, not shown
        self._closed = False
        dpr = self.devicePixelRatioF()
        self.thumbnails = ThumbnailLoader(box=round(THUMB * dpr), device_pixel_ratio=dpr,
                                          parent=self)
        self.model = ImageListModel(self.thumbnails, self)
        self.model.set_threshold(settings.get("prediction/threshold"))
        self.proxy = ResultFilterProxy(self.model, self)
        self._make_exporter()
        self._build()
        self._connect()
        self.set_bundle(None)
        self._start_browsing()

    # --- construction -------------------------------------------------------------------------
    def _make_exporter(self) -> None:
        self.exporter = ResultExporter(self._settings, self.shown_predictions, self.class_names,
                                       self.tasks.run, self)
        self.export_csv_action = self.exporter.export_csv_action
        self.copy_action = self.exporter.copy_action

    def _build(self) -> None:
        self.add_images_button = QPushButton("Add images\u2026", toolTip="Choose picture files")
        self.add_folder_button = QPushButton("Add folder\u2026",
                                             toolTip="Choose a folder of pictures")
        self.recursive = QCheckBox("Include sub-folders", objectName="recursiveCheck",
                                   checked=self._settings.get("prediction/recursive"))
        self.classify_button = QPushButton("Classify", objectName="classifyButton")
        self.cancel_button = QPushButton("Cancel", objectName="cancelButton", enabled=False)
        self.progress = QProgressBar(objectName="classifyProgress", visible=False)
        self.model_label = QLabel(objectName="modelLabel", wordWrap=True)
        self.count_label = QLabel(objectName="countLabel")
        self.controls = ResultControls(self.model.threshold)
        self.review = ReviewBar()
        self.tree = FolderTree()
        self.view = ThumbnailView()
        self.view.setModel(self.proxy)
        self.preview = ImagePreview()
        top = QHBoxLayout()
        for widget in (self.add_images_button, self.add_folder_button, self.recursive):
            top.addWidget(widget)
        top.addStretch(1)
        for widget in (self.progress, self.cancel_button, self.classify_button):
            top.addWidget(widget)
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.controls, self.review, self.view, self.count_label):
            middle_layout.addWidget(widget, 1 if widget is self.view else 0)
        # Each pane keeps a usable width when the window is small; the grid gives way first.
        self.tree.setMinimumWidth(150)
        self.preview.setMinimumWidth(160)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        # All three give way as the window narrows (a fixed tree and preview left the grid one
        # thumbnail wide), in the proportions of their sizes below.
        for widget, stretch in ((self.tree, 2), (middle, 7), (self.preview, 3)):
            self.splitter.addWidget(widget)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        self.splitter.setSizes([220, 700, 300])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.model_label)
        layout.addWidget(self.splitter, 1)

    def _connect(self) -> None:
        self.add_images_button.clicked.connect(self._ask_images)
        self.add_folder_button.clicked.connect(self._ask_folder)
        self.recursive.toggled.connect(self._on_recursive)
        self.classify_button.clicked.connect(self.classify)
        self.cancel_button.clicked.connect(self.cancel_classification)
        self.tree.folder_selected.connect(self.show_folder)
        self.view.visible_paths_changed.connect(self.thumbnails.retain)
        self.view.selectionModel().currentChanged.connect(self._update_preview)
        self.controls.sort_changed.connect(self.proxy.set_sort)
        self.controls.filter_changed.connect(self.proxy.set_filter)
        self.controls.threshold_changed.connect(self._on_threshold)
        self.exporter.status_message.connect(self.status_message)
        self.review.attach(self.model, self.proxy, self.view, self.controls, self.tasks.run)
        self.review.status_message.connect(self.status_message)
        self.review.retrain_requested.connect(self.retrain_requested)
        for signal in (self.model.modelReset, self.model.items_added, self.proxy.rowsRemoved,
                       self.proxy.rowsInserted, self.proxy.modelReset, self.proxy.layoutChanged):
            signal.connect(self._update_counts)

    def _start_browsing(self) -> None:
        last = self._settings.get("paths/last_images")
        self.tree.select_folder(default_folder(last))
        if last and Path(last).is_dir():  # a folder the person chose before: show it again
            self.show_folder(Path(last))

    # --- the interface the main window uses ---------------------------------------------------
    def set_bundle(self, bundle) -> None:
        """Use ``bundle`` (a ModelBundle, or None) from now on; earlier results are cleared."""
        self.cancel_classification()
        self._bundle = bundle
        names = tuple(bundle.class_names) if bundle is not None else ()
        self.model.set_class_names(names)
        self.controls.set_classes(names, bundle is not None and bundle.binary)
        self.review.relist()
        self.model_label.setText(model_label(self._bundle, NEED_MODEL))
        if bundle is not None:
            self.classify_button.setToolTip("Classify every picture listed that has no result yet")
        else:
            self.classify_button.setToolTip(NEED_MODEL)
        self._update_actions()
        self._update_preview()

    def replace_bundle(self, old, new) -> None:
        """``new`` holds the same model as ``old`` another way (saved, set aside while another
        trains, or read back): use it if ``old`` is in use, keeping every result."""
        if self._bundle is old:
            self._bundle = new
            self.model_label.setText(model_label(self._bundle, NEED_MODEL))

    def add_paths(self, paths: list[Path], recursive: bool) -> None:
        """Add files and folders (expanded off the GUI thread) to what is listed."""
        self._folder = None  # the list is no longer one folder's: sub-folders toggle leaves it
        self.review.set_folder(None)
        self._list(collect_job([Path(p) for p in paths], recursive), replace=False)

    def show_folder(self, folder: Path) -> None:
        """List the images of ``folder`` instead of what was shown (sub-folders if ticked)."""
        folder = self._folder = Path(folder)
        self.review.set_folder(folder)
        self.cancel_classification()
        self._settings.set("paths/last_images", str(folder))
        self.tree.select_folder(folder)
        self._left_out = 0
        self.model.set_images([])
        self._list(list_folder_job(folder, self.recursive.isChecked()), replace=True,
                   what=folder.name or str(folder))

    def set_report(self, report) -> None:
        """The dataset open (a ScanReport or None): corrections are copied into it."""
        self.review.set_report(report)

    def shutdown(self) -> None:
        """Stop and wait for every worker (listing, classification, copying, thumbnails)."""
        self._closed = True
        self._classify_request += 1
        self.tasks.stop_all(60_000)
        self.thumbnails.shutdown()
        self.preview.shutdown()

    # --- listing ------------------------------------------------------------------------------
    def _list(self, fn, replace: bool, what: str = "") -> None:
        self._listing += 1
        listing = self._listing
        self.status_message.emit(f"Listing pictures in {what or 'the files added'}\u2026")
        task = self.tasks.run("listing", fn)
        task.result.connect(lambda found: self._on_listed(listing, found, replace))

    def _on_listed(self, listing: int, found: Listing, replace: bool) -> None:
        if listing != self._listing or self._closed:
            return  # the person moved on to another folder meanwhile
        if replace:
            self.model.set_items(found.items)
        else:
            self.model.add_items(found.items)
        self._left_out = found.left_out if replace else self._left_out + found.left_out
        self.proxy.resort()
        self.status_message.emit(listed_text(found))
        self._update_counts()
        self._update_actions()

    # --- classification -----------------------------------------------------------------------
    def classify(self) -> None:
        """Classify every listed picture without a result, in the background."""
        if self._bundle is None:
            box = QMessageBox(QMessageBox.Icon.Information, "Classify", NEED_MODEL,
                              QMessageBox.StandardButton.Ok, self)
            box.setObjectName("needModelBox")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            self.status_message.emit(NEED_MODEL)
            return
        paths = self.model.classifiable_paths()
        if not paths or self.tasks.current("classify"):
            self.status_message.emit("Every picture listed has a result already."
                                     if not paths else "Classification is already running.")
            return
        self._set_classifying(True, len(paths))
        if not self._tf_loader.is_ready:
            self.status_message.emit("Waiting for TensorFlow to finish loading\u2026")
        self._classify_request += 1
        request = self._classify_request
        self._tf_loader.when_ready(lambda: self._start_classify(request, paths))

    def _start_classify(self, request: int, paths: list[Path]) -> None:
        if self._closed or request != self._classify_request:
            return  # cancelled (or another folder or model chosen) while TensorFlow loaded
        bundle = self._bundle
        self.status_message.emit(classified_text(0, len(paths)))
        task = self.tasks.run("classify", classify_job(bundle, paths, self.model.threshold))
        task.progress.connect(self._on_batch)
        task.result.connect(lambda stopped: self._on_classified(task, stopped))
        task.failed.connect(lambda message, details: show_error(
            self, "Classification stopped because of an error.", details=f"{message}\n\n{details}",
            hint="The results so far are kept. Try again, or classify fewer pictures."))
        task.finished.connect(
            lambda: self.tasks.current("classify") or self._set_classifying(False))

    def cancel_classification(self) -> None:
        """Stop classifying after the current batch; results so far stay."""
        self._classify_request += 1
        task = self.tasks.current("classify")
        if task is not None:
            task.request_stop()
        if self.cancel_button.isEnabled():
            self._set_classifying(False)

    def _on_batch(self, predictions) -> None:
        # The progress first: QProgressBar.setValue repaints at once, and with it every region
        # of the window waiting to be painted; after the results it painted the whole grid
        # inside this handler, which then held the window twice as long.
        self._classified += len(predictions)
        self.progress.setValue(self._classified)
        self.status_message.emit(classified_text(self._classified, self._to_classify))
        self.model.apply_predictions(predictions)
        self.proxy.resort()
        self._update_preview()
        self._update_actions()

    def _on_classified(self, task: Task, stopped: bool) -> None:
        if self.tasks.current("classify") is not task:
            return  # cancelled and replaced by a newer run
        self._set_classifying(False)
        self.review.rescore()  # the last batches' results may wait on the rescore timer
        items = self.model.items()
        labelled = sum(1 for i in items if i.classified)
        failed = sum(1 for i in items if i.prediction is not None and not i.prediction.ok)
        self.status_message.emit(finished_text(labelled, failed, stopped))

    def _set_classifying(self, running: bool, total: int = 0) -> None:
        if running:
            self._classified, self._to_classify = 0, total
            self.progress.setRange(0, total)
            self.progress.setValue(0)
        self.progress.setVisible(running)
        self.cancel_button.setEnabled(running)
        self.classify_button.setEnabled(not running)

    def _on_threshold(self, value: float) -> None:
        self._settings.set("prediction/threshold", value)
        self.model.set_threshold(value)
        self.proxy.resort()
        self._update_preview()

    # --- export -------------------------------------------------------------------------------
    def class_names(self) -> tuple[str, ...]:
        return self.model.class_names

    def shown_predictions(self) -> list:
        """What the grid shows, in its order, as CSV rows (results at the current threshold)."""
        return rows_for_export(self.proxy.shown_items())

    def export_csv(self, path: Path) -> Path | None:
        """Write the shown results to ``path`` as CSV (see ResultExporter.export_csv)."""
        return self.exporter.export_csv(path)

    def copy_into(self, target: Path) -> Task:
        """Copy the shown results' pictures into ``target/<label>/`` in the background."""
        return self.exporter.copy_into(target)

    # --- dialogs and drops --------------------------------------------------------------------
    def _start_dir(self) -> str:
        return str(default_folder(self._settings.get("paths/last_images")))

    def _ask_images(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add images", self._start_dir(),
                                                IMAGE_FILTER)
        if files:
            self.add_paths([Path(f) for f in files], recursive=False)

    def _ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of images",
                                                  self._start_dir())
        if folder:
            self.add_paths([Path(folder)], recursive=self.recursive.isChecked())

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths, recursive=self.recursive.isChecked())

    # --- small helpers ------------------------------------------------------------------------
    def _on_recursive(self, checked: bool) -> None:
        self._settings.set("prediction/recursive", checked)
        if self._folder is not None:
            self.show_folder(self._folder)

    def _update_actions(self) -> None:
        self.exporter.set_available(self.model.has_results())

    def _update_counts(self, *args) -> None:
        total, shown = self.model.total(), self.proxy.rowCount()
        text = f"{shown:,} shown of {total:,}" if self.proxy.spec.active else f"{total:,} file(s)"
        if self._left_out:
            text += f" \u00b7 {self._left_out:,} other file(s) left out (not pictures)"
        self.count_label.setText(text)

    def _update_preview(self, *args) -> None:
        index = self.view.currentIndex()
        if not index.isValid():
            self._preview_item = None
            self.preview.show_item(None, ())
            return
        item = self.model.item(self.proxy.mapToSource(index).row())
        if item is self._preview_item:
            return  # unchanged (items are immutable): keep the bars and picture as they are
        self._preview_item = item
        self.preview.show_item(item, self.model.class_names, self.model.error_of(item))
