"""Reviewing results in the Classify pane: accuracy against the folder names, the mistakes, and
corrections copied (never moved, never replacing a file) into the dataset's class folders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from horsehuman_gui.ui.classify.folder_truth import truth_of
from horsehuman_gui.ui.classify.prediction_pane import PredictionPane

BLUE, RED = (20, 40, 220), (220, 30, 30)


def _write(path: Path, colour, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.integers(-20, 21, (32, 32, 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def labelled(tmp_path) -> Path:
    """blue/: 3 blue pictures; red/: 2 red ones and one blue (the model's one mistake)."""
    root = tmp_path / "new_photos"
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
def pane(qtbot, settings, tf_loader, colour_bundle):
    settings.set("prediction/recursive", True)
    pane = PredictionPane(settings, tf_loader)
    qtbot.addWidget(pane)
    pane.set_bundle(colour_bundle)
    yield pane
    pane.shutdown()


def _classified(qtbot, pane, folder: Path) -> None:
    pane.show_folder(folder)
    qtbot.waitUntil(lambda: pane.model.total() == 6, timeout=30_000)
    pane.classify()
    qtbot.waitUntil(lambda: sum(i.classified for i in pane.model.items()) == 6, timeout=60_000)
    qtbot.waitUntil(lambda: pane.tasks.current("classify") is None, timeout=10_000)


def _dataset(tmp_path, split: bool):
    from horsehuman_gui.core.dataset import scan_dataset

    root = tmp_path / ("course" if split else "colours")
    train = root / "train" if split else root
    for name, colour in (("blue", BLUE), ("red", RED)):
        for i in range(3):
            _write(train / name / f"{name}{i}.png", colour, seed=30 + i)
            if split:
                _write(root / "validation" / name / f"{name}{i}.png", colour, seed=40 + i)
    _write(train / "red" / "looks_blue.png", RED, seed=50)  # the name a copy must not take
    return scan_dataset(root)


def test_truth_comes_from_the_nearest_class_folder_below_the_listed_one(tmp_path):
    names = ("horses", "humans")
    assert truth_of(tmp_path / "a" / "Horses" / "x" / "p.jpg", tmp_path / "a", names) == "horses"
    assert truth_of(tmp_path / "humans" / "p.jpg", tmp_path / "humans", names) == "humans"
    assert truth_of(tmp_path / "humans" / "a" / "p.jpg", tmp_path / "humans" / "a", names) is None
    assert truth_of(tmp_path / "humans" / "p.jpg", None, names) == "humans"


def test_truths_looks_up_each_folder_once_and_agrees_with_truth_of(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from horsehuman_gui.ui.classify import folder_truth

    names = ("horses", "humans")
    folders = [tmp_path / "a" / "Horses", tmp_path / "a" / "humans" / "x", tmp_path / "a",
               tmp_path / "a" / "other"]
    items = [SimpleNamespace(path=folder / f"p{i}.jpg") for i in range(50) for folder in folders]
    expected = {str(item.path): truth_of(item.path, tmp_path / "a", names) for item in items}
    calls = []
    real = folder_truth.truth_of
    monkeypatch.setattr(folder_truth, "truth_of", lambda *a: calls.append(a) or real(*a))

    found = folder_truth.truths(items, tmp_path / "a", names)

    assert found == {path: truth for path, truth in expected.items() if truth is not None}
    assert len(found) == 100 and len(calls) == len(folders)


def test_accuracy_against_folder_names_and_the_mistakes(qtbot, pane, labelled):
    _classified(qtbot, pane, labelled)
    assert pane.review.score_text() == "Accuracy against the folder names: 83.3% (5 of 6)"
    assert pane.review.isVisibleTo(pane)
    pane.review.mistakes_button.click()
    shown = pane.proxy.shown_items()
    assert [item.path for item in shown] == [labelled / "red" / "looks_blue.png"]
    pane.review.mistakes_button.click()
    assert pane.proxy.rowCount() == 6


def test_results_in_a_burst_rescore_at_most_once_per_interval_and_never_fall_behind(
        qtbot, pane, labelled, monkeypatch):
    from horsehuman_gui.ui.classify import review

    _classified(qtbot, pane, labelled)
    qtbot.wait(review.RESCORE_MS + 50)  # the classification's own rescores are over
    scored = []
    real = review.folder_score
    monkeypatch.setattr(review, "folder_score", lambda *a: scored.append(1) or real(*a))
    items = pane.model.items()

    pane.model.set_threshold(0.99)  # every result relabelled: the score changes at once...
    assert len(scored) == 1
    first = pane.review.score_text()
    for threshold in (0.98, 0.97, 0.5):  # ...and a burst right after waits for the timer
        pane.model.set_threshold(threshold)
    assert len(scored) == 1 and pane.review.score_text() == first
    qtbot.waitUntil(lambda: len(scored) == 2, timeout=5_000)
    assert pane.review.score_text() == "Accuracy against the folder names: 83.3% (5 of 6)"
    qtbot.wait(review.RESCORE_MS + 50)
    assert len(scored) == 2 and len(items) == 6  # nothing more was due


def test_scrolling_a_long_list_does_not_look_at_every_folder_again(qtbot, pane, tmp_path,
                                                                     monkeypatch):
    from horsehuman_gui.ui.classify import review
    from horsehuman_gui.ui.common.image_list_model import FETCH_BATCH

    root = tmp_path / "many"
    picture = _write(root / "red" / "r.png", RED)
    for i in range(FETCH_BATCH + 10):  # more than one fetch: the grid shows 500 rows at first
        (root / "red" / f"r{i:04}.png").write_bytes(picture.read_bytes())
    pane.show_folder(root)
    qtbot.waitUntil(lambda: pane.model.total() == FETCH_BATCH + 11, timeout=30_000)
    looked_at = []
    real = review.truths
    monkeypatch.setattr(review, "truths", lambda items, *a: looked_at.append(len(items))
                        or real(items, *a))

    assert pane.model.rowCount() == FETCH_BATCH  # the rest shows as the grid scrolls...
    assert pane.proxy._truth[str(root / "red" / f"r{FETCH_BATCH + 9:04}.png")] == "red"  # ...counted
    pane.model.fetchMore()  # what scrolling to the end does
    assert pane.model.rowCount() == FETCH_BATCH + 11 and looked_at == []
    added = _write(tmp_path / "elsewhere" / "blue" / "b.png", BLUE)
    pane.add_paths([added], recursive=False)  # only the new picture is looked at
    qtbot.waitUntil(lambda: pane.model.total() == FETCH_BATCH + 12, timeout=30_000)
    assert looked_at == [1]
    assert pane.proxy._truth[str(added)] == "blue" and pane.proxy._truth[str(picture)] == "red"


def test_pictures_added_beyond_the_rows_shown_are_counted(qtbot, pane, tmp_path):
    from horsehuman_gui.ui.common.image_list_model import FETCH_BATCH

    picture = _write(tmp_path / "first" / "red" / "r.png", RED)
    pane.add_paths([picture.parent.parent], recursive=True)
    qtbot.waitUntil(lambda: pane.model.total() == 1, timeout=30_000)
    pane.model.add_images([tmp_path / f"x{i}.png" for i in range(FETCH_BATCH + 10)])
    late = tmp_path / "second" / "blue" / "late.png"
    pane.model.add_images([late])  # beyond the rows shown: no rows are inserted for it

    assert pane.model.rowCount() == FETCH_BATCH + 1 and pane.model.total() == FETCH_BATCH + 12
    assert pane.proxy._truth[str(late)] == "blue"


def test_results_in_rows_not_shown_yet_are_scored(qtbot, pane, tmp_path):
    from horsehuman_gui.core.prediction import Prediction
    from horsehuman_gui.ui.common.image_list_model import FETCH_BATCH

    root = tmp_path / "many"
    picture = _write(root / "red" / "r.png", RED)
    for i in range(FETCH_BATCH + 10):
        (root / "red" / f"r{i:04}.png").write_bytes(picture.read_bytes())
    pane.show_folder(root)
    qtbot.waitUntil(lambda: pane.model.total() == FETCH_BATCH + 11, timeout=30_000)
    items = pane.model.items()
    pane.model.apply_predictions([Prediction(i.path, "red", 0.9, (0.1, 0.9)) for i in items[:5]])
    pane.model.apply_predictions(  # the last rows: not shown until the grid scrolls to them
        [Prediction(i.path, "blue", 0.9, (0.9, 0.1)) for i in items[-5:]])

    assert pane.model.rowCount() == FETCH_BATCH
    qtbot.waitUntil(  # the second batch came within RESCORE_MS of the first: scored after it
        lambda: pane.review.score_text() == "Accuracy against the folder names: 50.0% (5 of 10)",
        timeout=5_000)


def test_no_class_folders_no_accuracy(qtbot, pane, tmp_path):
    folder = tmp_path / "loose"
    for i in range(2):
        _write(folder / f"p{i}.png", RED, seed=i)
    pane.show_folder(folder)
    qtbot.waitUntil(lambda: pane.model.total() == 2, timeout=30_000)
    assert pane.review.score_text() == "" and not pane.review.isVisibleTo(pane)


@pytest.mark.parametrize("split", [False, True])
def test_correction_copies_into_the_class_folder_and_keeps_the_source(qtbot, pane, labelled,
                                                                      tmp_path, split):
    _classified(qtbot, pane, labelled)
    report = _dataset(tmp_path, split)
    pane.set_report(report)
    source = labelled / "red" / "looks_blue.png"
    before, taken = _digest(source), report.root / ("train" if split else "") / "red"
    taken_digest = _digest(taken / "looks_blue.png")
    item = pane.model.item(pane.model.row_of(source))
    assert item.prediction.label == "blue"  # the mistake
    menu = pane.review.correction_menu([item])
    correct = next(a for a in menu.actions() if a.text() == "Correct label").menu()
    assert [a.text() for a in correct.actions()] == ["blue", "red"]
    with qtbot.waitSignal(pane.status_message, timeout=10_000,
                          check_params_cb=lambda text: text.startswith("Copied")) as signal:
        next(a for a in correct.actions() if a.text() == "red").trigger()
    qtbot.waitUntil(lambda: pane.tasks.current("correct") is None, timeout=10_000)
    copy = taken / "looks_blue (1).png"
    assert copy.is_file() and _digest(copy) == before  # a new name: the old one was taken
    assert _digest(taken / "looks_blue.png") == taken_digest  # never overwritten
    assert source.is_file() and _digest(source) == before  # copied, not moved
    assert f"into {taken} as looks_blue (1).png" in signal.args[0]
    assert pane.review.retrain_button.isVisibleTo(pane)
    with qtbot.waitSignal(pane.retrain_requested):
        pane.review.retrain_button.click()


def test_confirm_copies_into_the_predicted_class(qtbot, pane, labelled, tmp_path):
    _classified(qtbot, pane, labelled)
    report = _dataset(tmp_path, split=False)
    pane.set_report(report)
    item = pane.model.item(pane.model.row_of(labelled / "blue" / "b0.png"))
    menu = pane.review.correction_menu([item])
    confirm = menu.findChild(type(menu.actions()[0]), "confirmAction")
    assert confirm.text() == "Confirm \u201cblue\u201d" and confirm.isEnabled()
    confirm.trigger()
    qtbot.waitUntil(lambda: (report.root / "blue" / "b0.png").is_file(), timeout=10_000)
    qtbot.waitUntil(lambda: pane.tasks.current("correct") is None, timeout=10_000)
    assert _digest(report.root / "blue" / "b0.png") == _digest(labelled / "blue" / "b0.png")


def test_without_a_dataset_corrections_are_disabled(qtbot, pane, labelled):
    _classified(qtbot, pane, labelled)
    item = pane.model.item(0)
    menu = pane.review.correction_menu([item])
    assert not menu.findChild(type(menu.actions()[0]), "confirmAction").isEnabled()
    assert "Open the dataset" in menu.actions()[0].toolTip()


def test_retrain_rescans_the_dataset_then_starts_training(qtbot, settings, class_folders,
                                                           monkeypatch):
    from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
    from horsehuman_gui.ui.main_window import TRAIN_TAB, MainWindow

    window = MainWindow(settings, TensorFlowLoader())
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.dataset_pane.report_changed, timeout=30_000):
        window.open_dataset(class_folders)
    _write(class_folders / "red" / "copied in.png", RED, seed=99)  # a correction just copied
    starts = []
    monkeypatch.setattr(window.training_pane, "start",
                        lambda: starts.append(len(window.training_pane._report.train)
                                              + len(window.training_pane._report.validation)))
    with qtbot.waitSignal(window.dataset_pane.report_changed, timeout=30_000):
        window.prediction_pane.retrain_requested.emit()
    assert window.tabs.currentIndex() == TRAIN_TAB
    assert starts == [21]  # started once, on the rescanned dataset (20 + the new picture)
    window.close()


def test_retrain_while_training_only_says_so(qtbot, settings, monkeypatch):
    from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
    from horsehuman_gui.ui.main_window import TRAIN_TAB, MainWindow

    window = MainWindow(settings, TensorFlowLoader())
    qtbot.addWidget(window)
    monkeypatch.setattr(window.training_pane, "is_training", lambda: True)
    rescans = []
    monkeypatch.setattr(window.dataset_pane, "rescan", lambda *a: rescans.append(a))
    window.prediction_pane.retrain_requested.emit()
    assert rescans == [] and window.tabs.currentIndex() == TRAIN_TAB
    assert "already running" in window.statusBar().currentMessage()
    window.close()
