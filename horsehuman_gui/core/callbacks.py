"""Keras callbacks of a training run: progress and Stop, keeping the best epoch, checkpoints.

``ProgressCallback`` turns Keras callbacks into ``EpochMetrics`` and throttled ``BatchProgress``
and asks ``should_stop()`` after every batch; Keras 3 then stops after the current batch. An
epoch cut short by a stop is no finished epoch: it is left out of the history, and the other
callbacks here ignore it too (its numbers cover part of the data).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from horsehuman_gui.core.checkpoints import CheckpointState, weights_name, write_checkpoint
from horsehuman_gui.core.config import BatchProgress, EpochMetrics
from horsehuman_gui.core.tfsetup import load_tensorflow

keras = load_tensorflow()
logger = logging.getLogger(__name__)

#: Seconds between two batch reports; the last batch of an epoch is always reported.
BATCH_REPORT_INTERVAL = 0.1


class ProgressCallback(keras.callbacks.Callback):
    """Reports every epoch and, at most every ``interval`` seconds, the batch just finished.

    ``batches`` is the expected number of batches per epoch (files that fail to decode can make
    an epoch shorter; its last batch is then reported at the end of the epoch). Keeps the
    finished epochs in ``history``; ``stopped`` is True once ``should_stop()`` returned True.
    One instance may serve several ``fit`` calls (a head, then fine-tuning): ``elapsed`` counts
    from the first.
    """

    def __init__(self, epochs: int, batches: int,
                 on_epoch: Callable[[EpochMetrics], None] | None = None,
                 on_batch: Callable[[BatchProgress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 interval: float = BATCH_REPORT_INTERVAL, clock=time.monotonic):
        super().__init__()
        self.epochs, self.batches = epochs, max(1, batches)
        self.on_epoch, self.on_batch, self.should_stop = on_epoch, on_batch, should_stop
        self.interval, self.clock = interval, clock
        self.history: list[EpochMetrics] = []
        self.stopped = False
        self.epoch = 0  # 0-based number of the epoch running (or about to)
        self.empty_epoch = False  # an epoch ran no batch: no training image could be read
        self._batches_seen = 0
        self._pending: BatchProgress | None = None
        self._start: float | None = None

    @property
    def finished(self) -> bool:
        """False while the epoch that just ended was cut short or empty."""
        return not (self.stopped or self.empty_epoch)

    def on_train_begin(self, logs=None):
        if self._start is None:
            self._start = self.clock()
        self._last_report = -math.inf

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._epoch_start = self.clock()
        self._pending = None
        self._batches_seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches_seen += 1
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
            self.model.stop_training = True  # honoured by Keras after this batch
        if self.on_batch is None:
            return
        logs = logs or {}
        self._pending = BatchProgress(
            epoch=self.epoch + 1, epochs=self.epochs, batch=batch + 1,
            batches=max(self.batches, batch + 1), loss=_number(logs.get("loss")),
            accuracy=_number(logs.get("accuracy")), elapsed=self.clock() - self._start)
        now = self.clock()
        if batch + 1 >= self.batches or now - self._last_report >= self.interval:
            self._flush(now)

    def _flush(self, now: float) -> None:
        if self._pending is not None:
            self.on_batch(self._pending)
            self._pending = None
            self._last_report = now

    def on_epoch_end(self, epoch, logs=None):
        if self.on_batch is not None:
            self._flush(self.clock())
        if self._batches_seen == 0:
            self.empty_epoch = True
            self.model.stop_training = True
        if not self.finished:
            return
        logs = logs or {}
        metrics = EpochMetrics(
            epoch=epoch + 1, epochs=self.epochs, loss=_number(logs.get("loss")),
            accuracy=_number(logs.get("accuracy")), val_loss=_optional(logs.get("val_loss")),
            val_accuracy=_optional(logs.get("val_accuracy")),
            seconds=self.clock() - self._epoch_start)
        self.history.append(metrics)
        if self.on_epoch is not None:
            self.on_epoch(metrics)


@dataclass
class Best:
    """The best finished epoch so far: its monitored value, number (1-based), weights (a
    ``get_weights`` list of the model being fit), and for checkpoints the phase and file."""

    value: float
    epoch: int
    weights: list | None
    phase: str | None = None
    file: str | None = None


class KeepBest(keras.callbacks.EarlyStopping):
    """Keras's early stopping with its best weights restored when ``fit`` returns, whatever
    ended it (patience, the last epoch, or a Stop), starting from an earlier ``best`` (a
    resumed run, or the head before fine-tuning). Epochs cut short are not counted.

    The best weights are copied into arrays kept for the whole run, rewritten in place at each
    new best. Keras's own ``restore_best_weights`` takes a fresh ``get_weights()`` list each
    time while the last one is still held (and twice at the first epoch): two copies of the
    weights at once, +160 MB of peak memory for the classic model."""

    def __init__(self, progress: ProgressCallback, monitor: str, patience: int,
                 best: Best | None = None):
        super().__init__(monitor=monitor, patience=patience, mode="min")
        self.progress, self.initial = progress, best
        self._owned = False  # whether best_weights are arrays this callback made

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._owned = False
        if self.initial is not None:
            self.best, self.best_epoch = self.initial.value, self.initial.epoch - 1
            self.best_weights = self.initial.weights
            last = self.progress.history[-1].epoch if self.progress.history else 0
            self.wait = max(0, last - self.initial.epoch)  # finished epochs since the best

    def on_epoch_end(self, epoch, logs=None):
        if not self.progress.finished:
            return
        best, best_epoch = self.best, self.best_epoch
        super().on_epoch_end(epoch, logs)
        if self.best is not best or self.best_epoch != best_epoch:  # a new best
            self._keep_weights()

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    def _keep_weights(self) -> None:
        """Copy the model's weights into ``best_weights``: in place when the arrays there are
        this callback's (an earlier ``Best``'s are left as they are)."""
        weights = self.model.weights
        if not self._owned:
            self.best_weights = None  # let an earlier list go before making the new one
            self.best_weights = [np.empty(tuple(w.shape), w.dtype) for w in weights]
            self._owned = True
        for array, weight in zip(self.best_weights, weights):
            # TensorFlow's read of the variable, seen by numpy without a copy: one copy in all,
            # into ``array`` (``weight.numpy()`` and ``convert_to_tensor`` make a second one).
            np.copyto(array, np.asarray(weight.value.read_value()))

    def result(self, phase: str, previous: Best | None) -> Best | None:
        """The best epoch after this ``fit`` (``previous`` if none was better)."""
        if self.best is None:
            return previous
        if previous is not None and self.best_epoch + 1 == previous.epoch:
            return dataclasses.replace(previous, weights=self.best_weights)
        return Best(float(self.best), self.best_epoch + 1, self.best_weights, phase,
                    weights_name(self.best_epoch + 1))


class EpochCheckpoint(keras.callbacks.Callback):
    """After every finished epoch, ``write_checkpoint`` into ``folder`` (see core.checkpoints).

    A checkpoint that cannot be written (a full disk, a folder gone) never ends the run: the
    reason is logged once, kept in ``failed``, and no further checkpoint is tried (training and
    the final save matter more than being able to resume). Free space is checked first: HDF5
    can crash the process later when a write of its fails half-way.
    """

    def __init__(self, folder, phase: str, phase_start: int, progress: ProgressCallback,
                 keep: KeepBest | None, previous: Best | None, base: dict[str, Any]):
        super().__init__()
        self.folder, self.phase, self.progress, self.keep = folder, phase, progress, keep
        self.phase_start = phase_start
        self.previous, self.base = previous, base  # base: class_names and config
        self.failed: str | None = None

    def on_epoch_end(self, epoch, logs=None):
        if not self.progress.finished or self.failed is not None:
            return
        best = self.keep.result(self.phase, self.previous) if self.keep else None
        state = CheckpointState(
            phase=self.phase, epoch=epoch + 1, phase_start=self.phase_start,
            weights=weights_name(epoch + 1),
            history=tuple(self.progress.history), best_epoch=best and best.epoch,
            best_value=best and best.value, best_weights=best and best.file,
            best_phase=best and best.phase, **self.base)
        try:
            _check_space(self.folder, self.model)
            write_checkpoint(self.folder, self.model, state)
        except (OSError, RuntimeError, ValueError) as exc:  # h5py raises OSError/RuntimeError
            self.failed = f"{type(exc).__name__}: {exc}"
            logger.warning("Could not write the checkpoint into %s (%s); training goes on "
                           "without one, so this run cannot be resumed.", self.folder, exc)
            _remove_temporaries(self.folder)


#: Free space kept beside a checkpoint, beyond twice its size (the new file beside the last).
SPACE_MARGIN_BYTES = 256 * 2**20


def _check_space(folder, model) -> None:
    """OSError when the disk holding ``folder`` cannot take two more checkpoints' worth."""
    import shutil

    Path(folder).mkdir(parents=True, exist_ok=True)
    variables = list(model.weights) + list(getattr(model.optimizer, "variables", None) or [])
    needed = 2 * sum(int(math.prod(v.shape)) * 4 for v in variables) + SPACE_MARGIN_BYTES
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise OSError(f"only {free / 2**20:.0f} MB free, a checkpoint needs about "
                      f"{needed / 2**20:.0f} MB")


def _remove_temporaries(folder) -> None:
    for temp in Path(folder).glob(".*.tmp*"):
        with contextlib.suppress(OSError):
            temp.unlink()


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _optional(value) -> float | None:
    return None if value is None else float(value)
