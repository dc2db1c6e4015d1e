"""The model builders: the course's classic CNN exactly, and the small fast one."""

from __future__ import annotations

import numpy as np
import pytest

from horsehuman_gui.core.models import build_model, keras, output_classes


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


def test_compact_is_small_and_predicts_probabilities():
    model = build_model("compact", 32, 2)
    pixels = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)

    scores = np.asarray(model(pixels, training=False))

    assert model.count_params() < 100_000
    assert scores.shape == (4, 1)
    assert np.all((scores >= 0) & (scores <= 1))
    assert output_classes(model) == 2


@pytest.mark.parametrize("name, classes", [("resnet", 2), ("classic", 1)])
def test_bad_arguments_say_what_was_received(name, classes):
    with pytest.raises(ValueError, match="Received"):
        build_model(name, 32, classes)
