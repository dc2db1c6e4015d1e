"""The "pretrained" model: a frozen ImageNet backbone, features computed once, a head on them.

Phase 1 ("head"): every image goes through the backbone once (``core.features``, cached on
disk); with augmentation, a few augmented copies of each training image too. The head trains
on those vectors: an epoch takes milliseconds, and each is still reported like any other.
Phase 2 ("fine_tune", optional): the top of the backbone is unfrozen and the whole network
trains on images again, with augmentation, at a twentieth of the learning rate.
The result is one Keras model: raw pixels -> [resize] -> backbone (with its preprocessing) ->
head.
"""

from __future__ import annotations

import math
import time

import numpy as np

from horsehuman_gui.core.callbacks import Best
from horsehuman_gui.core.config import StageProgress
from horsehuman_gui.core.errors import DatasetError
from horsehuman_gui.core.feature_cache import FeatureCache, FeatureKey
from horsehuman_gui.core.features import PROGRESS_INTERVAL, extract_features
from horsehuman_gui.core.models import (build_head, build_pretrained, compile_model,
                                        feature_extractor, keras)
from horsehuman_gui.core.pipeline import image_datasets, skipped_files
from horsehuman_gui.core.session import Session, class_weight_for

#: Augmented copies of each training image whose features the head also learns from.
AUGMENTED_COPIES = 3
#: Share of the backbone's layers with weights that fine-tuning unfreezes (from the top).
FINE_TUNE_SHARE = 0.3
#: Fine-tuning's learning rate as a share of the head's.
FINE_TUNE_RATE = 0.05


def load_backbone(name: str, on_stage=None, should_stop=None):
    """``core.backbones.build_backbone(name)``, frozen, its progress as "backbone" stages."""
    from horsehuman_gui.core import backbones

    def report(done, total):
        if on_stage is not None:
            on_stage(StageProgress("backbone", int(done), int(total or 0)))

    backbone = backbones.build_backbone(name, on_progress=report, should_stop=should_stop)
    backbone.trainable = False
    return backbone


def train_pretrained(session: Session, on_stage=None):
    """Train ``session``'s run as described above; return the full model (raw pixels in).
    Files that cannot be read go into ``session.skipped``."""
    config, report = session.config, session.report
    num_classes = len(report.classes)
    backbone = load_backbone(config.backbone, on_stage, session.should_stop)
    if session.resuming("fine_tune"):  # the head's weights are in the checkpoint
        head = build_head(int(backbone.outputs[0].shape[-1]), num_classes, config.learning_rate)
    else:
        head = _train_head(session, backbone, on_stage)
    if (config.fine_tune_epochs and not session.progress.stopped) \
            or session.resuming("fine_tune"):
        _fine_tune(session, backbone, head)
    return build_pretrained(backbone, head, config.image_size)


def _train_head(session: Session, backbone, on_stage):
    config, report = session.config, session.report
    num_classes = len(report.classes)
    x, y, x_val, y_val = _features(session, backbone, on_stage)
    head = build_head(x.shape[-1], num_classes, config.learning_rate)
    session.resume_into(head, "head")
    weights = class_weight_for(np.argmax(y, -1) if y.shape[-1] > 1 else y[:, 0], num_classes,
                               config.class_weights)
    session.fit(head, x, y=y, phase="head", epochs=config.epochs,
                batches=math.ceil(len(x) / config.batch_size), batch_size=config.batch_size,
                validation_data=None if x_val is None else (x_val, y_val),
                class_weight=weights, shuffle=True)
    return head


def _features(session: Session, backbone, on_stage):
    """(x, y, x_val, y_val): training vectors with their augmented copies, validation's."""
    config, report = session.config, session.report
    extractor = feature_extractor(backbone, config.image_size)
    copies = AUGMENTED_COPIES if config.augment != "off" else 0
    key = FeatureKey(config.backbone, config.image_size, config.augment)
    total = len(report.train) * (copies + 1) + len(report.validation)
    stage = _StageReporter(on_stage, total)
    cache = FeatureCache()
    try:
        options = dict(seed=config.seed, cache=cache, should_stop=session.should_stop)
        train = extract_features([i.path for i in report.train], extractor, key, copies=copies,
                                 on_progress=stage.part(0), **options)
        session.skipped.update(train.failed)
        x, y = _stacked(train, report.train, len(report.classes))
        if not len(x):
            raise DatasetError(f"None of the {len(report.train)} training images could be read "
                               "(each file's reason is in the log).")
        x_val = y_val = None
        if report.validation:
            val = extract_features([i.path for i in report.validation], extractor,
                                   FeatureKey(config.backbone, config.image_size),
                                   on_progress=stage.part(len(report.train) * (copies + 1)),
                                   **options)
            session.skipped.update(val.failed)
            x_val, y_val = _stacked(val, report.validation, len(report.classes))
    finally:
        cache.close()
    return x, y, x_val, y_val


def _stacked(features, items, num_classes: int):
    """Every copy of every readable file, and their labels (0/1 column or one-hot)."""
    labels = np.array([item.label for item in items])[features.ok]
    x = features.vectors[:, features.ok].reshape(-1, features.vectors.shape[-1])
    labels = np.tile(labels, features.vectors.shape[0])
    if num_classes == 2:
        return x, labels.astype(np.float32)[:, None]
    return x, np.eye(num_classes, dtype=np.float32)[labels]


class _StageReporter:
    """One "features" stage over several extractions: offsets their counts, throttles."""

    def __init__(self, on_stage, total: int):
        self.on_stage, self.total, self._last = on_stage, total, -math.inf

    def part(self, offset: int):
        def report(done: int, _total: int) -> None:
            now = time.monotonic()
            count = offset + done
            if self.on_stage is not None and (count >= self.total
                                              or now - self._last >= PROGRESS_INTERVAL):
                self._last = now
                self.on_stage(StageProgress("features", count, self.total))
        return report


def _fine_tune(session: Session, backbone, head) -> None:
    config, report = session.config, session.report
    _unfreeze_top(backbone)
    model = build_pretrained(backbone, head, config.image_size, config.augment, config.seed)
    compile_model(model, len(report.classes),
                  keras.optimizers.Adam(learning_rate=config.learning_rate * FINE_TUNE_RATE))
    if session.resuming("fine_tune"):
        _restore_fine_tune(session, head, model)
        session.resume_into(model, "fine_tune")
    elif session.best is not None:  # the head's best is in place: with the frozen backbone,
        session.best.weights = model.get_weights()  # that is the whole model's best so far
    sources: list = []  # the decoded-image caches: freed when this function returns
    train_ds, val_ds = image_datasets(report, config, session.progress, sources)
    session.fit(model, train_ds, phase="fine_tune", epochs=config.fine_tune_epochs,
                batches=math.ceil(len(report.train) / config.batch_size),
                validation_data=val_ds, shuffle=False)
    session.skipped.update(skipped_files(sources))


def _restore_fine_tune(session: Session, head, model) -> None:
    """Before resuming fine-tuning: a best epoch from the head phase is the original backbone
    with that head, rebuilt by loading the head's weights."""
    state = session.state
    if state.best_weights is not None and state.best_phase == "head":
        head.load_weights(session.checkpoint_dir / state.best_weights)
        session.best = Best(state.best_value, state.best_epoch, model.get_weights(), "head",
                            state.best_weights)


def _unfreeze_top(backbone) -> None:
    """Make the top ``FINE_TUNE_SHARE`` of the backbone's weighted layers trainable; batch
    normalisation stays frozen (its statistics would drift on a few hundred images)."""
    weighted = [layer for layer in _leaf_layers(backbone) if layer.weights]
    cut = len(weighted) - max(1, int(len(weighted) * FINE_TUNE_SHARE))
    backbone.trainable = True
    for number, layer in enumerate(weighted):
        frozen = number < cut or isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = not frozen
    for layer in _leaf_layers(backbone):
        if not layer.weights:
            layer.trainable = True


def _leaf_layers(model) -> list:
    found = []
    for layer in model.layers:
        found += _leaf_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return found
