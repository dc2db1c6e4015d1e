"""The Train tab: settings form, Start/Stop, live plot, progress with time left, epoch log.

Training runs in a Task; the core's Keras callback reports EpochMetrics and (throttled)
BatchProgress through ``report``, which arrive here on the GUI thread. Stop sets the task's event
directly; Keras stops after the current batch.

The plot's module, and pyqtgraph with it (~0.25 s), is imported with this one, on the GUI thread
before the window shows. It was imported in a background thread once the window showed, which
crashed the app at start about 1 time in 13: pyqtgraph makes hundreds of Qt wrapper types, and
PySide6 registers each in a table that the GUI thread reads without the GIL (a segfault in
``MetaObjectBuilder::update`` while the other thread was in ``introduceWrapperType``). No Qt
type may be made off the GUI thread.
"""

from __future__ import annotations

import dataclasses
import logging
from html import escape
from typing import Callable

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap, QRegion
from PySide6.QtWidgets import (QFrame, QGroupBox, QHBoxLayout, QLabel, QMessageBox,
                               QPlainTextEdit, QProgressBar, QPushButton, QScrollArea,
                               QSizePolicy, QSplitter, QVBoxLayout, QWidget)

from horsehuman_gui.core.backbones import BACKBONES
from horsehuman_gui.core.config import BatchProgress, EpochMetrics, StageProgress, TrainConfig
from horsehuman_gui.core.dataset_summary import skipped_in_training_lines
from horsehuman_gui.ui.common.errors import show_error
from horsehuman_gui.ui.common.settings import Settings
from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
from horsehuman_gui.ui.train.training_form import TrainingForm
from horsehuman_gui.ui.train.training_plot import TrainingPlot
from horsehuman_gui.ui.common.workers import Task

logger = logging.getLogger(__name__)

#: The plot's height against the log's (1).
PLOT_SHARE = 4
#: Below this the two plots' axes leave no room for their curves.
PLOT_MIN_HEIGHT, PLOT_MIN_WIDTH = 240, 340


class TrainingPane(QWidget):
    trained = Signal(object, object)  # TrainResult (finished or stopped), its ScanReport
    rescan_needed = Signal(float, int)  # validation fraction, seed of the form
    status_message = Signal(str)
    running_changed = Signal(bool)
    launching = Signal()  # the training job starts now (the current model may step aside)
    startable_changed = Signal(bool)  # False while the dataset has a blocking problem

    def __init__(self, settings: Settings, tf_loader: TensorFlowLoader, parent=None):
        super().__init__(parent)
        self._tf = tf_loader
        self._report = None
        self._task: Task | None = None
        self._awaiting_scan: TrainConfig | None = None  # a run waiting for the dataset rescan
        self._awaiting_tf: TrainConfig | None = None  # a run waiting for TensorFlow to load
        self._resume = False  # the run being started goes on from its checkpoint
        self._run_root = None  # the dataset folder of the run the plot and log show
        self._closed = False
        self.form = TrainingForm(settings)
        self.form.changed.connect(self.form.save)
        self.form.changed.connect(self._update_resumable)
        self.start_button = QPushButton("Start training", objectName="startButton")
        self.start_button.setToolTip("Train a new network on the open dataset with these settings")
        self.resume_button = QPushButton("Resume", objectName="resumeButton", visible=False)
        self.resume_button.setToolTip("Go on from the last finished epoch of the run that was "
                                      "stopped with these settings")
        self.stop_button = QPushButton("Stop", objectName="stopButton", enabled=False)
        self.stop_button.setToolTip("Stop after the current batch; the model so far is kept")
        self.message = QLabel(objectName="trainingMessage", wordWrap=True)
        self.dataset_label = QLabel("No dataset open.", objectName="datasetSummary", wordWrap=True)
        self._plot: TrainingPlot | None = None  # made after the window shows (create_plot)
        self._unfinished_plot: TrainingPlot | None = None  # being built by create_plot
        self._after_plot: list[Callable[[], None]] = []  # create_plot's callbacks
        self._preparing = None  # create_plot's steps while they run
        self._plot_holder = QWidget(objectName="plotHolder")
        QVBoxLayout(self._plot_holder).setContentsMargins(0, 0, 0, 0)
        # The text is a label above the bar: inside the bar it was cut off in a small window.
        self.progress_text = QLabel(objectName="trainingProgressText", wordWrap=True)
        # Room for two lines from the start: a height changing as the text does would resize
        # (and redraw) the plot below at every batch.
        self.progress_text.setMinimumHeight(self.progress_text.fontMetrics().lineSpacing() * 2)
        self.progress_text.setAlignment(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft)
        self.progress = QProgressBar(objectName="trainingProgress", textVisible=False)
        self._progress_says("Not started")
        self.progress.setValue(0)
        self.log = QPlainTextEdit(objectName="trainingLog", readOnly=True)
        self.log.setPlaceholderText("One line per finished epoch appears here.")
        self._build()
        self._say("")
        self.start_button.clicked.connect(self.start)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop)

    def _build(self) -> None:
        settings_box = QGroupBox("Settings")
        QVBoxLayout(settings_box).addWidget(self.form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 1)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.stop_button)
        left = QVBoxLayout()
        left.addWidget(self.dataset_label)
        left.addWidget(settings_box)
        left.addLayout(buttons)
        left.addWidget(self.message)
        left.addStretch(1)
        side = QWidget()
        side.setLayout(left)
        # As wide as the form needs and no wider (a fixed 360 px cut the form's longer texts);
        # in a small window it scrolls rather than squeezing the plot or cutting texts.
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(side)
        scroll.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._side = scroll
        right = self._splitter = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        right.addWidget(self._plot_holder)
        right.addWidget(self.log)
        right.setStretchFactor(0, PLOT_SHARE)
        right.setStretchFactor(1, 1)
        self._plot_holder.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.log.setMinimumHeight(self.log.fontMetrics().lineSpacing() * 3)
        column_widget = QWidget(minimumWidth=PLOT_MIN_WIDTH)
        column = QVBoxLayout(column_widget)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.progress_text)
        column.addWidget(self.progress)
        column.addWidget(right, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(column_widget, 1)

    @property
    def plot(self):
        """The TrainingPlot, built now if ``create_plot`` has not finished it."""
        if self._plot is None:
            plot = self._unfinished_plot or TrainingPlot(deferred=True)
            plot.finish_building()
            self._adopt_plot(plot)
        return self._plot

    def create_plot(self, then: Callable[[], None] | None = None) -> None:
        """Build the plot hidden, a part per turn of the event loop, then call ``then``.

        The main window calls this once it is on screen, before TensorFlow starts loading (which
        would compete with it). Built at once, the plot stopped the GUI thread for 35-60 ms;
        made on the pane's first showing, opening the Train tab froze the window ~60 ms
        (building, laying out and painting it at once). The last steps lay the hidden pane out
        at the size it will be shown at and draw the plot once, so the axes' drawings are ready.
        """
        if then is not None:
            self._after_plot.append(then)
        if self._preparing is None:
            if self._plot is not None or self._closed:
                self._run_after_plot()
                return
            self._unfinished_plot = TrainingPlot(deferred=True)
            self._preparing = self._prepare_plot(self._unfinished_plot)
            QTimer.singleShot(0, self._prepare_step)

    def _prepare_step(self) -> None:
        try:
            if not self._closed and next(self._preparing, False) is not False:
                QTimer.singleShot(0, self._prepare_step)
                return
        except Exception:  # noqa: BLE001 - only a head start: the plot is built when shown
            logger.exception("The training plot could not be prepared ahead")
            self._unfinished_plot = None  # half built: the next use builds a new one at once
        self._preparing = None
        self._run_after_plot()

    def _prepare_plot(self, plot: TrainingPlot):
        """``create_plot``'s steps; each ``yield`` hands the GUI thread back (up to ~15 ms)."""
        while self._plot is None and plot.build_step():
            yield True
        if self._plot is None:
            self._adopt_plot(plot)
        page = self.parentWidget()
        if self.isVisible() or page is None:
            return
        self.resize(page.size())  # a hidden page of a tab widget keeps its initial size
        # Rendering a hidden widget lays it and its children out first (hidden, their layout
        # requests wait for a show); one pixel of it is all that is drawn.
        self.render(QPixmap(1, 1), QPoint(), QRegion(0, 0, 1, 1))
        yield True
        for _ in plot.draw_offscreen():
            if self.isVisible():
                return
            yield True

    def _adopt_plot(self, plot: TrainingPlot) -> None:
        self._unfinished_plot = None
        self._plot = plot
        self._plot_holder.layout().addWidget(plot)
        # Made after the pane was laid out (when first shown): give the plot its share again.
        total = sum(self._splitter.sizes())
        if total > 0:
            share = total * PLOT_SHARE // (PLOT_SHARE + 1)
            self._splitter.setSizes([share, total - share])

    def _run_after_plot(self) -> None:
        waiting, self._after_plot = self._after_plot, []
        for callback in waiting:
            callback()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.plot  # noqa: B018 - creates it if create_plot was not called

    # --- dataset -------------------------------------------------------------------------
    def set_report(self, report) -> None:
        """The dataset to train on (None: no dataset). Starts a pending run once it matches."""
        self._report = report
        self.dataset_label.setText(_dataset_text(report))
        self.form.set_class_counts(report.counts("train") if report is not None else {})
        self._update_startable()
        self._update_resumable()
        if self._task is None and self._run_root is not None and \
                (report is None or report.root != self._run_root):
            self._clear_run()  # the plot and log belong to another dataset
        config = self._awaiting_scan
        if config is not None and report is not None and self._matches(report, config):
            self._awaiting_scan = None
            self._launch_when_ready(config)

    @staticmethod
    def _matches(report, config: TrainConfig) -> bool:
        if report.layout != "classes":
            return True
        return report.validation_split == config.validation_split and report.seed == config.seed

    # --- start / stop --------------------------------------------------------------------
    def is_running(self) -> bool:
        """True while a worker trains (a run still waiting for a rescan or TensorFlow has
        learnt nothing yet)."""
        return self._task is not None

    def run_root(self):
        """The dataset folder of the run shown in the plot and log (None before any run)."""
        return self._run_root

    def is_training(self) -> bool:
        return self._task is not None or self._awaiting_scan is not None \
            or self._awaiting_tf is not None

    def resume(self) -> None:
        """Start, going on from the checkpoint a stopped run with these settings left."""
        self.start(resume=True)

    def start(self, resume: bool = False) -> None:
        if self.is_training() or not self.can_start():
            return
        try:
            config = self.form.config()
        except ValueError as exc:
            self._say(str(exc))
            return
        if self._report is None:
            self._say("Open a dataset first (File > Open dataset…).")
            return
        self._say("")
        self._resume = resume
        self._set_running(True)
        if self._matches(self._report, config):
            self._launch_when_ready(config)
        else:  # the held-out part depends on the fraction and seed: scan again with the form's
            self._awaiting_scan = config
            self.status_message.emit("Scanning the dataset again with the new validation "
                                     "fraction and seed…")
            self.rescan_needed.emit(config.validation_split, config.seed)

    def stop(self) -> None:
        """Direct and thread-safe: training ends after the current batch."""
        if self._task is None:  # still waiting for the rescan or TensorFlow: just forget it
            self._awaiting_scan = self._awaiting_tf = None
            self._set_running(False)
            return
        else:
            self._task.request_stop()
            self.stop_button.setEnabled(False)
            self._progress_says(self.progress.format() + " — stopping after this batch…")
            self.status_message.emit("Stopping after the current batch…")

    def dataset_failed(self) -> None:
        """The rescan a pending run waited for did not produce a dataset."""
        if self._awaiting_scan is not None:
            self._awaiting_scan = None
            self._set_running(False)

    def shutdown(self) -> None:
        self._closed = True
        self._awaiting_scan = self._awaiting_tf = None
        if self._task is not None:
            self._task.stop_and_wait(600_000)  # one batch of a big model can take seconds

    def _launch_when_ready(self, config: TrainConfig) -> None:
        if not self._tf.is_ready:
            self._progress_says("Waiting for TensorFlow to finish loading…")
        self._awaiting_tf = config
        self._tf.when_ready(lambda: self._launch(config))

    def _launch(self, config: TrainConfig) -> None:
        if self._closed or self._awaiting_tf is not config:  # stopped while waiting
            return
        self._awaiting_tf = None
        report = self._report
        self._run_root = report.root
        self.plot.clear(config.epochs)
        self.log.clear()
        self.progress.setRange(0, 0)  # busy until the first batch reports its count
        self._progress_says("Preparing the images and building the network…")
        tensorboard = self._tensorboard_folder(report, config)
        self._task = Task(_training_job(report, config, self._resume, tensorboard),
                          name="training", parent=self)
        self._task.progress.connect(self._on_progress)
        self._task.result.connect(lambda result: self._on_result(result, report))
        self._task.failed.connect(self._on_failed)
        self._task.finished.connect(self._on_finished)
        verb = "Resuming" if self._resume else "Training"
        self.status_message.emit(f"{verb} the {config.model} network on {len(report.train)} "
                                 f"images for {config.epochs} epochs…")
        # The cleared plot redraws its axes in full (~30 ms). Done before the worker starts,
        # while the GUI thread has the interpreter to itself (once the worker builds the
        # network, each of the paint's Qt calls must win the GIL back and the same paint
        # stalled the window for 60-85 ms), an axis per turn of the event loop.
        self.plot.view.setUpdatesEnabled(False)  # painted once, with its axes drawn
        self._start_after(self.plot.draw_axes(), self._task)

    def _start_after(self, steps, task: Task) -> None:
        """Run one of ``steps``, then the next at the next turn of the event loop; after the
        last, paint the plot (its axes are drawn already) and start ``task``. A Stop meanwhile
        reaches the task before it starts, and it ends at once."""
        if self._closed or self._task is not task:
            return
        if next(steps, False) is not False:
            QTimer.singleShot(0, lambda: self._start_after(steps, task))
            return
        self.plot.view.setUpdatesEnabled(True)
        self.plot.paint_now()
        self.launching.emit()
        task.start()

    def _tensorboard_folder(self, report, config):
        """The run's TensorBoard folder when the form asks for logs (said in the log)."""
        if not self.form.tensorboard.isChecked():
            return None
        from horsehuman_gui.core.checkpoints import default_checkpoint_dir

        folder = default_checkpoint_dir(report.root, config).parent / "tensorboard"
        self.log.appendPlainText(f"TensorBoard logs in {folder} (view them with: "
                                 f"tensorboard --logdir \"{folder}\")")
        return folder

    def _clear_run(self) -> None:
        self._run_root = None
        if self._plot is not None:
            self._plot.clear()
        self.log.clear()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._progress_says("Not started")

    def can_start(self) -> bool:
        """False while the dataset open cannot be trained on (its blocking problems)."""
        return not _blocking(self._report)

    def _update_startable(self) -> None:
        problems = _blocking(self._report)
        if not self.is_training():
            self.start_button.setEnabled(not problems)
        self.start_button.setToolTip(
            "Cannot train on this folder: " + " ".join(problems) if problems
            else "Train a new network on the open dataset with these settings")
        self._say("Cannot train on this folder; the Dataset tab says why." if problems else "")
        self.startable_changed.emit(not problems)

    def _update_resumable(self) -> None:
        """Show Resume when a stopped run with this dataset and these settings left a
        checkpoint (it says how far that run got)."""
        state = None
        if self._report is not None and not self.is_training():
            try:
                state = _checkpoint_state(self._report.root, self.form.config())
            except ValueError:  # the form holds a value TrainConfig refuses
                state = None
        self.resume_button.setVisible(state is not None)
        if state is not None:
            self.resume_button.setText(f"Resume (epoch {state.epoch})")
            self.resume_button.setEnabled(self.can_start())

    def _set_running(self, running: bool) -> None:
        self.resume_button.setEnabled(not running and self.can_start())
        if not running:
            self._update_resumable()
        self.start_button.setEnabled(not running and self.can_start())
        self.stop_button.setEnabled(running)
        self.form.set_editable(not running)
        self.running_changed.emit(running)

    def _progress_says(self, text: str) -> None:
        self.progress.setFormat(text)  # kept there too: what the bar stands for, for tests
        self.progress_text.setText(text)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # --- progress from the worker --------------------------------------------------------
    def _on_progress(self, item) -> None:
        if isinstance(item, BatchProgress):
            self._on_batch(item)
        elif isinstance(item, StageProgress):
            self._on_stage(item)
        elif isinstance(item, EpochMetrics):
            self.plot.add_epoch(item)
            self.log.appendPlainText(epoch_line(item))

    def _on_stage(self, p: StageProgress) -> None:
        self.progress.setRange(0, max(p.total, 0))
        self.progress.setValue(min(p.done, p.total) if p.total else 0)
        self._progress_says(stage_text(p, self._backbone_label()))

    def _backbone_label(self) -> str:
        try:
            return _backbone_name(self.form.config().backbone)
        except ValueError:
            return "pretrained"

    def _on_batch(self, p: BatchProgress) -> None:
        self.plot.add_batch(p)
        self.progress.setRange(0, p.epochs * p.batches)
        self.progress.setValue((p.epoch - 1) * p.batches + p.batch)
        text = f"Epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches}"
        left = _remaining(p)
        self._progress_says(text + (f" · {left} left" if left else ""))

    def _on_result(self, result, report) -> None:
        if self._closed:  # the window closed mid-training: nothing is waiting for the model
            return
        if isinstance(result, NotTrained):
            self._not_trained(result)
            return
        done = len(result.history)
        verb = "stopped" if result.stopped else "finished"
        accuracy = result.final_val_accuracy
        tail = f", validation accuracy {accuracy:.1%}" if accuracy is not None else ""
        self.log.appendPlainText(f"Training {verb} after {done} epoch{'s' * (done != 1)}{tail}.")
        for line in skipped_in_training_lines(result.skipped, report.root):
            self.log.appendPlainText(line)
        self._progress_says(f"Training {verb} ({done}/{result.config.epochs} epochs){tail}")
        self.status_message.emit(f"Training {verb} after {done} epoch{'s' * (done != 1)}{tail}.")
        if self.progress.maximum() == 0:  # still "busy": no batch was reported
            self.progress.setRange(0, 1)
        if not result.stopped:
            self.progress.setValue(self.progress.maximum())
        if result.evaluation is not None:
            self.log.appendPlainText(evaluation_line(result.evaluation))
        self.trained.emit(result, report)

    def _not_trained(self, outcome: "NotTrained") -> None:
        """Stopped, or no weights, before the first epoch: nothing to keep."""
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._progress_says(outcome.message)
        self.status_message.emit(outcome.message)
        if outcome.fallback:
            self._offer_fallback(outcome)

    def _offer_fallback(self, outcome: "NotTrained") -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "No download", outcome.message,
                          parent=self, objectName="weightsUnavailableBox")
        use = box.addButton(f"Use {_backbone_name(outcome.fallback)} (offline)",
                            QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(use)
        box.finished.connect(lambda _: box.clickedButton() is use and self._use_backbone(
            outcome.fallback))
        box.open()

    def _use_backbone(self, name: str) -> None:
        self.form.model.setCurrentIndex(self.form.model.findData(f"pretrained/{name}"))

    def _on_failed(self, message: str, details: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._progress_says("Training failed")
        self.status_message.emit("Training failed.")
        show_error(self, "Training failed.", details=details,
                   hint=f"{message}\nThe dataset and settings are unchanged; you can try again.")

    def _on_finished(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.deleteLater()
        self._set_running(False)


@dataclasses.dataclass(frozen=True)
class NotTrained:
    """A run that ended before its first epoch (Stop while preparing, no pretrained weights):
    ``message`` for the person; ``fallback`` a backbone to offer instead, or empty."""

    message: str
    fallback: str = ""


def _training_job(report, config: TrainConfig, resume: bool = False, tensorboard=None):
    """Train, checkpointing every epoch (so a stopped or crashed run can be resumed), then
    evaluate the validation part with the kept weights (not after a Stop: the person is
    waiting for the model)."""
    def run(should_stop, emit):
        from horsehuman_gui.core import training  # imports TensorFlow: already loaded by now
        from horsehuman_gui.core.checkpoints import default_checkpoint_dir
        from horsehuman_gui.core.errors import DownloadCancelled, WeightsUnavailable
        from horsehuman_gui.core.features import ExtractionCancelled
        from horsehuman_gui.core.memory import collect_dropped_models, trim_heap

        collect_dropped_models()  # the model set aside at launch (ModelFiles.set_aside)
        callbacks = []
        if tensorboard is not None:
            callbacks.append(training.keras.callbacks.TensorBoard(log_dir=str(tensorboard)))
        try:
            result = training.train(report, config, on_epoch=emit, on_batch=emit, on_stage=emit,
                                    should_stop=should_stop, resume=resume, callbacks=callbacks,
                                    checkpoint_dir=default_checkpoint_dir(report.root, config))
            return _evaluated(result, report)
        except WeightsUnavailable as exc:
            return NotTrained(str(exc), exc.fallback)
        except (DownloadCancelled, ExtractionCancelled):
            return NotTrained("Stopped before the first epoch: nothing to keep.")
        finally:
            trim_heap()  # what the training step freed goes back to the system
    return run


def _evaluated(result, report):
    if result.stopped or not result.history or not report.validation:
        return result
    from horsehuman_gui.core.bundle import bundle_from_result
    from horsehuman_gui.core.evaluation_run import evaluate_items

    try:
        scores = evaluate_items(bundle_from_result(result), report.validation)
    except Exception:  # noqa: BLE001 - the model matters more than its report card
        logger.exception("Could not evaluate the validation part")
        return result
    return dataclasses.replace(result, evaluation=scores.evaluate(0.5))


def _checkpoint_state(root, config: TrainConfig):
    from horsehuman_gui.core.checkpoints import default_checkpoint_dir, read_checkpoint

    return read_checkpoint(default_checkpoint_dir(root, config))


def _backbone_name(name: str) -> str:
    """"SqueezeNet" from "Pretrained (SqueezeNet, offline)"."""
    label = BACKBONES[name].label if name in BACKBONES else name
    return label.split("(", 1)[-1].split(",", 1)[0].rstrip(")") if "(" in label else label


def stage_text(p: StageProgress, backbone: str) -> str:
    """What the run is doing before its first epoch, for the progress line."""
    if p.stage == "backbone":
        if p.total:
            return (f"Downloading the {backbone} weights (once): {p.done / 2**20:.1f} of "
                    f"{p.total / 2**20:.1f} MB")
        return f"Getting the {backbone} network ready…"
    return (f"Reading each picture once with {backbone}: {p.done:,} of {p.total:,} "
            "(pictures seen before are instant)")


def evaluation_line(evaluation) -> str:
    per_class = ", ".join(f"{c.name} {c.recall:.0%}" for c in evaluation.per_class)
    return (f"Validation: {evaluation.accuracy:.1%} of {evaluation.n_images} pictures right "
            f"(found per class: {per_class}).")


def epoch_line(m: EpochMetrics) -> str:
    line = f"Epoch {m.epoch}/{m.epochs}: loss {m.loss:.4f}, accuracy {m.accuracy:.1%}"
    if m.val_loss is not None and m.val_accuracy is not None:
        line += f" · validation loss {m.val_loss:.4f}, accuracy {m.val_accuracy:.1%}"
    return line + f" ({m.seconds:.1f} s)"


def _remaining(p: BatchProgress) -> str:
    done = p.position
    if done <= 0 or p.elapsed <= 0:
        return ""
    seconds = p.elapsed * (p.epochs - done) / done
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _blocking(report) -> tuple[str, ...]:
    return tuple(getattr(report, "blocking_problems", ())) if report is not None else ()


def _dataset_text(report) -> str:
    if report is None:
        return "No dataset open. Use File > Open dataset… or drop a folder on the window."
    from horsehuman_gui.core.runs import dataset_name  # plain Python, no TensorFlow

    return (f"<b>{escape(dataset_name(report.root))}</b>: {len(report.classes)} classes "
            f"({', '.join(map(escape, report.classes))}), {len(report.train)} training and "
            f"{len(report.validation)} validation images.")
