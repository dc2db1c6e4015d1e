"""Training: learns a separable set, reports progress, stops on request, is reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import build_tiny_backbone, make_class_folders  # at import: see conftest
from horsehuman_gui.core.config import BatchProgress, EpochMetrics, TrainConfig
from horsehuman_gui.core.dataset import LabeledImage, ScanReport
from horsehuman_gui.core.errors import DatasetError
from horsehuman_gui.core import session as session_module
from horsehuman_gui.core.bundle import bundle_from_result, load_bundle, save_bundle
from horsehuman_gui.core.checkpoints import (CheckpointError, default_checkpoint_dir,
                                             read_checkpoint)
from horsehuman_gui.core.config import StageProgress
from horsehuman_gui.core.features import ExtractionCancelled
from horsehuman_gui.core.images import load_array
from horsehuman_gui.core.session import class_weight_for
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
                           "seed": 5, "augment": "off", "patience": 0} | changes))


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
    assert result.model is not None and result.best_epoch is None


def test_an_automatic_batch_size_is_fitted_to_the_training_images(colours):
    result = train(report_for(colours), config(model="classic", epochs=1, batch_size=0))
    assert result.config.batch_size == 8  # 16 images: the smallest fitted size, not 128


def test_three_classes_train_a_softmax(tmp_path):
    root = make_class_folders(tmp_path / "rgb", classes=("blue", "green", "red"), per_class=5)

    result = train(report_for(root, ("blue", "green", "red"), 1), config(epochs=2))

    assert result.model.outputs[0].shape[-1] == 3
    assert result.model.layers[-1].activation.__name__ == "softmax"
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


@pytest.mark.parametrize("model", ["compact", "pretrained"])
def test_files_damaged_after_the_scan_are_left_out_and_named_in_the_result(
        tmp_path, tiny_backbone, model):
    root = make_class_folders(tmp_path / "damaged", per_class=6)
    report = report_for(root, validation_per_class=2)
    broken = [report.train[0].path, report.validation[-1].path]
    for path in broken:
        path.write_bytes(path.read_bytes()[:60])  # the header survives, the pixels do not

    result = train(report, pretrained(epochs=1) if model == "pretrained" else config(epochs=1))

    assert [path for path, _ in result.skipped] == sorted(broken)
    assert all(reason for _, reason in result.skipped)
    assert len(result.history) == 1


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


# ------------------------------------------------------------------------------------------
# The returned model, best epoch, resume, the pretrained model (with a tiny stand-in backbone)
# ------------------------------------------------------------------------------------------

def pixels_of(items, size=32):
    return np.stack([load_array(item.path, size) for item in items]).astype("float32")


def test_the_returned_model_carries_no_optimizer(two_runs):
    result = two_runs[0][0]

    assert getattr(result.model, "optimizer", None) is None and not result.model.compiled
    assert result.model.train_function is None
    assert result.best_epoch == 5  # no early stopping: the last epoch


def pretrained(**changes) -> TrainConfig:
    return config(**({"model": "pretrained", "backbone": "tiny", "epochs": 40,
                      "learning_rate": 0.05, "patience": 0} | changes))


def test_a_head_on_backbone_features_learns_a_separable_set(colours, tiny_backbone, tmp_path):
    stages, batches = [], []

    result = train(report_for(colours), pretrained(), on_stage=stages.append,
                   on_batch=batches.append)

    assert result.final_val_accuracy == 1.0 and len(result.history) == 40
    assert tiny_backbone == ["tiny"]
    assert stages[-1] == StageProgress("features", 20, 20)  # 16 training + 4 validation
    assert batches[-1].batches == 4 and batches[-1].epoch == 40
    path = save_bundle(bundle_from_result(result), tmp_path / "pretrained.keras")
    loaded = load_bundle(path)
    images = pixels_of(report_for(colours).validation)
    np.testing.assert_allclose(loaded.model(images), result.model(images), rtol=1e-5)
    assert loaded.image_size == 32 and loaded.class_names == ("blue", "red")


def test_frozen_augmentation_trains_on_augmented_copies_too(colours, tiny_backbone):
    batches = []

    result = train(report_for(colours), pretrained(epochs=2, augment="light"),
                   on_batch=batches.append)

    assert batches[-1].batches == 16  # (16 images + 3 copies each) / batch 4
    assert not any(layer.name.startswith("augment") for layer in _all_layers(result.model))


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def swapped(report: ScanReport) -> ScanReport:
    """Validation labels swapped: the better the fit, the worse the validation loss."""
    flipped = tuple(LabeledImage(i.path, 1 - i.label) for i in report.validation)
    return ScanReport(**{**report.__dict__, "validation": flipped})


def val_loss_of(model, report) -> float:
    scores = np.asarray(model(pixels_of(report.validation)))[:, 0].astype("float64")
    labels = np.array([item.label for item in report.validation])
    scores = np.clip(scores, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(scores) + (1 - labels) * np.log(1 - scores)))


def test_early_stopping_keeps_the_best_epochs_weights(colours, tiny_backbone):
    report = swapped(report_for(colours))

    result = train(report, pretrained(patience=3, epochs=30))

    losses = [m.val_loss for m in result.history]
    assert len(result.history) < 30  # stopped early
    assert result.best_epoch == 1 + int(np.argmin(losses))
    assert result.best_epoch < len(result.history)
    assert val_loss_of(result.model, report) == pytest.approx(min(losses), rel=1e-3)
    assert val_loss_of(result.model, report) < losses[-1]


def test_after_a_stop_the_model_is_still_the_best_epoch(colours, tiny_backbone):
    report = swapped(report_for(colours))
    epochs = []

    result = train(report, pretrained(patience=20, epochs=30), on_epoch=epochs.append,
                   should_stop=lambda: len(epochs) >= 6)  # after epoch 7's first batch

    losses = [m.val_loss for m in result.history]
    assert result.stopped and len(result.history) == 6
    assert result.best_epoch == 1 + int(np.argmin(losses)) < 6
    assert val_loss_of(result.model, report) == pytest.approx(min(losses), rel=1e-3)


def test_a_stop_while_features_are_computed_raises(colours, tiny_backbone):
    with pytest.raises(ExtractionCancelled):
        train(report_for(colours), pretrained(), should_stop=lambda: True)


def test_class_weights_balance_imbalanced_classes_when_asked():
    balanced, skewed = np.array([0] * 10 + [1] * 12), np.array([0] * 30 + [1] * 10)

    assert class_weight_for(balanced, 2, "auto") is None
    assert class_weight_for(balanced, 2, "off") is None
    assert class_weight_for(balanced, 2, "on") == pytest.approx({0: 22 / 20, 1: 22 / 24})
    weights = class_weight_for(skewed, 2, "auto")
    assert weights == pytest.approx({0: 40 / 60, 1: 40 / 20})
    assert class_weight_for(skewed, 2, "off") is None


def _recording_fit(monkeypatch):
    """Record, at the start of every fit, the epoch it starts from and the optimizer's count."""
    seen = []
    original = session_module.Session.fit

    def fit(self, model, data, **options):
        done = len(self.progress.history)
        seen.append((done, int(model.optimizer.iterations) if model.optimizer.built else 0))
        return original(self, model, data, **options)

    monkeypatch.setattr(session_module.Session, "fit", fit)
    return seen


def test_resume_continues_from_the_last_finished_epoch_with_the_optimizer_state(
        colours, tmp_path, monkeypatch):
    report, folder = report_for(colours), tmp_path / "checkpoint"
    settings = config(model="classic", epochs=4)
    reference = train(report, settings)
    seen = _recording_fit(monkeypatch)
    finished = []

    first = train(report, settings, checkpoint_dir=folder, on_epoch=finished.append,
                  should_stop=lambda: len(finished) >= 2)  # after epoch 3's first batch
    state = read_checkpoint(folder)
    epochs = []
    resumed = train(report, settings, checkpoint_dir=folder, resume=True, on_epoch=epochs.append)

    assert first.stopped and [m.epoch for m in first.history] == [1, 2]
    assert state.epoch == 2 and state.phase == "train"
    assert seen[1] == (2, 2 * 4)  # 2 epochs of 4 batches: the optimizer's iteration count
    assert [m.epoch for m in epochs] == [3, 4]
    assert [m.epoch for m in resumed.history] == [1, 2, 3, 4]
    assert not folder.exists()  # a run that finished needs no checkpoint
    for a, b in zip(resumed.model.get_weights(), reference.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_resume_without_a_checkpoint_starts_a_new_run(colours, tmp_path):
    result = train(report_for(colours), config(epochs=1), checkpoint_dir=tmp_path / "none",
                   resume=True)

    assert [m.epoch for m in result.history] == [1]


def test_fine_tuning_trains_the_top_of_the_backbone_after_the_head(colours, tiny_backbone,
                                                                   tmp_path):
    epochs = []
    result = train(report_for(colours), pretrained(epochs=5, fine_tune_epochs=2,
                                                   augment="light"), on_epoch=epochs.append)

    assert [m.epoch for m in epochs] == [1, 2, 3, 4, 5, 6, 7]
    assert epochs[-1].epochs == 7 and result.best_epoch == 7
    original = build_tiny_backbone().get_weights()
    backbone = next(layer for layer in result.model.layers if layer.name == "tiny")
    tuned = backbone.get_weights()
    np.testing.assert_array_equal(tuned[0], original[0])  # the bottom stays frozen
    assert not np.allclose(tuned[-1], original[-1])  # the top has learnt
    assert not any(layer.name.startswith("augment") for layer in _all_layers(result.model))
    loaded = load_bundle(save_bundle(bundle_from_result(result), tmp_path / "tuned.keras"))
    images = pixels_of(report_for(colours).validation)
    np.testing.assert_allclose(loaded.model(images), result.model(images), rtol=1e-5)


def test_a_stopped_head_resumes_from_its_checkpoint(colours, tiny_backbone, tmp_path):
    folder, finished = tmp_path / "checkpoint", []
    settings = pretrained(epochs=6, patience=4)

    first = train(report_for(colours), settings, checkpoint_dir=folder,
                  on_epoch=finished.append, should_stop=lambda: len(finished) >= 3)
    state = read_checkpoint(folder)
    assert state.best_epoch is not None and (folder / state.best_weights).is_file()
    resumed = train(report_for(colours), settings, checkpoint_dir=folder, resume=True)

    assert first.stopped and state.phase == "head" and state.epoch == 3
    assert [m.epoch for m in resumed.history] == [1, 2, 3, 4, 5, 6]
    assert resumed.history[:3] == first.history and not folder.exists()


def test_the_default_checkpoint_folder_is_stable_for_a_dataset_and_its_settings(tmp_path):
    here = default_checkpoint_dir(tmp_path / "horses", config())

    assert here == default_checkpoint_dir(tmp_path / "horses", config(epochs=40, patience=3))
    assert here != default_checkpoint_dir(tmp_path / "horses", config(image_size=48))
    assert here != default_checkpoint_dir(tmp_path / "zebras", config())
    assert here.name == "checkpoint" and "horses" in here.parent.name
    assert "data-dir" in str(here)  # under HORSEHUMAN_DATA_DIR (tests/conftest.py)


def test_a_checkpoint_of_other_settings_is_refused_and_a_damaged_one_ignored(colours, tmp_path):
    folder, finished = tmp_path / "checkpoint", []
    train(report_for(colours), config(epochs=3), checkpoint_dir=folder,
          on_epoch=finished.append, should_stop=lambda: len(finished) >= 1)

    with pytest.raises(CheckpointError, match="learning_rate=0.001"):
        train(report_for(colours), config(epochs=3, learning_rate=0.01),
              checkpoint_dir=folder, resume=True)
    (folder / "state.json").write_text("{not json")
    assert read_checkpoint(folder) is None
    assert read_checkpoint(tmp_path / "nowhere") is None


@pytest.mark.parametrize("reduce_lr", [True, False])
def test_the_learning_rate_is_reduced_on_a_plateau_only_when_asked(colours, tiny_backbone,
                                                                   monkeypatch, reduce_lr):
    rates = []
    original = session_module.Session.fit

    def fit(self, model, data, **options):
        original(self, model, data, **options)
        rates.append(float(model.optimizer.learning_rate))

    monkeypatch.setattr(session_module.Session, "fit", fit)

    train(swapped(report_for(colours)), pretrained(epochs=8, patience=6, reduce_lr=reduce_lr))

    assert (rates[0] < 0.05) if reduce_lr else rates == [pytest.approx(0.05)]


def test_a_checkpoint_that_cannot_be_written_never_ends_the_run(colours, tmp_path, monkeypatch,
                                                                caplog):
    from horsehuman_gui.core import callbacks

    calls = []

    def full_disk(folder, model, state):
        calls.append(state.epoch)
        (tmp_path / "checkpoint" / ".epoch-0001.weights.h5.tmp.weights.h5").write_bytes(b"x")
        raise OSError(28, "No space left on device")

    (tmp_path / "checkpoint").mkdir()
    monkeypatch.setattr(callbacks, "write_checkpoint", full_disk)
    result = train(report_for(colours), config(epochs=3), checkpoint_dir=tmp_path / "checkpoint")
    assert len(result.history) == 3 and not result.stopped  # the run went on to the end
    assert calls == [1]  # tried once, then no more
    assert "No space left" in caplog.text and "cannot be resumed" in caplog.text
    assert not list((tmp_path / "checkpoint").glob(".*.tmp*"))  # its temporary file went


def test_no_checkpoint_is_tried_without_the_space_for_it(colours, tmp_path, monkeypatch, caplog):
    import shutil
    from collections import namedtuple

    from horsehuman_gui.core import callbacks

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 10**6, 10**6))
    monkeypatch.setattr(callbacks, "write_checkpoint",
                        lambda *a: pytest.fail("a checkpoint write was tried on a full disk"))
    result = train(report_for(colours), config(epochs=2), checkpoint_dir=tmp_path / "cp")
    assert len(result.history) == 2
    assert "MB free" in caplog.text


def test_a_stop_gives_no_learning_rate_warning(colours, recwarn):
    calls = {"n": 0}

    def stop_soon():
        calls["n"] += 1
        return calls["n"] > 3

    result = train(report_for(colours), config(epochs=5, reduce_lr=True), should_stop=stop_soon)
    assert result.stopped
    assert not [w for w in recwarn if "Learning rate reduction" in str(w.message)]
