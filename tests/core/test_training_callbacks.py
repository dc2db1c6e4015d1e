"""``train(callbacks=...)``: the caller's Keras callbacks see every fit of a run."""

from __future__ import annotations

import pytest

from conftest import make_class_folders
from horsehuman_gui.core.config import TrainConfig
from horsehuman_gui.core.dataset import scan_dataset
from horsehuman_gui.core.models import keras
from horsehuman_gui.core.training import train

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Your input ran out of data")]


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs, self.logs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)
        self.logs.append(dict(logs or {}))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return scan_dataset(make_class_folders(tmp_path_factory.mktemp("cb") / "c", per_class=6))


def test_a_cnn_runs_fit_with_the_callers_callbacks(report):
    recorder = Recorder()
    train(report, TrainConfig(model="compact", image_size=32, epochs=2, batch_size=4,
                              augment="off", patience=0), callbacks=[recorder])

    assert recorder.epochs == [0, 1]
    assert "val_loss" in recorder.logs[0] and "loss" in recorder.logs[0]


def test_the_pretrained_head_and_fine_tuning_both_report(report, tiny_backbone):
    recorder = Recorder()
    train(report, TrainConfig(model="pretrained", backbone="tiny", image_size=32, epochs=2,
                              fine_tune_epochs=1, batch_size=4, patience=0),
          callbacks=[recorder])

    assert recorder.epochs == [0, 1, 2]


def test_tensorboard_writes_event_files(report, tmp_path):
    pytest.importorskip("tensorboard")
    logs = tmp_path / "logs"
    train(report, TrainConfig(model="compact", image_size=32, epochs=1, batch_size=4,
                              augment="off", patience=0),
          callbacks=[keras.callbacks.TensorBoard(logs)])

    assert list((logs / "train").glob("events.out.tfevents.*"))
    assert list((logs / "validation").glob("events.out.tfevents.*"))
