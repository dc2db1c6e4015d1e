"""TrainConfig validation and each model's own defaults (no TensorFlow needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from horsehuman_gui.core.config import (AUGMENT_PRESETS, AUTO_BATCH, FEW_STEPS,
                                        MIN_FITTED_BATCH, MODEL_NAMES, EpochMetrics, TrainConfig,
                                        TrainResult, defaults_for, fitted_batch_size,
                                        with_batch_size)


def test_the_default_model_is_pretrained_and_the_defaults_are_its_own():
    config = TrainConfig()

    assert MODEL_NAMES[0] == "pretrained" == config.model
    assert config.backbone == "squeezenet"
    defaults = defaults_for("pretrained")
    assert {k: getattr(config, k) for k in defaults} == defaults


def test_classic_defaults_are_exactly_the_course_recipe():
    config = TrainConfig(model="classic", **defaults_for("classic"))

    assert (config.image_size, config.learning_rate, config.batch_size, config.epochs) \
        == (300, 0.001, 128, 15)
    assert config.augment == "off" and config.patience == 0 and not config.reduce_lr
    assert config.class_weights == "off" and config.fine_tune_epochs == 0


def test_each_model_brings_its_own_size_and_defaults_are_fresh_dicts():
    sizes = {name: defaults_for(name)["image_size"] for name in MODEL_NAMES}

    assert sizes["classic"] == 300 and sizes["compact"] <= 160
    assert defaults_for("compact")["augment"] in AUGMENT_PRESETS[1:]
    defaults_for("compact")["image_size"] = 1
    assert defaults_for("compact")["image_size"] == sizes["compact"]


@pytest.mark.parametrize("model, images, batch", [
    ("classic", 822, 128),  # Horses or Humans' training part: exactly the course's recipe
    ("classic", 768, 128), ("classic", 767, 64),
    ("classic", 192, 32),  # rock-paper-scissors' training photos: 6 steps an epoch, not 2
    ("classic", 10, 8),  # never below MIN_FITTED_BATCH
    ("compact", 192, 32), ("compact", 100, 16), ("pretrained", 1027, 32)])
def test_the_automatic_batch_size_makes_enough_steps_an_epoch(model, images, batch):
    assert fitted_batch_size(model, images) == batch
    config = with_batch_size(TrainConfig(model=model, batch_size=AUTO_BATCH), images)
    assert config.batch_size == batch
    assert images >= FEW_STEPS * batch or batch == MIN_FITTED_BATCH
    chosen = TrainConfig(model=model, batch_size=128)
    assert with_batch_size(chosen, images) is chosen  # a chosen size is never changed


@pytest.mark.parametrize("field, value", [
    ("model", "resnet"), ("backbone", "vgg99"), ("augment", "wild"), ("class_weights", "yes"),
    ("patience", -1), ("fine_tune_epochs", 1.5), ("reduce_lr", "no"), ("epochs", 0),
    ("image_size", True), ("batch_size", -1), ("batch_size", 5000)])
def test_bad_values_say_what_was_received(field, value):
    with pytest.raises(ValueError, match=f"`{field}`.*Received: {value!r}"):
        TrainConfig(**{field: value})


def test_defaults_for_an_unknown_model_is_an_error():
    with pytest.raises(ValueError, match="Received: 'resnet'"):
        defaults_for("resnet")


def _epoch(number: int, val_accuracy: float) -> EpochMetrics:
    return EpochMetrics(number, 3, 0.5, 0.5, 0.5, val_accuracy, 1.0)


def test_final_val_accuracy_is_the_kept_epochs():
    history = (_epoch(1, 0.7), _epoch(2, 0.9), _epoch(3, 0.8))

    kept_best = TrainResult(None, ("a", "b"), 32, history, False, TrainConfig(), best_epoch=2)
    kept_last = TrainResult(None, ("a", "b"), 32, history, False, TrainConfig())

    assert kept_best.final_val_accuracy == 0.9 and kept_best.best.epoch == 2
    assert kept_last.final_val_accuracy == 0.8


def test_config_does_not_import_tensorflow():
    code = ("import sys, horsehuman_gui.core.config as c; c.TrainConfig(); "
            "c.defaults_for('classic'); assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
