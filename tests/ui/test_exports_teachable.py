"""Open model... takes Teachable Machine's Keras export too (keras_model.h5 + labels.txt, or
the downloaded converted_keras.zip), through the same background load as our .keras files."""

from __future__ import annotations

import zipfile

import pytest
from PySide6.QtWidgets import QWidget

from horsehuman_gui.ui.common.model_files import ModelFiles

SIZE = 224  # Teachable Machine's image models take 224x224


@pytest.fixture(scope="module")
def teachable_folder(tmp_path_factory):
    """converted_keras/{keras_model.h5, labels.txt}, shaped like Teachable Machine's export."""
    import keras

    keras.utils.set_random_seed(4)
    features = keras.Sequential([keras.Input((SIZE, SIZE, 3)),
                                 keras.layers.Conv2D(4, 3, strides=8, activation="relu"),
                                 keras.layers.GlobalAveragePooling2D()], name="sequential_1")
    head = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")],
                            name="sequential_3")
    folder = tmp_path_factory.mktemp("tm") / "converted_keras"
    folder.mkdir()
    keras.Sequential([keras.Input((SIZE, SIZE, 3)), features, head]).save(
        folder / "keras_model.h5")
    (folder / "labels.txt").write_text("0 Horses\n1 Humans\n", encoding="utf-8")
    return folder


@pytest.fixture
def model_files(qtbot, settings, tf_loader):
    window = QWidget()
    qtbot.addWidget(window)
    files = ModelFiles(settings, tf_loader, window)
    yield files
    files.shutdown()


def _open(qtbot, model_files, path):
    with qtbot.waitSignal(model_files.opened, timeout=60_000) as signal:
        model_files.open(path)
    return signal.args[0]


def test_a_teachable_machine_h5_opens_with_its_labels(qtbot, model_files, teachable_folder,
                                                      settings):
    bundle = _open(qtbot, model_files, teachable_folder / "keras_model.h5")
    assert bundle.class_names == ("Horses", "Humans") and bundle.image_size == SIZE
    assert model_files.bundle is bundle
    assert settings.get("recent/models")[0] == str(teachable_folder / "keras_model.h5")


def test_the_downloaded_zip_opens_too(qtbot, model_files, teachable_folder, tmp_path):
    archive = tmp_path / "converted_keras.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for name in ("keras_model.h5", "labels.txt"):
            handle.write(teachable_folder / name, name)
    bundle = _open(qtbot, model_files, archive)
    assert bundle.class_names == ("Horses", "Humans") and bundle.path == archive
