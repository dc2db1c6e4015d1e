"""Train a model on a scanned dataset, reporting progress through plain callables.

``train`` runs Keras's own ``fit`` (no ``steps_per_epoch``: the dataset defines an epoch, so no
epoch is ever skipped) with the callbacks of ``core.callbacks``: every finished epoch and
throttled batches reported, Stop after the current batch, early stopping that keeps the best
epoch, learning-rate reduction, and a checkpoint per epoch to resume from.

An epoch cut short by a stop is left out of the history and ``on_epoch`` is not called for it:
its numbers cover part of the data and would read like a finished epoch. Its validation pass is
skipped too, so stopping is quick. ``TrainResult.stopped`` says the run ended early.
"""

from __future__ import annotations

import gc
import logging
import math
import warnings
from pathlib import Path
from typing import Callable, Sequence

from horsehuman_gui.core.callbacks import BATCH_REPORT_INTERVAL, ProgressCallback
from horsehuman_gui.core.checkpoints import delete_checkpoint
from horsehuman_gui.core.config import (BatchProgress, EpochMetrics, StageProgress, TrainConfig,
                                        TrainResult, with_batch_size)
from horsehuman_gui.core.dataset import ScanReport
from horsehuman_gui.core.errors import DatasetError
from horsehuman_gui.core.microbatch import micro_batch_size, micro_batches
from horsehuman_gui.core.models import build_model, keras
from horsehuman_gui.core.pipeline import image_datasets, skipped_files
from horsehuman_gui.core.session import Session, class_weight_for, inference_copy

logger = logging.getLogger(__name__)

__all__ = ["BATCH_REPORT_INTERVAL", "ProgressCallback", "train"]

# Our datasets cannot know their length in advance (a file may fail to decode), so Keras learns
# it at the end of the first epoch and warns that the input "ran out of data". Expected here.
warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)


def train(report: ScanReport, config: TrainConfig,
          on_epoch: Callable[[EpochMetrics], None] | None = None,
          on_batch: Callable[[BatchProgress], None] | None = None,
          should_stop: Callable[[], bool] | None = None,
          on_stage: Callable[[StageProgress], None] | None = None,
          checkpoint_dir: str | Path | None = None, resume: bool = False,
          callbacks: Sequence = ()) -> TrainResult:
    """Build ``config.model`` for ``report.classes`` and train it on ``report.train``.

    Validation uses ``report.validation`` (skipped when empty). ``on_epoch`` gets every finished
    epoch, ``on_batch`` at most one report every 0.1 s plus each epoch's last batch, ``on_stage``
    the work before the first epoch ("pretrained": the backbone and its features); all are
    called on the calling thread. ``should_stop`` is checked after every batch and between
    feature batches (also from the input pipeline's thread: it must be thread-safe, e.g.
    ``threading.Event.is_set``); a stop before any feature was ready raises
    ``features.ExtractionCancelled``.

    With ``checkpoint_dir``, a checkpoint is written there after every finished epoch, and
    deleted when the run ends without a Stop; ``resume`` continues from it (from scratch when
    there is none; ``checkpoints.CheckpointError`` when it was made with other settings).
    ``callbacks`` (Keras callbacks, e.g. ``keras.callbacks.TensorBoard``) are added to every
    ``fit`` of the run (for "pretrained": the head's on features, then fine-tuning's).

    Returns an uncompiled model ready to predict (the best epoch with early stopping) with the
    history of finished epochs. Seeded by ``config.seed``. Files that fail to decode are logged
    and left out; ``DatasetError`` if none could be read.
    """
    if not report.train:
        raise ValueError("`report.train` holds no images to train on.")
    config = with_batch_size(config, len(report.train))
    keras.utils.set_random_seed(config.seed)
    session = Session(report, config, on_epoch, on_batch, should_stop, checkpoint_dir, resume,
                      callbacks)
    if config.model == "pretrained":
        from horsehuman_gui.core.transfer import train_pretrained  # loads the backbones

        trained = train_pretrained(session, on_stage)
    else:
        trained = _train_cnn(session)
    model = inference_copy(trained)
    del trained
    gc.collect()  # the optimizer's state and the traced step go now, not at some later time
    progress = session.progress
    if not progress.stopped:
        delete_checkpoint(session.checkpoint_dir)
    return TrainResult(model=model, class_names=tuple(report.classes),
                       image_size=config.image_size, history=tuple(progress.history),
                       stopped=progress.stopped, config=config, best_epoch=session.best_epoch,
                       skipped=tuple(sorted(session.skipped.items())))


def _train_cnn(session: Session):
    report, config = session.report, session.config
    num_classes = len(report.classes)
    model = build_model(config.model, config.image_size, num_classes, config.learning_rate,
                        augment=config.augment, seed=config.seed)
    session.resume_into(model, "train")
    sources: list = []  # the decoded-image caches: freed when this function returns
    train_ds, val_ds = image_datasets(report, config, session.progress, sources)
    chunk = micro_batch_size(model, config.batch_size)
    logger.info("Training %s on %d images (%d for validation), %d classes, batch %d (micro %d)",
                config.model, len(report.train), len(report.validation), num_classes,
                config.batch_size, chunk)
    weights = class_weight_for([item.label for item in report.train], num_classes,
                               config.class_weights)

    def release() -> None:  # the files that failed are known; the decoded images can go
        session.skipped.update(skipped_files(sources))
        for source in sources:
            source.release()
        sources.clear()

    with micro_batches(model, chunk):
        session.fit(model, train_ds, phase="train", epochs=config.epochs,
                    batches=math.ceil(len(report.train) / config.batch_size),
                    validation_data=val_ds, class_weight=weights, release=release,
                    shuffle=False)  # the dataset reshuffles itself
    if session.progress.empty_epoch:
        raise DatasetError(f"None of the {len(report.train)} training images could be read "
                           "(each file's reason is in the log).")
    return model
