"""Teachable Machine Keras exports: recognised, loaded on Keras 3, classified with their labels."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from horsehuman_gui.core.errors import ModelFileError
from horsehuman_gui.core.models import keras
from horsehuman_gui.core.prediction import predict_files
from horsehuman_gui.core.teachable import (is_teachable_machine, load_teachable_machine,
                                           read_labels)
from tests.conftest import write_image

SIZE = 224  # Teachable Machine's image models always take 224x224


def set_depthwise_groups(h5_path, groups=1):
    """Write ``"groups": groups`` into every DepthwiseConv2D config, as tf.keras 2 did."""
    with h5py.File(h5_path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])

        def visit(node):
            if isinstance(node, dict):
                if node.get("class_name") == "DepthwiseConv2D":
                    node["config"]["groups"] = groups
                for value in node.values():
                    visit(value)
            elif isinstance(node, list):
                for value in node:
                    visit(value)

        visit(config)
        handle.attrs["model_config"] = json.dumps(config)


@pytest.fixture(scope="module")
def original():
    """A tiny model shaped like Teachable Machine's: a MobileNet-like Sequential feature
    block (with a DepthwiseConv2D) and a Sequential softmax head, inside a Sequential."""
    keras.utils.set_random_seed(4)
    features = keras.Sequential([keras.Input((SIZE, SIZE, 3)),
                                 keras.layers.Conv2D(4, 3, strides=4, activation="relu"),
                                 keras.layers.DepthwiseConv2D(3, strides=2, activation="relu"),
                                 keras.layers.GlobalAveragePooling2D()], name="sequential_1")
    head = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(2, activation="softmax")], name="sequential_3")
    return keras.Sequential([keras.Input((SIZE, SIZE, 3)), features, head])


@pytest.fixture
def export(original, tmp_path):
    """tmp_path/converted_keras/{keras_model.h5, labels.txt}, as Teachable Machine unzips."""
    folder = tmp_path / "converted_keras"
    folder.mkdir()
    original.save(folder / "keras_model.h5")
    set_depthwise_groups(folder / "keras_model.h5")
    (folder / "labels.txt").write_text("0 Horses\n1 Humans\n", encoding="utf-8")
    return folder


def test_the_export_needs_this_module(export):
    with pytest.raises(Exception, match="groups"):
        keras.models.load_model(export / "keras_model.h5", compile=False)


def test_loads_with_labels_and_its_own_scaling(export, original):
    bundle = load_teachable_machine(export / "keras_model.h5")
    assert bundle.class_names == ("Horses", "Humans")
    assert bundle.image_size == SIZE and bundle.path == export / "keras_model.h5"
    pixels = np.random.default_rng(0).integers(0, 256, (3, SIZE, SIZE, 3)).astype(np.float32)
    expected = original(pixels / 127.5 - 1.0).numpy()
    np.testing.assert_allclose(bundle.model(pixels).numpy(), expected, atol=1e-5)
    assert not any(isinstance(layer, keras.layers.Lambda)
                   for layer in bundle.model._flatten_layers())


def test_classifies_files_like_teachable_machine(export, original, tmp_path):
    bundle = load_teachable_machine(export)  # the folder works too
    paths = [write_image(tmp_path / f"{i}.png", colour, size=64, seed=i)
             for i, colour in enumerate([(20, 40, 220), (220, 30, 30)])]
    results = list(predict_files(bundle, paths))
    from horsehuman_gui.core.images import load_array

    for result, path in zip(results, paths):
        pixels = load_array(path, SIZE).astype(np.float32)[None]
        expected = original(pixels / 127.5 - 1.0).numpy()[0]
        assert result.ok and result.label in ("Horses", "Humans")
        np.testing.assert_allclose(result.scores, expected, atol=1e-5)
        assert result.label == ("Humans" if expected[1] >= 0.5 else "Horses")


def test_recognised_only_with_labels_beside_an_hdf5_model(export, tmp_path):
    assert is_teachable_machine(export / "keras_model.h5")
    assert is_teachable_machine(export)
    (export / "labels.txt").unlink()
    assert not is_teachable_machine(export / "keras_model.h5")
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "keras_model.h5").write_text("not hdf5")
    (fake / "labels.txt").write_text("0 a\n1 b\n")
    assert not is_teachable_machine(fake / "keras_model.h5")
    (fake / "model.keras").write_text("zip")
    assert not is_teachable_machine(fake / "model.keras")
    assert not is_teachable_machine(tmp_path / "missing.h5")


def test_labels_numbered_or_not(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("0 Class 1\n1 Class 2\n\n2 Rock paper\n", encoding="utf-8")
    assert read_labels(path) == ("Class 1", "Class 2", "Rock paper")
    path.write_text("cats\ndogs\n", encoding="utf-8")
    assert read_labels(path) == ("cats", "dogs")
    path.write_text("1 b\n0 a\n", encoding="utf-8")  # out of order: kept as written
    assert read_labels(path) == ("1 b", "0 a")


def test_label_count_must_match_outputs(export):
    (export / "labels.txt").write_text("0 Horses\n1 Humans\n2 Unicorns\n")
    with pytest.raises(ModelFileError, match="predicts 2 classes"):
        load_teachable_machine(export)


def test_missing_labels_is_explained(export):
    (export / "labels.txt").unlink()
    with pytest.raises(ModelFileError, match="labels.txt"):
        load_teachable_machine(export / "keras_model.h5")


def test_other_groups_are_refused(export):
    set_depthwise_groups(export / "keras_model.h5", groups=2)
    with pytest.raises(ModelFileError, match="could not be loaded"):
        load_teachable_machine(export)


def test_lambda_layers_stay_refused(tmp_path):
    folder = tmp_path / "tm"
    folder.mkdir()
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)),
                              keras.layers.Lambda(lambda x: x * 2),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    model.save(folder / "keras_model.h5")
    (folder / "labels.txt").write_text("0 a\n1 b\n")
    with pytest.raises(ModelFileError, match="Lambda"):
        load_teachable_machine(folder)


def test_teachable_machines_zip_opens_as_it_is(export, original, tmp_path):
    import zipfile

    download = tmp_path / "converted_keras.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.write(export / "keras_model.h5", "keras_model.h5")
        archive.write(export / "labels.txt", "labels.txt")
        archive.writestr("__MACOSX/._labels.txt", b"junk")
    assert is_teachable_machine(download)
    bundle = load_teachable_machine(download)
    assert bundle.class_names == ("Horses", "Humans") and bundle.path == download
    pixels = np.full((1, SIZE, SIZE, 3), 200, np.float32)
    np.testing.assert_allclose(bundle.model(pixels).numpy(),
                               original(pixels / 127.5 - 1.0).numpy(), atol=1e-5)


def test_other_zips_are_not_teachable_machine(tmp_path):
    import zipfile

    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("labels.txt", "0 a\n")
    assert not is_teachable_machine(path)
    with pytest.raises(ModelFileError, match="does not hold"):
        load_teachable_machine(path)
    with zipfile.ZipFile(path, "w") as archive:  # the right names, but escaping the folder
        archive.writestr("../keras_model.h5", b"x")
        archive.writestr("../labels.txt", "0 a\n")
    with pytest.raises(ModelFileError, match="cannot be opened"):
        load_teachable_machine(path)
