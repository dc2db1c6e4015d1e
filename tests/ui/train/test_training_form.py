"""The model list, each model's own defaults, and what the form hands to training."""

from __future__ import annotations

import pytest

from horsehuman_gui.core.backbones import BACKBONES, DEFAULT_BACKBONE
from horsehuman_gui.core.config import (AUGMENT_PRESETS, AUTO_BATCH, CLASS_WEIGHT_MODES,
                                        MODEL_NAMES, TrainConfig, defaults_for, with_batch_size)
from horsehuman_gui.ui.train import training_form
from horsehuman_gui.ui.train.training_form import TrainingForm, weight_hint


@pytest.fixture
def form(qtbot, settings):
    form = TrainingForm(settings)
    qtbot.addWidget(form)
    return form


def _choose(form, key):
    form.model.setCurrentIndex(form.model.findData(key))


def test_a_new_user_gets_the_offline_pretrained_model_with_its_defaults(form):
    config = form.config()
    assert config == TrainConfig(model="pretrained", backbone=DEFAULT_BACKBONE,
                                 **{**defaults_for("pretrained"), "batch_size": AUTO_BATCH,
                                    "image_size": BACKBONES[DEFAULT_BACKBONE].input_size})
    assert "offline" in form.model.currentText().lower()
    assert not form.image_size.isEnabled()  # the backbone's own size


def test_every_backbone_and_network_is_offered_once():
    keys = [key for key, _, _ in training_form.choices()]
    assert keys == [f"pretrained/{n}" for n in BACKBONES] + ["classic", "compact"]
    assert {model for _, _, model in training_form.choices()} == set(MODEL_NAMES)
    assert set(training_form.AUGMENT_LABELS) == set(AUGMENT_PRESETS)
    assert set(training_form.CLASS_WEIGHT_LABELS) == set(CLASS_WEIGHT_MODES)
    assert set(training_form.MODEL_TIPS) == set(MODEL_NAMES)


@pytest.mark.parametrize("model", ["classic", "compact"])
def test_choosing_a_model_brings_its_own_defaults(form, model):
    form.validation_split.setValue(0.3)
    form.seed.setValue(7)
    _choose(form, model)
    config = form.config()
    expected = defaults_for(model)
    assert config.model == model
    assert config.image_size == expected["image_size"]  # not the previous model's 224 or 300
    assert (config.epochs, config.batch_size) == (expected["epochs"], AUTO_BATCH)
    assert with_batch_size(config, 1000).batch_size == expected["batch_size"]
    assert config.learning_rate == expected["learning_rate"]
    assert (config.augment, config.patience) == (expected["augment"], expected["patience"])
    assert (config.validation_split, config.seed) == (0.3, 7)  # the dataset's, kept
    assert form.image_size.isEnabled() and not form.fine_tune.isEnabled()


def test_classic_is_exactly_the_course_recipe(form):
    _choose(form, "compact")
    _choose(form, "classic")
    form.set_class_counts({"horses": 400, "humans": 422})  # Horses or Humans' training part
    config = with_batch_size(form.config(), 822)  # as training makes it
    assert (config.image_size, config.epochs, config.batch_size, config.learning_rate) == \
        (300, 15, 128, 0.001)
    assert form.batch_size.text() == "Automatic (128)" and not form.steps_hint.text()
    assert (config.augment, config.patience, config.class_weights) == ("off", 0, "off")


def test_a_downloaded_backbone_is_remembered(qtbot, settings, form):
    other = next(name for name, spec in BACKBONES.items() if not spec.offline)
    _choose(form, f"pretrained/{other}")
    form.patience.setValue(3)
    form.augment.setCurrentIndex(form.augment.findData("strong"))
    form.save()
    again = TrainingForm(settings)
    qtbot.addWidget(again)
    config = again.config()
    assert (config.model, config.backbone, config.patience, config.augment) == \
        ("pretrained", other, 3, "strong")


def test_form_is_read_only_while_training(form):
    form.set_editable(False)
    assert not any(w.isEnabled() for w in form._widgets())
    form.set_editable(True)
    assert form.model.isEnabled() and not form.image_size.isEnabled()


def test_the_class_weights_hint_says_what_automatic_will_do(form):
    form.set_class_counts({"a": 100, "b": 20})
    assert "5.0x" in form.weight_hint.text() and "count more" in form.weight_hint.text()
    form.class_weights.setCurrentIndex(form.class_weights.findData("off"))
    assert "not weighted" in form.weight_hint.text()
    assert weight_hint({"a": 10, "b": 11}, "auto").startswith("Classes are balanced")
    assert weight_hint({}, "auto") == ""


def test_too_few_steps_an_epoch_are_pointed_out(form):
    form.model.setCurrentIndex(form.model.findData("classic"))  # the course's batch of 128
    form.set_class_counts({"rock": 64, "paper": 64, "scissors": 64})
    assert form.batch_size.value() == AUTO_BATCH and form.batch_size.text() == "Automatic (32)"
    assert form.steps_hint.isVisibleTo(form)
    assert form.steps_hint.text() == ("Batch size 32, not this model's 128: 192 training pictures "
                                      "would make only 2 training steps an epoch at 128.")
    form.batch_size.setValue(128)  # chosen: kept, with a warning
    assert form.config().batch_size == 128
    assert "Only 2 training steps an epoch with 192" in form.steps_hint.text()
    assert "Automatic (batch 32)" in form.steps_hint.text()
    form.batch_size.setValue(16)
    assert not form.steps_hint.isVisibleTo(form)
    form.model.setCurrentIndex(form.model.findData("pretrained/squeezenet"))
    assert form.batch_size.value() == AUTO_BATCH and not form.steps_hint.text()
    form.batch_size.setValue(128)
    assert not form.steps_hint.text()  # a frozen backbone's head learns from a few steps
    assert training_form.steps_hint(822, 128, "classic") == ""  # the course's own case
    assert training_form.steps_hint(822, AUTO_BATCH, "classic") == ""
