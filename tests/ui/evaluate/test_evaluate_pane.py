"""The Evaluate tab end to end: a folder of class folders evaluated in a worker, a cell's
pictures, the validation part after training, the figures a model file carries."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from horsehuman_gui.ui.evaluate.evaluate_pane import EvaluatePane

BLUE, RED = (20, 40, 220), (220, 30, 30)


def _write(path: Path, colour, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.integers(-20, 21, (32, 32, 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


@pytest.fixture
def labelled(tmp_path) -> Path:
    """blue/: 3 blue pictures; red/: 2 red ones and one blue (the model's one mistake)."""
    root = tmp_path / "labelled"
    for i in range(3):
        _write(root / "blue" / f"b{i}.png", BLUE, seed=i)
    for i in range(2):
        _write(root / "red" / f"r{i}.png", RED, seed=10 + i)
    _write(root / "red" / "looks_blue.png", BLUE, seed=20)
    return root


@pytest.fixture(scope="module")
def colour_bundle():
    """Scores known without training: sigmoid(2 x (mean red - mean blue)) in 0-1 units."""
    from horsehuman_gui import __version__
    from horsehuman_gui.core.bundle import ModelBundle
    from horsehuman_gui.core.tfsetup import load_tensorflow

    keras = load_tensorflow()
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([np.array([[2.0], [0.0], [-2.0]]), np.zeros(1)])
    return ModelBundle(model=model, class_names=("blue", "red"), image_size=32,
                       app_version=__version__)


@pytest.fixture
def pane(qtbot, settings, tf_loader):
    pane = EvaluatePane(settings, tf_loader)
    qtbot.addWidget(pane)
    yield pane
    pane.shutdown()


def _run(qtbot, pane) -> None:
    pane.evaluate()
    qtbot.waitUntil(lambda: pane.tasks.current("evaluate") is not None, timeout=60_000)
    task = pane.tasks.current("evaluate")
    with qtbot.waitSignal(task.finished, timeout=60_000):
        pass


def test_a_cell_lists_exactly_its_pictures(qtbot, pane, colour_bundle, labelled):
    pane.set_bundle(colour_bundle)
    pane.set_folder(labelled)
    _run(qtbot, pane)
    assert pane.view.evaluation.confusion == ((3, 0), (1, 2))
    assert pane.view.accuracy_label.text().startswith("Accuracy 83.3% (5 of 6 correct)")
    pane.view.cell_chosen.emit(1, 0)  # red taken for blue
    assert pane.grid.paths() == [labelled / "red" / "looks_blue.png"]
    assert "\u201cred\u201d taken for \u201cblue\u201d: 1 picture" in pane.grid.title.text()
    pane.view.cell_chosen.emit(0, 0)
    shown = pane.grid.paths()
    assert sorted(shown) == sorted((labelled / "blue").glob("*.png"))
    confidences = [item.prediction.confidence for item in pane.grid.model.items()]
    assert confidences == sorted(confidences, reverse=True)  # most confident first
    item = pane.grid.model.items()[0]
    assert item.prediction.label == "blue" and len(item.prediction.scores) == 2


def test_threshold_relists_the_cell_and_least_confident_correct(qtbot, pane, colour_bundle,
                                                                labelled):
    pane.set_bundle(colour_bundle)
    pane.set_folder(labelled)
    _run(qtbot, pane)
    pane.view.cell_chosen.emit(1, 1)
    assert len(pane.grid.paths()) == 2
    pane.view.set_threshold(0.99)  # nothing is "red" any more: the cell empties at once
    assert pane.grid.paths() == []
    assert pane.view.evaluation.confusion == ((3, 0), (3, 0))
    pane.view.set_threshold(0.5)
    qtbot.mouseClick(pane.grid.least_button, Qt.MouseButton.LeftButton)
    items = pane.grid.model.items()
    assert len(items) == 5 and labelled / "red" / "looks_blue.png" not in pane.grid.paths()
    confidences = [item.prediction.confidence for item in items]
    assert confidences == sorted(confidences)


def test_double_click_opens_the_picture_large_with_its_scores(qtbot, pane, colour_bundle,
                                                              labelled):
    pane.set_bundle(colour_bundle)
    pane.set_folder(labelled)
    _run(qtbot, pane)
    pane.view.cell_chosen.emit(1, 0)
    pane.grid.view.doubleClicked.emit(pane.grid.model.index(0))
    dialog = pane.grid._dialog
    assert dialog.isVisible()
    bars = dialog.preview.score_bars()
    assert set(bars) == {"blue", "red"} and bars["blue"] > bars["red"]


def test_model_trained_on_the_open_dataset_defaults_to_its_validation_part(
        qtbot, pane, colour_bundle, labelled):
    from horsehuman_gui.core.bundle_metadata import dataset_summary
    from horsehuman_gui.core.dataset import scan_dataset
    from horsehuman_gui.core.evaluation import Scores

    report = scan_dataset(labelled, validation_split=0.5)
    stored = Scores([0, 1], [0.3, 0.8], ("blue", "red")).evaluate(0.5).to_json()
    pane.set_report(report)
    pane.set_bundle(dataclasses.replace(colour_bundle, evaluation=stored,
                                        dataset=dataset_summary(report)))
    assert pane.source_label.text() == (f"Pictures: the validation part of labelled "
                                        f"({len(report.validation)} images)")
    assert pane.view.accuracy_label.text().startswith("Accuracy 100.0% (2 of 2 correct)")
    _run(qtbot, pane)  # evaluating again brings the pictures
    assert pane.view.evaluation.n_images == len(report.validation)
    assert sorted(pane.grid.paths()) == [] and pane.view.scores is not None
    pane.view.cell_chosen.emit(0, 0)
    assert set(pane.grid.paths()) <= {i.path for i in report.validation if i.label == 0}
    assert pane.grid.paths()


def test_stored_evaluation_shows_at_once(qtbot, pane, colour_bundle):
    from horsehuman_gui.core.evaluation import Scores

    evaluation = Scores([0, 0, 1, 1], [0.2, 0.6, 0.9, 0.7], ("blue", "red")).evaluate(0.5)
    pane.set_bundle(dataclasses.replace(colour_bundle, evaluation=evaluation.to_json()))
    assert pane.view.accuracy_label.text().startswith("Accuracy 75.0% (3 of 4 correct)")
    assert "Evaluate again to see the pictures behind each cell" in pane.grid.title.text()
    pane.view.cell_chosen.emit(0, 1)
    assert pane.grid.paths() == []


def test_a_folder_without_class_folders_says_so(qtbot, pane, colour_bundle, tmp_path):
    (tmp_path / "cats").mkdir()
    _write(tmp_path / "cats" / "c.png", RED)
    pane.set_bundle(colour_bundle)
    pane.set_folder(tmp_path)
    pane.evaluate()
    qtbot.waitUntil(lambda: pane.findChild(QMessageBox, "errorBox") is not None, timeout=60_000)
    box = pane.findChild(QMessageBox, "errorBox")
    assert "named like the model's classes" in box.text() + box.informativeText()
    box.close()


def test_the_pictures_are_named_after_the_dataset_not_its_train_folder(split_folders):
    from horsehuman_gui.core.dataset import scan_dataset
    from horsehuman_gui.ui.evaluate.evaluation_jobs import validation_source

    report = scan_dataset(split_folders / "train", seed=1)
    source = validation_source(report, report.classes)
    assert source.description == f"the validation part of {split_folders.name}"
