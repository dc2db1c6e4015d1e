"""What every kind of training shares: one ``fit`` with progress, Stop, early stopping,
learning-rate reduction and checkpoints; resuming; class weights; the inference copy."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from horsehuman_gui.core.callbacks import Best, EpochCheckpoint, KeepBest, ProgressCallback
from horsehuman_gui.core.checkpoints import (CheckpointState, check_compatible, load_weights,
                                             read_checkpoint)
from horsehuman_gui.core.config import TrainConfig
from horsehuman_gui.core.dataset import IMBALANCE_RATIO, ScanReport
from horsehuman_gui.core.memory import forget_custom_gradients
from horsehuman_gui.core.tfsetup import load_tensorflow

keras = load_tensorflow()
logger = logging.getLogger(__name__)


class Session:
    """One training run: the report, the config, the caller's hooks and the resume state."""

    def __init__(self, report: ScanReport, config: TrainConfig, on_epoch=None, on_batch=None,
                 should_stop: Callable[[], bool] | None = None,
                 checkpoint_dir: str | Path | None = None, resume: bool = False,
                 callbacks: Sequence = ()):
        self.report, self.config, self.should_stop = report, config, should_stop
        self.extra_callbacks = list(callbacks)  # the caller's, added to every fit
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.progress = ProgressCallback(config.epochs, 1, on_epoch, on_batch, should_stop)
        self.best: Best | None = None
        #: path -> reason of every file that could not be read during the run (left out)
        self.skipped: dict[Path, str] = {}
        self.state: CheckpointState | None = read_checkpoint(self.checkpoint_dir) \
            if resume else None
        if self.state is not None:
            check_compatible(self.state, config, report.classes)
            self.progress.history = list(self.state.history)
            logger.info("Resuming after epoch %d (%s) from %s", self.state.epoch,
                        self.state.phase, self.checkpoint_dir)
        elif resume:
            logger.info("No checkpoint to resume in %s: starting a new run",
                        self.checkpoint_dir)

    @property
    def monitor(self) -> str:
        return "val_loss" if self.report.validation else "loss"

    def resuming(self, phase: str) -> bool:
        return self.state is not None and self.state.phase == phase

    def resume_into(self, model, phase: str) -> None:
        """Load the checkpoint of ``phase`` (if that is where the run stopped) into ``model``:
        weights, optimizer state and the best epoch so far."""
        if not self.resuming(phase):
            return
        state = self.state
        if state.best_weights is not None and state.best_phase == phase:
            load_weights(model, self.checkpoint_dir, state.best_weights)
            self.best = Best(state.best_value, state.best_epoch, model.get_weights(), phase,
                             state.best_weights)
        load_weights(model, self.checkpoint_dir, state.weights)

    def fit(self, model, data, *, phase: str, epochs: int, batches: int,
            release: Callable[[], None] | None = None, **fit_options) -> None:
        """``model.fit`` for ``epochs`` more epochs after those already finished (numbering
        goes on from them; a resumed phase continues where it stopped) with this run's
        callbacks. When it returns, the model holds its best epoch's weights (with early
        stopping). ``release`` is called once the data is used for the last time, before
        those weights are restored: what it frees (the decoded images) makes room for the
        restore's temporary copy of the weights."""
        if self.resuming(phase):
            start, initial = self.state.phase_start, self.state.epoch
        else:
            start = initial = len(self.progress.history)
        end = start + epochs
        self.progress.epochs, self.progress.batches = end, max(1, batches)
        callbacks: list = [self.progress]
        if release is not None:  # before KeepBest, whose on_train_end restores the weights
            callbacks.append(keras.callbacks.LambdaCallback(on_train_end=lambda logs: release()))
        keep = None
        if self.config.patience > 0:
            keep = KeepBest(self.progress, self.monitor, self.config.patience, self.best)
            callbacks.append(keep)
        if self.config.reduce_lr:
            callbacks.append(_FinishedEpochsPlateau(
                self.progress, monitor=self.monitor, factor=0.2, min_lr=1e-6, verbose=0,
                patience=max(2, self.config.patience // 2) if self.config.patience else 3))
        if self.checkpoint_dir is not None:
            base = {"class_names": tuple(self.report.classes),
                    "config": dataclasses.asdict(self.config)}
            callbacks.append(EpochCheckpoint(self.checkpoint_dir, phase, start, self.progress,
                                             keep, self.best, base))
        try:
            with forget_custom_gradients():  # else TensorFlow keeps the traced step's graph
                model.fit(data, epochs=end, initial_epoch=initial, verbose=0,
                          callbacks=callbacks + self.extra_callbacks, **fit_options)
        finally:
            # The progress callback outlives fit inside the datasets' closures, which TF's
            # py_func registry keeps alive: holding the model there kept the trained model and
            # its optimizer's state (~320 MB for the classic model) alive after training.
            # Only ours: the caller's (TensorBoard writes a graph in set_model) are theirs.
            for callback in callbacks:
                callback.set_model(None)
        if keep is not None:
            self.best = keep.result(phase, self.best)

    @property
    def best_epoch(self) -> int | None:
        """1-based epoch whose weights the model holds: the best one with early stopping, else
        the last finished one."""
        if self.best is not None:
            return self.best.epoch
        return self.progress.history[-1].epoch if self.progress.history else None


def class_weight_for(labels: np.ndarray, num_classes: int, mode: str) -> dict[int, float] | None:
    """Inverse-frequency weights (mean 1 over the samples) or None. "auto": only when the
    largest class is more than ``IMBALANCE_RATIO`` times the smallest."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    present = counts[counts > 0]
    if mode == "off" or present.size < 2:
        return None
    if mode == "auto" and present.max() <= IMBALANCE_RATIO * present.min():
        return None
    total = counts.sum()
    return {c: float(total / (num_classes * n)) if n else 1.0 for c, n in enumerate(counts)}


def inference_copy(model):
    """An uncompiled model over ``model``'s own layers: no optimizer state, no traced training
    function, and no second copy of the weights. Once the trained model object is dropped, its
    optimizer's state (for the classic model ~160 MB of RMSprop's) and the training step's
    buffers go with it; the file saved from this model is the weights alone."""
    inputs, outputs = model.inputs, model.outputs
    if len(inputs) == 1 and len(outputs) == 1:  # called with a tensor, not a list of one
        inputs, outputs = inputs[0], outputs[0]
    return keras.Model(inputs, outputs, name=model.name)


class _FinishedEpochsPlateau(keras.callbacks.ReduceLROnPlateau):
    """Keras's learning-rate reduction, blind to an epoch cut short by Stop (it has no
    validation loss: Keras would warn that the metric is missing)."""

    def __init__(self, progress, **kwargs):
        super().__init__(**kwargs)
        self._progress = progress

    def on_epoch_end(self, epoch, logs=None):
        if self._progress.finished:
            super().on_epoch_end(epoch, logs)
