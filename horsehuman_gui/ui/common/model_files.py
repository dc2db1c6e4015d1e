"""The current model and its file: open (ours, plain Keras, or a Teachable Machine export),
save as, and the automatic save after training.

Loading and saving run in Tasks (a model file can take a second or more); anything touching
Keras waits for the TensorFlow loader. The GUI thread only sees ModelBundle objects.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from horsehuman_gui.ui.common.errors import show_error
from horsehuman_gui.ui.common.settings import Settings
from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
from horsehuman_gui.ui.common.workers import Task

logger = logging.getLogger(__name__)


class ModelFiles(QObject):
    """Owns the current ``ModelBundle``; ``bundle_changed`` fires when it is replaced."""

    bundle_changed = Signal(object)  # ModelBundle
    #: (old, new): the same model held another way (saved, set aside, read back): no reset
    bundle_replaced = Signal(object, object)
    opened = Signal(object)  # ModelBundle loaded from a file (after bundle_changed)
    saved = Signal(object)  # Path written
    run_recorded = Signal()  # a training run's record was written (see core.runs)
    status_message = Signal(str)

    def __init__(self, settings: Settings, tf_loader: TensorFlowLoader, window: QWidget):
        super().__init__(window)
        self._settings = settings
        self._tf = tf_loader
        self._window = window
        self._bundle = None
        self._tasks: list[Task] = []
        self._closed = False

    @property
    def bundle(self):
        return self._bundle

    def open(self, path: str | Path) -> None:
        """Load ``path`` in the background; on success it becomes the current model.

        The current model is set aside meanwhile (read back if the file cannot be opened), and
        the loading job frees it before reading the next one: two models are never held at
        once, and the collection that frees it happens here, not when classifying starts."""
        path = Path(path).expanduser()
        self.status_message.emit(f"Opening model {path.name}…")
        self.set_aside()
        self._tf.when_ready(lambda: self._run(_load_task(path), "open-model",
                                              self._on_loaded, f"Could not open {path.name}.",
                                              on_failure=self.take_back))

    def save_as(self, path: str | Path) -> None:
        """Save the current model to ``path`` (the file dialog already confirmed overwriting)."""
        if self._bundle is None:
            return
        path = Path(path)
        self.status_message.emit(f"Saving model to {path}…")
        self._run(_save_task(self._bundle, path), "save-model",
                  partial(self._on_saved, self._bundle),
                  f"Could not save the model to {path}.")

    def adopt_trained(self, result, dataset_root: Path, dataset=None) -> None:
        """Keep a training result as the current model, save it in the data folder under a
        name no file has (never replacing one, even one appearing during the save) and record
        the run. ``dataset``: the ``ScanReport`` trained on (else only its root is recorded,
        which is what a report or an exported script needs to find the data again)."""
        from horsehuman_gui.core.bundle import autosave_stem, bundle_from_result

        summary = dataset if dataset is not None else {"root": str(Path(dataset_root).absolute())}
        bundle = bundle_from_result(result, dataset=summary)
        self._set_bundle(bundle)
        stem = autosave_stem(dataset_root, result.final_val_accuracy, result.stopped)
        self.status_message.emit(f"Saving the trained model as {stem}.keras…")

        def saved(path: Path) -> None:
            self._on_saved(bundle, path)
            self._record(result, dataset, path)

        self._run(_autosave_task(bundle, stem), "autosave-model", saved,
                  "The trained model could not be saved automatically.",
                  hint="It is still in memory: use File > Save model as… to save it elsewhere.")

    def _record(self, result, report, path: Path) -> None:
        """The run's record for the Runs view (a small JSON file; a failure only logs)."""
        if report is None or not hasattr(report, "train"):
            return
        from horsehuman_gui.core.checkpoints import default_checkpoint_dir
        from horsehuman_gui.core.runs import record_run

        checkpoint = default_checkpoint_dir(report.root, result.config) if result.stopped \
            else None
        try:
            record_run(result, report, path, checkpoint_dir=checkpoint)
        except OSError as exc:
            logger.warning("Could not record the run: %s", exc)
            return
        self.run_recorded.emit()

    def set_aside(self) -> None:
        """Drop the current model's Keras object while another one trains (see
        ``core.bundle.set_aside``); anything that needs it reads it again from its file. Kept
        when no unchanged file holds it (a model whose save failed, say)."""
        if self._bundle is None:
            return
        from horsehuman_gui.core.bundle import set_aside

        aside = set_aside(self._bundle)
        if aside is not None and aside is not self._bundle:
            self._replace(aside)

    def take_back(self) -> None:
        """Read a model set aside back from its file (training ended without a new one), in
        the background; a failure only says so: using the model then reports the reason."""
        from horsehuman_gui.core.bundle import SetAside

        bundle = self._bundle
        if self._closed or bundle is None or not isinstance(bundle.model, SetAside):
            return
        task = Task(_with_model_task(bundle), name="read-model-back", parent=self)
        task.result.connect(lambda back: self._bundle is bundle and self._replace(back))
        task.failed.connect(lambda message, details: self.status_message.emit(
            f"Could not read the model back from {bundle.path.name}: {message}"))
        task.finished.connect(lambda: self._forget(task))
        self._tasks.append(task)
        task.start()

    def _replace(self, bundle) -> None:
        old, self._bundle = self._bundle, bundle
        _note_dropped(old, bundle)
        self.bundle_replaced.emit(old, bundle)

    def is_busy(self) -> bool:
        return any(task.is_running() for task in self._tasks)

    def shutdown(self) -> None:
        self._closed = True  # a model load queued behind TensorFlow must not start a thread now
        for task in list(self._tasks):
            task.stop_and_wait(120_000)  # a save must finish: never leave half a file

    def _run(self, fn, name: str, on_result, failure: str, hint: str = "",
             on_failure=None) -> None:
        if self._closed:
            return
        task = Task(fn, name=name, parent=self)
        task.result.connect(on_result)
        task.failed.connect(lambda message, details: self._failed(failure, message, details, hint))
        if on_failure is not None:
            task.failed.connect(lambda message, details: on_failure())
        task.finished.connect(lambda: self._forget(task))
        self._tasks.append(task)
        task.start()

    def _forget(self, task: Task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        task.deleteLater()

    def _failed(self, sentence: str, message: str, details: str, hint: str) -> None:
        self.status_message.emit(sentence)
        show_error(self._window, sentence, details=details,
                   hint="\n".join(filter(None, [message, hint])))

    def _on_loaded(self, bundle) -> None:
        self._settings.add_recent("recent/models", bundle.path)
        self._settings.set("paths/last_model", str(Path(bundle.path).parent))
        self._set_bundle(bundle)
        self.opened.emit(bundle)
        note = f" ({'; '.join(bundle.warnings)})" if bundle.warnings else ""
        self.status_message.emit(f"Opened model {Path(bundle.path).name}: classes "
                                 f"{', '.join(bundle.class_names)}, {bundle.image_size} px{note}")

    def _on_saved(self, bundle, path: Path) -> None:
        from horsehuman_gui.core.bundle import saved_as

        self._settings.add_recent("recent/models", path)
        if self._bundle is bundle:  # not replaced by another model while saving
            self._replace(saved_as(bundle, path))
        self.status_message.emit(f"Model saved to {path}")
        self.saved.emit(Path(path))

    def _set_bundle(self, bundle) -> None:
        old, self._bundle = self._bundle, bundle
        _note_dropped(old, bundle)
        self.bundle_changed.emit(bundle)


def _note_dropped(old, new) -> None:
    """The Keras model ``old`` held and ``new`` does not may be garbage now: the next job
    using TensorFlow collects it (``core.memory.collect_dropped_models``)."""
    if old is None or old.model is getattr(new, "model", None):
        return
    from horsehuman_gui.core.bundle import SetAside  # imported with the first bundle
    from horsehuman_gui.core.memory import note_dropped_model

    if not isinstance(old.model, SetAside):
        note_dropped_model()


def model_label(bundle, none: str) -> str:
    """What a pane says of the model it uses: ``none`` when there is no model."""
    if bundle is None:
        return none
    name = bundle.path.name if bundle.path else "the model just trained"
    return f"Model: {name} \u2014 classes: {', '.join(bundle.class_names)}"


def _load_task(path: Path):
    def run(should_stop, report):
        from horsehuman_gui.core.bundle import open_model
        from horsehuman_gui.core.memory import collect_dropped_models

        collect_dropped_models()  # the model set aside by ModelFiles.open goes first
        return open_model(path)  # ours, plain .keras, or a Teachable Machine export
    return run


def _with_model_task(bundle):
    def run(should_stop, report):
        from horsehuman_gui.core.bundle import with_model

        return with_model(bundle)
    return run


def _save_task(bundle, path: Path):
    def run(should_stop, report):
        from horsehuman_gui.core.bundle import save_bundle

        return save_bundle(bundle, path)
    return run


def _autosave_task(bundle, stem: str):
    def run(should_stop, report):
        from horsehuman_gui.core.bundle import autosave_bundle

        return autosave_bundle(bundle, stem)
    return run
