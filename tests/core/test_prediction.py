"""Batched prediction over files: order kept, bad files give errors, thresholds, stopping."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from conftest import COLOURS, write_image
from horsehuman_gui.core import prediction
from horsehuman_gui.core.bundle import ModelBundle
from horsehuman_gui.core.models import keras
from horsehuman_gui.core.prediction import (FORWARDS_IN_FLIGHT, Prediction, label_for,
                                            predict_files)


def colour_model(classes: int):
    """A model that knows colours without training: mean R, G, B -> sigmoid or softmax."""
    inputs = keras.Input((32, 32, 3))
    mean = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    if classes == 2:  # class 1 = red: red minus blue
        head = keras.layers.Dense(1, activation="sigmoid")
        outputs = head(mean)
        head.set_weights([np.array([[20.0], [0.0], [-20.0]]), np.zeros(1)])
    else:  # classes blue, green, red
        head = keras.layers.Dense(3, activation="softmax")
        outputs = head(mean)
        head.set_weights([20 * np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], float),
                          np.zeros(3)])
    return keras.Model(inputs, outputs)


def bundle(classes=("blue", "red")) -> ModelBundle:
    return ModelBundle(model=colour_model(len(classes)), class_names=classes, image_size=32,
                       app_version="test")


@pytest.fixture
def mixed(tmp_path):
    """Good images with unreadable files between them, in a known order."""
    paths = [write_image(tmp_path / "a_red.png", COLOURS["red"]),
             tmp_path / "b_empty.jpg",
             write_image(tmp_path / "c_blue.jpg", COLOURS["blue"], size=48),
             tmp_path / "d_text.png",
             write_image(tmp_path / "e_blue.webp", COLOURS["blue"]),
             tmp_path / "f_missing.png",
             write_image(tmp_path / "g_red.bmp", COLOURS["red"], size=20)]
    paths[1].write_bytes(b"")
    paths[3].write_text("not a picture")
    return paths


def test_bad_files_give_error_rows_and_the_rest_is_labelled_in_order(mixed):
    results = list(predict_files(bundle(), mixed, batch_size=3))

    assert [r.path for r in results] == mixed
    assert [r.label for r in results] == ["red", None, "blue", None, "blue", None, "red"]
    errors = [r for r in results if not r.ok]
    assert len(errors) == 3 and all(r.error and r.scores == () for r in errors)
    assert all(r.confidence is None for r in errors)
    for good in (r for r in results if r.ok):
        assert good.confidence > 0.9 and len(good.scores) == 2
        assert sum(good.scores) == pytest.approx(1.0)
        assert good.confidence == max(good.scores)


def test_a_batch_with_no_readable_picture_keeps_its_place(mixed):
    paths = [mixed[1], mixed[3], mixed[0], mixed[5], mixed[3], mixed[2]]  # batches of 2

    results = list(predict_files(bundle(), paths, batch_size=2))

    assert [r.path for r in results] == paths
    assert [r.label for r in results] == [None, None, "red", None, None, "blue"]


def test_three_classes_take_the_highest_softmax_score(tmp_path):
    paths = [write_image(tmp_path / f"{name}.png", COLOURS[name])
             for name in ("green", "red", "blue")]

    results = list(predict_files(bundle(("blue", "green", "red")), paths, batch_size=2))

    assert [r.label for r in results] == ["green", "red", "blue"]
    assert all(len(r.scores) == 3 and r.confidence == max(r.scores) for r in results)


def test_threshold_moves_the_binary_decision():
    names = ("horses", "humans")

    assert label_for((0.4, 0.6), names) == ("humans", 0.6)
    assert label_for((0.4, 0.6), names, threshold=0.7) == ("horses", 0.4)
    assert label_for((0.3, 0.7), names, threshold=0.7) == ("humans", 0.7)  # >= threshold
    assert label_for((0.2, 0.5, 0.3), ("a", "b", "c"), threshold=0.9) == ("b", 0.5)
    with pytest.raises(ValueError):
        label_for((1.0,), ("only",))


def test_predict_files_applies_the_threshold(tmp_path):
    # a purple-ish image: red and blue equal -> p(red) = 0.5 exactly
    path = write_image(tmp_path / "purple.png", (128, 0, 128))
    plain = bundle()

    (at_half,) = predict_files(plain, [path], threshold=0.0)
    (strict,) = predict_files(plain, [path], threshold=1.0)

    assert at_half.label == "red" and strict.label == "blue"
    assert at_half.scores == strict.scores


def test_should_stop_starts_no_other_batch_and_keeps_the_ones_in_the_model(mixed):
    seen = []

    def should_stop():
        return len(seen) >= 2

    for result in predict_files(bundle(), mixed, batch_size=2, should_stop=should_stop):
        seen.append(result)

    # Asked before each batch starts: true once the first batch (2 files) came back, when the
    # next FORWARDS_IN_FLIGHT - 1 batches were in the model already; those are not thrown away.
    assert [r.path for r in seen] == mixed[:2 * FORWARDS_IN_FLIGHT]
    assert len(seen) < len(mixed)


def test_results_stream_batch_by_batch(mixed):
    results = predict_files(bundle(), mixed, batch_size=2)

    first = next(results)  # available before the other batches are consumed
    results.close()  # abandoning the run is fine

    assert isinstance(first, Prediction) and first.path == mixed[0]


def test_no_paths_no_predictions():
    assert list(predict_files(bundle(), [])) == []


def test_the_compiled_forward_function_does_not_keep_the_model_alive(mixed):
    model_bundle = bundle()
    list(predict_files(model_bundle, mixed[:1]))
    alive = weakref.ref(model_bundle.model)

    del model_bundle
    gc.collect()

    assert alive() is None
    assert len(prediction._forward_functions) == 0


def test_collect_images_is_available_here(mixed):
    found, skipped = prediction.collect_images([mixed[0].parent])

    assert mixed[0] in found and mixed[2] in found
