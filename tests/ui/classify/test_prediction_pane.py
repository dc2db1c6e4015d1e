"""The Classify pane end to end: listing, thumbnails, classification, threshold, export, copy."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QMessageBox

import horsehuman_gui.core.prediction as core_prediction
from horsehuman_gui.ui.common.image_list_model import Roles
from horsehuman_gui.ui.classify.prediction_pane import PredictionPane
from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader

BLUE, RED = (20, 40, 220), (220, 30, 30)


def _write(path: Path, colour, size: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.integers(-20, 21, (size, size, 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


@pytest.fixture
def photos(tmp_path) -> Path:
    """3 blue and 3 red pictures, and a file named .jpg that is not a picture."""
    folder = tmp_path / "photos"
    for i in range(3):
        _write(folder / f"blue_{i}.png", BLUE, seed=i)
        _write(folder / f"red_{i}.png", RED, seed=10 + i)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    return folder


@pytest.fixture(scope="session")
def colour_bundle():
    """A model whose output is known without training: the sigmoid of 2 x (mean red - mean
    blue) in 0-1 units, so red pictures score ~0.82 for "red" and blue ones ~0.18."""
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
    pane = PredictionPane(settings, tf_loader)
    qtbot.addWidget(pane)
    pane.resize(1100, 700)
    yield pane
    pane.shutdown()


def _listed(qtbot, pane, action):
    with qtbot.waitSignal(pane.status_message, timeout=10_000,
                          check_params_cb=lambda message: "listed" in message):
        action()


def _classified(qtbot, pane, timeout=60_000):
    with qtbot.waitSignal(pane.status_message, timeout=timeout,
                          check_params_cb=lambda message: message.startswith("Classification")):
        pane.classify()


def _by_name(pane) -> dict:
    return {item.path.name: item for item in pane.model.items()}


def _shown_rows(pane) -> list:
    return [pane.proxy.index(r, 0) for r in range(pane.proxy.rowCount())]


def test_pictures_show_without_a_model_and_classify_explains(qtbot, settings, photos):
    loader = TensorFlowLoader()  # never started: no model, no TensorFlow needed
    pane = PredictionPane(settings, loader)
    qtbot.addWidget(pane)
    pane.show()
    _listed(qtbot, pane, lambda: pane.show_folder(photos))
    assert pane.model.total() == 7
    row = pane.model.row_of(photos / "red_0.png")
    qtbot.waitUntil(lambda: pane.model.index(row).data(Qt.ItemDataRole.DecorationRole) is not None,
                    timeout=10_000)
    assert not pane.model.index(row).data(Qt.ItemDataRole.DecorationRole).isNull()
    assert "No model" in pane.model_label.text()
    pane.classify_button.click()
    box = pane.findChild(QMessageBox, "needModelBox")
    assert box is not None and "train one" in box.text()
    assert not loader.is_ready and not pane.export_csv_action.isEnabled()
    pane.shutdown()


def test_files_that_are_not_pictures_by_name_are_left_out_and_counted(qtbot, settings, photos):
    (photos / ".git").mkdir()
    (photos / "README.md").write_text("# my photos\n")
    (photos / "notes.txt").write_text("to do\n")
    (photos / "empty.png").write_bytes(b"")  # named like a picture: a red tile with its reason
    loader = TensorFlowLoader()  # never started
    pane = PredictionPane(settings, loader)
    qtbot.addWidget(pane)
    pane.show()
    messages = []
    pane.status_message.connect(messages.append)
    _listed(qtbot, pane, lambda: pane.show_folder(photos))
    names = set(_by_name(pane))
    assert not names & {".git", "README.md", "notes.txt"}
    assert pane.model.error_of(_by_name(pane)["empty.png"]).startswith("empty file")
    assert "3 other file(s) left out" in messages[-1]
    assert "3 other file(s) left out" in pane.count_label.text()
    # Deleting the pane while its thumbnail workers still report crashes PySide6 (as the first
    # test here, wait for a thumbnail before closing).
    row = pane.model.row_of(photos / "red_0.png")
    qtbot.waitUntil(lambda: pane.model.index(row).data(Qt.ItemDataRole.DecorationRole) is not None,
                    timeout=10_000)
    pane.shutdown()


def test_a_folder_with_a_corrupt_file_gets_labels_and_one_error(qtbot, pane, photos, colour_bundle):
    _listed(qtbot, pane, lambda: pane.show_folder(photos))
    pane.set_bundle(colour_bundle)
    _classified(qtbot, pane)
    items = _by_name(pane)
    for name, item in items.items():
        if name == "broken.jpg":
            assert item.error and not item.classified
        else:
            assert item.prediction.label == name.split("_")[0], name
            assert len(item.prediction.scores) == 2
    assert pane.export_csv_action.isEnabled() and pane.copy_action.isEnabled()
    assert pane.progress.isHidden() and pane.classify_button.isEnabled()


def test_threshold_relabels_without_running_the_model(qtbot, pane, photos, colour_bundle,
                                                      monkeypatch, settings):
    _listed(qtbot, pane, lambda: pane.show_folder(photos))
    pane.set_bundle(colour_bundle)
    _classified(qtbot, pane)
    scores_before = {n: i.prediction.scores for n, i in _by_name(pane).items() if i.classified}
    monkeypatch.setattr(core_prediction, "predict_files", lambda *a, **k: pytest.fail("re-run"))
    pane.controls.set_threshold(0.9)  # above every red score (~0.82)
    items = _by_name(pane)
    assert all(items[f"red_{i}.png"].prediction.label == "blue" for i in range(3))
    assert {n: i.prediction.scores for n, i in items.items() if i.classified} == scores_before
    assert pane.controls.threshold_slider.value() == 90
    assert settings.get("prediction/threshold") == pytest.approx(0.9)
    pane.controls.threshold_slider.setValue(50)
    assert _by_name(pane)["red_0.png"].prediction.label == "red"


def test_csv_export_matches_what_is_shown(qtbot, pane, photos, colour_bundle, monkeypatch,
                                          tmp_path):
    _listed(qtbot, pane, lambda: pane.show_folder(photos))
    pane.set_bundle(colour_bundle)
    _classified(qtbot, pane)
    pane.controls.set_threshold(0.15)  # every picture is "red" now, blue ones at ~0.17
    pane.controls.min_confidence.setValue(50)  # ... so only the truly red ones are shown
    target = tmp_path / "out" / "results.csv"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    pane.export_csv_action.trigger()
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    shown = [index.data(Roles.ITEM).prediction for index in _shown_rows(pane)]
    assert [r["path"] for r in rows] == [str(p.path) for p in shown]
    assert [r["label"] for r in rows] == [p.label for p in shown]
    close = dict(abs=1e-6)  # the CSV has 6 decimals
    assert [float(r["confidence"]) for r in rows] == pytest.approx([p.confidence for p in shown],
                                                                   **close)
    assert [float(r["score_red"]) for r in rows] == pytest.approx([p.scores[1] for p in shown],
                                                                  **close)
    assert sorted(Path(r["path"]).name for r in rows) == [f"red_{i}.png" for i in range(3)]
    assert {r["label"] for r in rows} == {"red"}


def test_copy_into_class_folders_copies_and_never_overwrites(qtbot, pane, photos, colour_bundle,
                                                             tmp_path):
    _listed(qtbot, pane, lambda: pane.show_folder(photos))
    pane.set_bundle(colour_bundle)
    _classified(qtbot, pane)
    sources = sorted(p for p in photos.iterdir())
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sources}
    target = tmp_path / "sorted"
    for _ in range(2):
        with qtbot.waitSignal(pane.copy_into(target).finished, timeout=10_000):
            pass
    assert sorted(p.name for p in (target / "red").iterdir()) == sorted(
        [f"red_{i}.png" for i in range(3)] + [f"red_{i} (1).png" for i in range(3)])
    assert len(list((target / "blue").iterdir())) == 6
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sources} == before
    assert sorted(photos.iterdir()) == sources
    box = pane.findChild(QMessageBox, "copySummaryBox")
    assert box is not None and "Copied 6" in box.text() and "red/ (3)" in box.text()


def _slow_predictions(started):
    """Stand-in for core.prediction.predict_files that yields slowly until told to stop."""
    def predict_files(bundle, paths, batch_size=32, threshold=0.5, should_stop=None):
        started.append(len(paths))
        for i, path in enumerate(paths):
            if i % batch_size == 0 and should_stop():
                return
            QApplication.instance()  # keep the GIL moving
            import time
            time.sleep(0.01)
            yield core_prediction.Prediction(path, "red", 0.9, (0.1, 0.9))
    return predict_files


@pytest.fixture
def many(tmp_path) -> Path:
    folder = tmp_path / "many"
    for i in range(120):
        _write(folder / f"p{i:03d}.png", RED, size=8, seed=i)
    return folder


def test_cancel_stops_a_classification(qtbot, pane, many, colour_bundle, monkeypatch):
    started = []
    monkeypatch.setattr(core_prediction, "predict_files", _slow_predictions(started))
    pane.classify_button.setEnabled(True)
    _listed(qtbot, pane, lambda: pane.show_folder(many))
    pane.set_bundle(colour_bundle)
    with qtbot.waitSignal(pane.model.dataChanged, timeout=10_000):
        pane.classify()
    assert pane.cancel_button.isEnabled() and pane.progress.isVisible() is pane.isVisible()
    with qtbot.waitSignal(pane.status_message, timeout=10_000,
                          check_params_cb=lambda m: m.startswith("Classification cancelled")):
        pane.cancel_button.click()
    done = sum(1 for item in pane.model.items() if item.classified)
    assert started == [120] and 0 < done < 120
    assert not pane.cancel_button.isEnabled()


def test_shutdown_mid_classification_leaves_no_thread(qtbot, pane, many, colour_bundle,
                                                      monkeypatch):
    monkeypatch.setattr(core_prediction, "predict_files", _slow_predictions([]))
    _listed(qtbot, pane, lambda: pane.show_folder(many))
    pane.set_bundle(colour_bundle)
    with qtbot.waitSignal(pane.model.dataChanged, timeout=10_000):
        pane.classify()
    classifying = pane.tasks.current("classify")
    assert classifying.is_running()
    pane.shutdown()
    assert not classifying._thread.isRunning()
    assert not pane.thumbnails._tasks


def test_selecting_a_picture_shows_it_large_with_all_scores(qtbot, pane, photos, colour_bundle):
    pane.show()
    _listed(qtbot, pane, lambda: pane.show_folder(photos))
    pane.set_bundle(colour_bundle)
    _classified(qtbot, pane)
    index = next(i for i in _shown_rows(pane) if i.data() == "red_1.png")
    pane.view.setCurrentIndex(index)
    item = index.data(Roles.ITEM)
    assert pane.preview.score_bars() == pytest.approx(
        dict(zip(("blue", "red"), item.prediction.scores)), abs=1e-3)
    red_percent = pane.preview.findChild(QLabel, "percent_red")
    assert red_percent.text() == f"{item.prediction.scores[1]:.1%}"  # beside its bar
    qtbot.waitUntil(lambda: pane.preview.shown_path() == str(photos / "red_1.png"), timeout=10_000)
    assert str(photos / "red_1.png") in pane.preview.findChild(object, "previewPath").text()


def test_dropped_files_and_folders_are_added(qtbot, pane, photos, tmp_path):
    extra = _write(tmp_path / "more" / "deep" / "extra.png", RED)
    single = _write(tmp_path / "single.png", BLUE)
    _listed(qtbot, pane, lambda: pane.show_folder(photos))
    pane.recursive.setChecked(False)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(single)), QUrl.fromLocalFile(str(tmp_path / "more"))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    _listed(qtbot, pane, lambda: pane.dropEvent(event))
    names = set(_by_name(pane))
    assert "single.png" in names and "extra.png" not in names  # not recursive
    _listed(qtbot, pane, lambda: pane.add_paths([tmp_path / "more"], recursive=True))
    assert pane.model.row_of(extra) is not None and pane.model.total() == 9


def test_the_newest_folder_wins(qtbot, pane, photos, many):
    pane.show_folder(many)
    _listed(qtbot, pane, lambda: pane.show_folder(photos))
    qtbot.wait(200)  # the first listing's result, if it arrives now, must be ignored
    assert pane.model.total() == 7 and pane.model.row_of(many / "p000.png") is None


def test_a_new_model_clears_old_results(qtbot, pane, photos, colour_bundle):
    _listed(qtbot, pane, lambda: pane.show_folder(photos))
    pane.set_bundle(colour_bundle)
    _classified(qtbot, pane)
    pane.set_bundle(None)
    assert not pane.model.has_results() and not pane.export_csv_action.isEnabled()
    assert pane.export_csv_action.shortcut().toString() == "Ctrl+E"
