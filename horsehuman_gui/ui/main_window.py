"""The main window composes the panes, the menus and the toolbar; the panes do the work.

Tabs: Dataset, Train, Classify (the PredictionPane). Closing stops every worker and waits for it,
so no QThread outlives the window. A training run is never thrown away unasked: closing asks
(keep, the default: stop after the batch, save, then close; discard; cancel), SIGTERM and SIGHUP
keep without asking (``close_keeping_model``), and opening another dataset asks first.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMenu, QTabWidget, QToolBar

from horsehuman_gui.ui.about import show_about, show_getting_started
from horsehuman_gui.ui.dataset.dataset_pane import DatasetPane
from horsehuman_gui.ui.dataset.sample_dialog import install_sample_datasets
from horsehuman_gui.ui.common import questions
from horsehuman_gui.ui.common.model_files import ModelFiles
from horsehuman_gui.ui.common.resources import action_icon
from horsehuman_gui.ui.classify.prediction_pane import PredictionPane
from horsehuman_gui.ui.common.settings import Settings
from horsehuman_gui.ui.common.weights_mirror import apply_weights_mirror, ask_weights_mirror
from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
from horsehuman_gui.ui.evaluate.evaluate_pane import EvaluatePane
from horsehuman_gui.ui.model.actions import install_model_actions
from horsehuman_gui.ui.train.training_pane import TrainingPane
from horsehuman_gui.ui.runs.runs_pane import RunsPane

logger = logging.getLogger(__name__)

MODEL_FILTER = "Keras model files (*.keras);;All files (*)"
OPEN_MODEL_FILTER = ("Models (*.keras *.h5 *.zip);;Keras model files (*.keras);;"
                     "Teachable Machine exports (*.h5 *.zip);;All files (*)")
#: The smallest window in which every tab still shows its controls whole (a 1366x768 laptop
#: screen leaves about 1360x700).
MIN_WIDTH, MIN_HEIGHT = 760, 540
DATASET_TAB, TRAIN_TAB, CLASSIFY_TAB, EVALUATE_TAB = range(4)


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings, tf_loader: TensorFlowLoader, parent=None):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Horses or Humans")
        self.settings = settings
        self.tf_loader = tf_loader
        apply_weights_mirror(settings, at_start=True)
        self._closing_after_training = False  # "keep": the window closes once the run has ended
        self._pending_dataset: Path | None = None  # opened once the stopped run has ended
        self._retrain_after_scan = False  # Classify's "Retrain": train once the rescan is in
        self.dataset_pane = DatasetPane(settings)
        self.training_pane = TrainingPane(settings, tf_loader)
        self.prediction_pane = PredictionPane(settings, tf_loader)
        self.evaluate_pane = EvaluatePane(settings, tf_loader)
        self.models = ModelFiles(settings, tf_loader, self)
        self.runs_pane = RunsPane(tf_loader)
        self.tabs = QTabWidget(objectName="mainTabs", documentMode=True)
        self.tabs.addTab(self.dataset_pane, "Dataset")
        self.tabs.addTab(self.training_pane, "Train")
        self.tabs.addTab(self.prediction_pane, "Classify")
        self.tabs.addTab(self.evaluate_pane, "Evaluate")
        self.tabs.setTabToolTip(DATASET_TAB, "What is in the dataset folder")
        self.tabs.setTabToolTip(TRAIN_TAB, "Train a network on the dataset, with a live plot")
        self.tabs.setTabToolTip(CLASSIFY_TAB, "Classify photos with the trained or opened model")
        self.tabs.setTabToolTip(EVALUATE_TAB, "How often a model is right on labelled pictures, "
                                              "and which ones it gets wrong")
        self.tabs.addTab(self.runs_pane, "Runs")
        self.tabs.setTabToolTip(self.tabs.indexOf(self.runs_pane), "Every training run: compare, "
                                "reopen, delete; suspected label errors in the dataset")
        self.setCentralWidget(self.tabs)
        self.setAcceptDrops(True)
        self._create_actions()
        self._create_menus()
        self._create_toolbar()
        self._create_status_bar()
        self._connect()
        self.setMinimumSize(MIN_WIDTH, MIN_HEIGHT)
        self.resize(1200, 800)
        self._restore()

    # --- construction --------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut=None, tip: str = "", icon=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:  # one sequence, or several (the first is shown in the menu)
            keys = shortcut if isinstance(shortcut, (list, tuple)) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
        if icon is not None:  # (theme name, shipped file): the desktop's icon, else ours
            action.setIcon(action_icon(*icon))
        action.setToolTip(_tooltip(tip or text, action.shortcut()))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _create_actions(self) -> None:
        self.open_dataset_action = self._action(
            "Open &dataset…", self.choose_dataset, "Ctrl+O",
            "Open a folder of class folders to train on", ("folder-open", "folder-open.svg"))
        self.open_model_action = self._action(
            "Open &model…", self.choose_model, "Ctrl+Shift+O",
            "Open a trained model file to classify photos with", ("", "model-open.svg"))
        self.save_model_action = self._action(
            "&Save model as…", self.choose_save_path, "Ctrl+S",
            "Save the current model to a file of your choice",
            ("document-save-as", "document-save-as.svg"))
        self.save_model_action.setEnabled(False)
        self.weights_mirror_action = self._action(
            "Pretrained weights &mirror…", lambda: ask_weights_mirror(self, self.settings),
            tip="Download the pretrained networks from another address (a company mirror)")
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q",
                                        "Close the app (asks first while training)")
        self.about_action = self._action("&About Horses or Humans", lambda: show_about(self),
                                         tip="Version, dataset credit and licences")
        self.help_action = self._action(
            "&Getting started", lambda: show_getting_started(self, self.settings.location()),
            QKeySequence.StandardKey.HelpContents, "The three steps, and where models and "
            "settings are kept", ("help-contents", "help-contents.svg"))
        self._create_run_actions()
        self.prediction_pane.export_csv_action.setIcon(action_icon("", "export-csv.svg"))
        self.prediction_pane.copy_action.setIcon(action_icon("", "copy-into-folders.svg"))

    def _create_run_actions(self) -> None:
        self.train_action = self._action("&Train", self._start_training, ["F5", "Ctrl+T"],
                                         "Start training with the settings on the Train tab",
                                         ("media-playback-start", "media-playback-start.svg"))
        self.stop_training_action = self._action(
            "S&top training", self.training_pane.stop, "Shift+F5",
            "Stop after the current batch; the model so far is kept",
            ("media-playback-stop", "media-playback-stop.svg"))
        self.stop_training_action.setEnabled(False)
        self.classify_action = self._action(
            "&Classify", self._classify, ["Ctrl+Return", "Ctrl+Enter"],
            "Classify the pictures listed on the Classify tab", ("", "classify.svg"))

    def _create_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.open_dataset_action)
        self.recent_datasets_menu = file_menu.addMenu("Recent &datasets")
        file_menu.addSeparator()
        file_menu.addAction(self.open_model_action)
        self.recent_models_menu = file_menu.addMenu("Recent m&odels")
        file_menu.addAction(self.save_model_action)
        file_menu.addSeparator()
        file_menu.addAction(self.prediction_pane.export_csv_action)
        file_menu.addAction(self.prediction_pane.copy_action)
        file_menu.addSeparator()
        file_menu.addAction(self.weights_mirror_action)
        file_menu.addAction(self.quit_action)
        self.samples = install_sample_datasets(self, self.settings, file_menu,
                                               after=self.open_dataset_action)
        self.model_actions = install_model_actions(self, self.models, self.settings,
                                                   self.tf_loader, file_menu,
                                                   after=self.save_model_action)
        self.recent_datasets_menu.aboutToShow.connect(lambda: self._fill_recent(
            self.recent_datasets_menu, "recent/datasets", self.open_dataset))
        self.recent_models_menu.aboutToShow.connect(lambda: self._fill_recent(
            self.recent_models_menu, "recent/models", self.open_model))
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addActions([self.train_action, self.stop_training_action])
        run_menu.addSeparator()
        run_menu.addAction(self.classify_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addActions([self.help_action, self.about_action])

    def _create_toolbar(self) -> None:
        bar = QToolBar("Main toolbar", objectName="mainToolbar", movable=False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.open_dataset_action, self.train_action, self.stop_training_action,
                       None, self.open_model_action, self.save_model_action, None,
                       self.prediction_pane.export_csv_action, self.prediction_pane.copy_action):
            bar.addSeparator() if action is None else bar.addAction(action)
        self.addToolBar(bar)

    def _create_status_bar(self) -> None:
        self.tf_status = QLabel("TensorFlow: not loaded", objectName="tfStatus")
        self.tf_status.setToolTip("TensorFlow loads in the background after the window opens; "
                                  "training and classifying wait for it.")
        self.statusBar().addPermanentWidget(self.tf_status)
        self.statusBar().showMessage("Ready")

    def _connect(self) -> None:
        for pane in (self.dataset_pane, self.training_pane, self.prediction_pane, self.models,
                     self.evaluate_pane):
            pane.status_message.connect(self.show_status)
        self.dataset_pane.report_changed.connect(self.evaluate_pane.set_report)
        self.dataset_pane.report_changed.connect(self.prediction_pane.set_report)
        self.prediction_pane.retrain_requested.connect(self._retrain)
        self.dataset_pane.scan_failed.connect(lambda *_: setattr(self, "_retrain_after_scan",
                                                                 False))
        self.dataset_pane.open_requested.connect(self.choose_dataset)
        self.dataset_pane.report_changed.connect(self.training_pane.set_report)
        self.dataset_pane.report_changed.connect(self._dataset_opened)
        self.dataset_pane.scan_failed.connect(self.training_pane.dataset_failed)
        self.training_pane.rescan_needed.connect(self.dataset_pane.rescan)
        self.training_pane.trained.connect(self._trained)
        self.training_pane.running_changed.connect(self._training_running)
        self.training_pane.startable_changed.connect(lambda startable: self.train_action.setEnabled(
            startable and not self.training_pane.is_training()))
        self.models.bundle_changed.connect(self._bundle_changed)
        self.models.bundle_replaced.connect(self.prediction_pane.replace_bundle)
        self.models.bundle_replaced.connect(self.evaluate_pane.replace_bundle)
        self.training_pane.launching.connect(self.models.set_aside)
        self.runs_pane.status_message.connect(self.show_status)
        self.runs_pane.open_model_requested.connect(self.open_model)
        self.dataset_pane.report_changed.connect(self.runs_pane.set_report)
        self.models.run_recorded.connect(self.runs_pane.refresh)
        self.models.opened.connect(lambda _: self.tabs.setCurrentIndex(CLASSIFY_TAB))
        self.tf_loader.started.connect(
            lambda: self._tf_state("loading…", "Loading TensorFlow…"))
        self.tf_loader.ready.connect(lambda: self._tf_state("ready", "Ready"))
        self.tf_loader.failed.connect(self._tf_failed)

    # --- actions -------------------------------------------------------------------------
    def start_background_loading(self) -> None:
        """Import TensorFlow in the background and build the deferred parts of the window
        (called once the window is on screen)."""
        # The plot first (a part per turn of the event loop, ~80 ms in all), TensorFlow
        # afterwards. Loading TensorFlow's 1 GB library holds the dynamic loader's lock for
        # ~0.3 s; meanwhile an import of an extension module waits for that lock holding the
        # GIL (pyqtgraph's imports of Qt modules froze the window for 0.2-0.6 s when they came
        # then).
        # What start-up made (modules, Qt types, the window) lives as long as the app: left out
        # of garbage collection from now on, as TensorFlow's objects are once imported. A full
        # collection walking them held the GUI thread ~25 ms just as the plot was being made.
        gc.freeze()
        self.training_pane.create_plot(then=self.tf_loader.start)

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 0)

    def choose_dataset(self) -> None:
        start = self.settings.get("paths/last_dataset") or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open dataset folder", start)
        if folder:
            self.open_dataset(folder)

    def open_dataset(self, path) -> None:
        """Open ``path`` as the dataset; while a run trains, only once the person agreed to
        stop it (its model is kept) and it has ended."""
        path = Path(path)
        if self.training_pane.is_running():
            running_on = self.training_pane.run_root()
            if questions.ask_open_during_training(
                    self, running_on.name if running_on else "the dataset",
                    path.name or str(path)) != questions.STOP:
                return
            self._pending_dataset = path
            self.training_pane.stop()
            return
        self.tabs.setCurrentIndex(DATASET_TAB)
        self.dataset_pane.open_dataset(path)

    def close_keeping_model(self) -> None:
        """Close as Ctrl+Q does, keeping a model in training without asking (SIGTERM, SIGHUP)."""
        if self.training_pane.is_running():
            self._close_after_training()
        else:
            self.close()

    def choose_model(self) -> None:
        start = self.settings.get("paths/last_model") or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open model", start, OPEN_MODEL_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path) -> None:
        self.models.open(Path(path))

    def choose_save_path(self) -> None:
        bundle = self.models.bundle
        if bundle is None:
            return
        start = self.settings.get("paths/last_saved_model") or str(Path.home())
        name = Path(bundle.path).name if bundle.path else "model.keras"
        path, _ = QFileDialog.getSaveFileName(self, "Save model as", str(Path(start) / name),
                                              MODEL_FILTER)
        if path:
            path = path if path.endswith(".keras") else path + ".keras"
            self.settings.set("paths/last_saved_model", str(Path(path).parent))
            self.models.save_as(path)

    def _start_training(self) -> None:
        self.tabs.setCurrentIndex(TRAIN_TAB)
        self.training_pane.start()

    def _retrain(self) -> None:
        """Train again with the pictures just copied into the dataset: scan it anew first."""
        self.tabs.setCurrentIndex(TRAIN_TAB)
        if self.training_pane.is_training():
            self.show_status("Training is already running; the next run includes the copies.")
            return
        self._retrain_after_scan = True
        self.dataset_pane.rescan()

    def _classify(self) -> None:
        self.tabs.setCurrentIndex(CLASSIFY_TAB)
        self.prediction_pane.classify()

    def _fill_recent(self, menu: QMenu, key: str, opener) -> None:
        menu.clear()
        for path in self.settings.get(key):
            action = menu.addAction(path)
            action.setEnabled(Path(path).exists())
            action.triggered.connect(lambda checked=False, p=path: opener(p))
        if menu.isEmpty():
            menu.addAction("(none yet)").setEnabled(False)

    # --- reactions -----------------------------------------------------------------------
    def _dataset_opened(self, report) -> None:
        self.setWindowTitle(f"{report.root.name} — Horses or Humans")
        if self._retrain_after_scan:
            self._retrain_after_scan = False
            self._start_training()

    def _trained(self, result, report) -> None:
        self.models.adopt_trained(result, report.root, dataset=report)

    def _training_running(self, running: bool) -> None:
        self.train_action.setEnabled(not running and self.training_pane.can_start())
        self.stop_training_action.setEnabled(running)
        if running:
            return
        if self._closing_after_training:  # the model is kept (its save runs): close now
            QTimer.singleShot(0, self.close)
            return
        self.models.take_back()  # a run that failed left the model set aside: read it again
        if self._pending_dataset is not None:
            path, self._pending_dataset = self._pending_dataset, None
            self.open_dataset(path)

    def _close_after_training(self) -> None:
        self._closing_after_training = True
        self.centralWidget().setEnabled(False)
        self.show_status("Stopping after the current batch and saving the model; the window "
                         "closes then…")
        self.training_pane.stop()

    def _bundle_changed(self, bundle) -> None:
        self.save_model_action.setEnabled(bundle is not None)
        self.prediction_pane.set_bundle(bundle)
        self.evaluate_pane.set_bundle(bundle)

    def _tf_state(self, state: str, message: str) -> None:
        self.tf_status.setText(f"TensorFlow: {state}")
        self.show_status(message)

    def _tf_failed(self, message: str, details: str) -> None:
        from horsehuman_gui.ui.common.errors import show_error

        self._tf_state("failed", "TensorFlow could not be loaded.")
        show_error(self, "TensorFlow could not be loaded, so training and classifying are not "
                   "available.", details=details, hint=message)

    # --- drag and drop (the Classify tab handles its own drops first) --------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if _dropped_folder(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        folder = _dropped_folder(event.mimeData())
        if folder is not None:
            event.acceptProposedAction()
            self.open_dataset(folder)

    # --- state ---------------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = self.settings.get("window/geometry")
        if not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = self.settings.get("window/state")
        if not state.isEmpty():
            self.restoreState(state)
        tab = self.settings.get("window/tab")
        self.tabs.setCurrentIndex(tab if 0 <= tab < self.tabs.count() else DATASET_TAB)

    def closeEvent(self, event) -> None:  # noqa: N802
        if self._training_holds_close():
            event.ignore()
            return
        self.settings.set("window/geometry", self.saveGeometry())
        self.settings.set("window/state", self.saveState())
        self.settings.set("window/tab", self.tabs.currentIndex())
        self.settings.sync()
        self.hide()  # waiting for the current batch can take a moment: don't look frozen
        self.training_pane.shutdown()
        self.dataset_pane.shutdown()
        self.prediction_pane.shutdown()
        self.evaluate_pane.shutdown()
        self.runs_pane.shutdown()
        self.models.shutdown()
        self.samples.shutdown()
        self.model_actions.shutdown()
        self.tf_loader.shutdown()
        event.accept()

    def _training_holds_close(self) -> bool:
        """True when a running training run keeps the window open: the person cancelled, or
        chose to keep the model (the window closes once the run has ended)."""
        if not self.training_pane.is_running():
            return False
        if not self._closing_after_training:
            choice = questions.ask_close_during_training(self)
            if choice == questions.DISCARD:
                return False
            if choice == questions.KEEP:
                self._close_after_training()
        return True


def _tooltip(text: str, shortcut: QKeySequence) -> str:
    text = text.replace("&", "").rstrip("…")
    keys = shortcut.toString(QKeySequence.SequenceFormat.NativeText)
    return f"{text} ({keys})" if keys else text


def _dropped_folder(mime) -> Path | None:
    for url in mime.urls() if mime.hasUrls() else []:
        path = Path(url.toLocalFile()) if url.isLocalFile() else None
        if path is not None and path.is_dir():
            return path
    return None
