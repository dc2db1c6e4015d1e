"""Training: learns a separable set, reports progress, stops on request, is reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import make_class_folders
from horsehuman_gui.core.config import BatchProgress, EpochMetrics, TrainConfig
from horsehuman_gui.core.dataset import LabeledImage, ScanReport
from horsehuman_gui.core.errors import DatasetError
from horsehuman_gui.core.models import build_model
from horsehuman_gui.core.training import ProgressCallback, train

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Your input ran out of data")]


def report_for(root: Path, classes=("blue", "red"), validation_per_class: int = 2) -> ScanReport:
    """A scan report built by hand (the scanner has its own tests)."""
    train_items, validation_items = [], []
    for label, name in enumerate(classes):
        paths = sorted((root / name).iterdir())
        validation_items += [LabeledImage(p, label) for p in paths[:validation_per_class]]
        train_items += [LabeledImage(p, label) for p in paths[validation_per_class:]]
    return ScanReport(root=root, layout="classes", classes=tuple(classes),
                      train=tuple(train_items), validation=tuple(validation_items), skipped=(),
                      warnings=(), validation_split=0.2, seed=1)


def config(**changes) -> TrainConfig:
    return TrainConfig(**({"model": "compact", "image_size": 32, "epochs": 4, "batch_size": 4,
                           "seed": 5} | changes))


@pytest.fixture(scope="module")
def colours(tmp_path_factory) -> Path:
    return make_class_folders(tmp_path_factory.mktemp("train") / "colours", per_class=10)


@pytest.fixture(scope="module")
def two_runs(colours):
    """The same seeded run twice, with everything it reported."""
    runs = []
    for _ in range(2):
        epochs, batches = [], []
        result = train(report_for(colours), config(model="classic", epochs=5),
                       on_epoch=epochs.append, on_batch=batches.append)
        runs.append((result, epochs, batches))
    return runs


def test_a_separable_set_is_learned(two_runs):
    result, epochs, _ = two_runs[0]

    assert not result.stopped
    assert len(result.history) == 5
    assert result.history[-1].accuracy >= 0.95
    assert result.final_val_accuracy == 1.0
    assert result.history[-1].loss < result.history[0].loss
    assert result.class_names == ("blue", "red") and result.image_size == 32


def test_every_epoch_and_each_epochs_last_batch_are_reported(two_runs):
    result, epochs, batches = two_runs[0]

    assert epochs == list(result.history)
    assert [e.epoch for e in epochs] == [1, 2, 3, 4, 5]
    assert all(isinstance(e, EpochMetrics) and e.epochs == 5 and e.seconds > 0 for e in epochs)
    assert all(e.val_loss is not None for e in epochs)
    last_batches = [b for b in batches if b.batch == b.batches]
    assert [b.epoch for b in last_batches] == [1, 2, 3, 4, 5]
    assert all(isinstance(b, BatchProgress) and b.batches == 4 for b in batches)  # 16 / 4


def test_seeded_runs_are_reproducible(two_runs):
    (first, _, _), (second, _, _) = two_runs

    assert [e.loss for e in first.history] == [e.loss for e in second.history]
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_stop_after_the_first_batch(colours):
    batches = []
    calls = []

    def should_stop():
        calls.append(1)
        return True

    result = train(report_for(colours), config(epochs=3), on_batch=batches.append,
                   should_stop=should_stop)

    assert result.stopped
    assert result.history == ()  # the epoch cut short is not a finished epoch
    assert [(b.epoch, b.batch) for b in batches] == [(1, 1)]  # 1 of 12 batches ran
    assert result.model is not None


def test_three_classes_train_a_softmax(tmp_path):
    root = make_class_folders(tmp_path / "rgb", classes=("blue", "green", "red"), per_class=5)

    result = train(report_for(root, ("blue", "green", "red"), 1), config(epochs=2))

    assert result.model.outputs[0].shape[-1] == 3
    assert result.model.loss == "categorical_crossentropy"
    assert len(result.history) == 2 and result.history[-1].val_accuracy is not None


def test_without_validation_images_there_is_no_validation(colours):
    report = report_for(colours, validation_per_class=0)

    result = train(report, config(epochs=1))

    assert result.history[0].val_loss is None and result.history[0].val_accuracy is None


def test_training_images_that_all_fail_to_decode_are_a_dataset_error(tmp_path):
    root = make_class_folders(tmp_path / "broken", per_class=3)
    report = report_for(root, validation_per_class=1)
    for item in report.train:
        item.path.write_bytes(b"not an image any more")

    with pytest.raises(DatasetError, match="None of the 4 training images"):
        train(report, config(epochs=2))


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _Model:
    stop_training = False


def test_batch_reports_are_throttled_but_the_last_batch_always_comes():
    clock, reported, stops = _Clock(), [], iter([False] * 9 + [True])
    callback = ProgressCallback(epochs=1, batches=10, on_batch=reported.append,
                                should_stop=lambda: next(stops), clock=clock)
    callback.set_model(_Model())
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    for batch in range(10):
        clock.now += 0.03  # 30 ms per batch: about every fourth one is reported
        callback.on_train_batch_end(batch, {"loss": 0.5, "accuracy": 0.75})

    assert [b.batch for b in reported] == [1, 5, 9, 10]
    assert reported[-1].position == 1.0 and reported[-1].elapsed == pytest.approx(0.3)
    assert callback.stopped and callback.model.stop_training


def test_a_short_epochs_last_batch_is_reported_when_the_epoch_ends():
    clock, reported, epochs = _Clock(), [], []
    callback = ProgressCallback(epochs=2, batches=5, on_epoch=epochs.append,
                                on_batch=reported.append, clock=clock)
    callback.set_model(_Model())
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    for batch in range(4):  # a file failed: 4 batches instead of 5
        clock.now += 0.01
        callback.on_train_batch_end(batch, {"loss": 1.0, "accuracy": 0.5})
    callback.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})

    assert [b.batch for b in reported] == [1, 4]
    assert epochs[0].epoch == 1 and epochs[0].val_loss is None
