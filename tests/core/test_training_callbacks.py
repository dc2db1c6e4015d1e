"""``train(callbacks=...)``: the caller's Keras callbacks see every fit of a run."""

from __future__ import annotations

import numpy as np
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


class _Finished:  # the progress KeepBest asks whether the epoch ran to its end
    finished = True
    history: list = []


def _fit_by_hand(keep, model, losses, moves):
    """Drive ``keep`` like fit: after epoch i the weights are ``moves[i]`` and val_loss
    ``losses[i]``."""
    keep.set_model(model)
    keep.on_train_begin()
    for epoch, (loss, value) in enumerate(zip(losses, moves)):
        model.set_weights([np.full(w.shape, value, "float32") for w in model.weights])
        keep.on_epoch_end(epoch, {"val_loss": loss})
    keep.on_train_end()


def test_keep_best_rewrites_one_copy_of_the_weights_and_restores_the_best():
    from horsehuman_gui.core.callbacks import Best, KeepBest

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    keep = KeepBest(_Finished(), "val_loss", patience=10)
    copies = []
    real = keep._keep_weights

    def spy():
        real()
        copies.append([id(a) for a in keep.best_weights])

    keep._keep_weights = spy
    _fit_by_hand(keep, model, [0.9, 0.5, 0.7, 0.4, 0.6], [1, 2, 3, 4, 5])

    assert len(copies) == 3 and copies[0] == copies[1] == copies[2]  # the same arrays each time
    assert all(np.all(w.numpy() == 4) for w in model.weights)  # epoch 4, the best, restored

    earlier = [np.full(w.shape, 7, "float32") for w in model.weights]  # e.g. the head's best
    keep = KeepBest(_Finished(), "val_loss", patience=10, best=Best(0.45, 1, earlier))
    _fit_by_hand(keep, model, [0.5, 0.3], [8, 9])

    assert all(np.all(a == 7) for a in earlier)  # an earlier best's arrays are never written
    assert all(np.all(w.numpy() == 9) for w in model.weights)
    assert keep.result("fine_tune", None).epoch == 2
