"""Train a model on a scanned dataset, reporting progress through plain callables.

``train`` runs Keras's own ``fit`` (no ``steps_per_epoch``: the dataset defines an epoch, so no
epoch is ever skipped). ``ProgressCallback`` turns Keras callbacks into ``EpochMetrics`` and
throttled ``BatchProgress`` and asks ``should_stop()`` after every batch; Keras 3 then stops
after the current batch.

An epoch cut short by a stop is left out of the history and ``on_epoch`` is not called for it:
its numbers cover part of the data and would read like a finished epoch. Its validation pass is
skipped too, so stopping is quick. ``TrainResult.stopped`` says the run ended early.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from typing import Callable

from horsehuman_gui.core.config import BatchProgress, EpochMetrics, TrainConfig, TrainResult
from horsehuman_gui.core.dataset import ScanReport
from horsehuman_gui.core.errors import DatasetError
from horsehuman_gui.core.microbatch import micro_batch_size, micro_batches
from horsehuman_gui.core.models import build_model, keras
from horsehuman_gui.core.pipeline import make_dataset

logger = logging.getLogger(__name__)

# Our datasets cannot know their length in advance (a file may fail to decode), so Keras learns
# it at the end of the first epoch and warns that the input "ran out of data". Expected here.
warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)

#: Seconds between two batch reports; the last batch of an epoch is always reported.
BATCH_REPORT_INTERVAL = 0.1


class ProgressCallback(keras.callbacks.Callback):
    """Reports every epoch and, at most every ``interval`` seconds, the batch just finished.

    ``batches`` is the expected number of batches per epoch (files that fail to decode can make
    an epoch shorter; its last batch is then reported at the end of the epoch). Keeps the
    finished epochs in ``history``; ``stopped`` is True once ``should_stop()`` returned True.
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

    def on_train_begin(self, logs=None):
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
        if self.stopped or self.empty_epoch:
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


def train(report: ScanReport, config: TrainConfig,
          on_epoch: Callable[[EpochMetrics], None] | None = None,
          on_batch: Callable[[BatchProgress], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Build ``config.model`` for ``report.classes`` and train it on ``report.train``.

    Validation uses ``report.validation`` (skipped when empty). ``on_epoch`` gets every finished
    epoch, ``on_batch`` at most one report every 0.1 s plus each epoch's last batch; both are
    called on the calling thread. ``should_stop`` is checked after every batch (also from the
    input pipeline's thread: it must be thread-safe, e.g. ``threading.Event.is_set``). Returns
    the trained model with its history of finished epochs. Seeded by ``config.seed``. Files
    that fail to decode are logged and left out; ``DatasetError`` if none could be read.
    """
    if not report.train:
        raise ValueError("`report.train` holds no images to train on.")
    keras.utils.set_random_seed(config.seed)
    num_classes = len(report.classes)
    model = build_model(config.model, config.image_size, num_classes, config.learning_rate)
    progress = ProgressCallback(config.epochs, math.ceil(len(report.train) / config.batch_size),
                                on_epoch, on_batch, should_stop)
    train_ds, val_ds = _datasets(report, config, progress)
    chunk = micro_batch_size(model, config.batch_size)
    logger.info("Training %s on %d images (%d for validation), %d classes, batch %d (micro %d)",
                config.model, len(report.train), len(report.validation), num_classes,
                config.batch_size, chunk)
    with micro_batches(model, chunk):
        model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, verbose=0,
                  callbacks=[progress], shuffle=False)  # the dataset reshuffles itself
    if progress.empty_epoch:
        raise DatasetError(f"None of the {len(report.train)} training images could be read "
                           "(each file's reason is in the log).")
    return TrainResult(model=model, class_names=tuple(report.classes),
                       image_size=config.image_size, history=tuple(progress.history),
                       stopped=progress.stopped, config=config)


def _datasets(report: ScanReport, config: TrainConfig, progress: ProgressCallback):
    """Training and validation datasets sharing one cache budget, training first."""
    budget = config.cache_budget_mb * 2**20
    per_image = config.image_size ** 2 * 3
    num_classes = len(report.classes)
    train_ds = make_dataset(report.train, num_classes, config.image_size, config.batch_size,
                            training=True, seed=config.seed, cache_budget_bytes=budget,
                            epoch=lambda: progress.epoch)  # Keras's epoch: see make_dataset
    train_bytes = len(report.train) * per_image
    val_budget = budget - train_bytes if train_bytes <= budget else budget
    val_ds = None
    if report.validation:
        # Stops producing once a stop was requested: the cut-short epoch is not validated.
        val_ds = make_dataset(report.validation, num_classes, config.image_size,
                              config.batch_size, training=False, seed=config.seed,
                              cache_budget_bytes=val_budget,
                              should_stop=lambda: progress.stopped)
    return train_ds, val_ds


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _optional(value) -> float | None:
    return None if value is None else float(value)
