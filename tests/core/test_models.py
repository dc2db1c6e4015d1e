"""The model builders: the course's classic CNN exactly, the small fast one, the pretrained one."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import build_tiny_backbone
from horsehuman_gui.core.models import (build_head, build_model, build_pretrained, keras,
                                        output_classes)


def test_classic_matches_the_course_summary_at_300px():
    model = build_model("classic", 300, 2)

    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    flatten = next(layer for layer in model.layers if isinstance(layer, keras.layers.Flatten))
    sizes = [size for conv, pool in zip(convs, pools)
             for size in (conv.output.shape[1], pool.output.shape[1])]
    assert sizes == [298, 149, 147, 73, 71, 35]
    assert [conv.filters for conv in convs] == [16, 32, 64]
    assert flatten.output.shape[-1] == 78_400
    assert model.count_params() == 40_165_409


def test_classic_takes_raw_pixels_and_is_compiled_like_the_course():
    model = build_model("classic", 300, 2)

    assert isinstance(model.layers[0], keras.layers.Rescaling)
    assert model.layers[0].scale == pytest.approx(1 / 255)
    head = model.layers[-1]
    assert head.units == 1 and head.activation.__name__ == "sigmoid"
    assert model.layers[-2].units == 512
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)
    assert model.loss == "binary_crossentropy"


def test_more_than_two_classes_use_softmax_and_categorical_crossentropy():
    model = build_model("classic", 64, 3, learning_rate=0.01)

    assert model.layers[-1].units == 3
    assert model.layers[-1].activation.__name__ == "softmax"
    assert model.loss == "categorical_crossentropy"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    assert output_classes(model) == 3


def test_compact_is_small_normalised_by_batch_and_optimised_by_adam():
    model = build_model("compact", 32, 2)
    pixels = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)

    scores = np.asarray(model(pixels, training=False))

    assert model.count_params() < 500_000
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert scores.shape == (4, 1)
    assert np.all((scores >= 0) & (scores <= 1))
    assert output_classes(model) == 2


@pytest.mark.parametrize("name, classes", [("resnet", 2), ("classic", 1), ("pretrained", 2)])
def test_bad_arguments_say_what_was_received(name, classes):
    with pytest.raises(ValueError, match="Received"):
        build_model(name, 32, classes)


def test_augmentation_layers_act_in_training_only():
    model = build_model("compact", 32, 2, augment="strong", seed=1)
    plain = build_model("compact", 32, 2)
    plain.set_weights(model.get_weights())
    pixels = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("float32")
    augment = [layer for layer in model.layers if layer.name.startswith("augment_")]

    assert len(augment) == 5  # flip, rotation, zoom, translation, contrast
    np.testing.assert_allclose(model(pixels, training=False), plain(pixels, training=False),
                               rtol=1e-6)
    changed = augment[1](pixels, training=True)  # the rotation
    assert not np.allclose(changed, pixels)
    np.testing.assert_array_equal(augment[1](pixels, training=False), pixels)


def test_the_pretrained_model_is_one_model_from_pixels_to_scores():
    backbone = build_tiny_backbone()
    head = build_head(8, 3)
    model = build_pretrained(backbone, head, 48)  # resized to the backbone's 32 px inside
    pixels = np.random.default_rng(0).integers(0, 256, (2, 48, 48, 3)).astype("float32")

    scores = np.asarray(model(pixels, training=False))

    assert model.inputs[0].shape[1:] == (48, 48, 3)
    assert scores.shape == (2, 3) and np.allclose(scores.sum(axis=1), 1, atol=1e-5)
    resized = keras.layers.Resizing(32, 32)(pixels)
    np.testing.assert_allclose(scores, head(backbone(resized)), rtol=1e-5)
