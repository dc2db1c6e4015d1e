"""The thumbnail list model and its filter: Qt's model contract, batches, results, sorting."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt

from horsehuman_gui.core.files import SkippedFile
from horsehuman_gui.core.prediction import Prediction
from horsehuman_gui.ui.common.image_list_model import FETCH_BATCH, ImageListModel, Roles
from horsehuman_gui.ui.classify.result_filter import FilterSpec, ResultFilterProxy

NAMES = ("blue", "red")


def _paths(n: int) -> list[Path]:
    return [Path(f"/pictures/img_{i:05d}.jpg") for i in range(n)]


def _prediction(path: Path, red: float) -> Prediction:
    label = "red" if red >= 0.5 else "blue"
    return Prediction(path, label, max(red, 1 - red), (1 - red, red))


def _failed(path: Path, reason: str = "corrupt or truncated image") -> Prediction:
    return Prediction(path, None, None, (), reason)


@pytest.fixture
def model() -> ImageListModel:
    model = ImageListModel()
    model.set_class_names(NAMES)
    paths = _paths(6)
    model.set_images(paths, [SkippedFile(Path("/pictures/notes.txt"), "not an image file (.txt)")])
    model.apply_predictions([_prediction(paths[0], 0.9), _prediction(paths[1], 0.2),
                             _prediction(paths[2], 0.6), _failed(paths[3])])
    return model


def test_model_passes_qt_model_tester(qtmodeltester, model):
    qtmodeltester.check(model)


def test_proxy_passes_qt_model_tester(qtmodeltester, model):
    proxy = ResultFilterProxy(model)
    proxy.set_filter(FilterSpec(label="red"))
    qtmodeltester.check(proxy)


def test_rows_become_visible_in_batches():
    model = ImageListModel()
    model.set_images(_paths(1234))
    assert model.rowCount() == FETCH_BATCH and model.canFetchMore()
    model.fetchMore()
    assert model.rowCount() == 2 * FETCH_BATCH
    model.fetchMore()
    assert model.rowCount() == 1234 and not model.canFetchMore()
    assert model.total() == 1234


def test_added_images_are_appended_once():
    model = ImageListModel()
    model.set_images(_paths(3))
    assert model.add_images(_paths(5)) == 2
    assert model.rowCount() == 5
    assert model.index(4).data() == "img_00004.jpg"


def test_skipped_files_show_their_reason(model):
    row = model.row_of("/pictures/notes.txt")
    index = model.index(row)
    assert index.data(Roles.ERROR) == "not an image file (.txt)"
    assert "not an image file" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert Path("/pictures/notes.txt") not in model.classifiable_paths()


def test_a_batch_of_results_updates_its_rows_with_one_signal(qtbot):
    model = ImageListModel()
    model.set_class_names(NAMES)
    paths = _paths(10)
    model.set_images(paths)
    changes = []
    model.dataChanged.connect(lambda a, b, roles: changes.append((a.row(), b.row(), list(roles))))
    assert model.apply_predictions([_prediction(paths[i], 0.8) for i in (2, 3, 5)]) == 3
    assert len(changes) == 1 and changes[0][:2] == (2, 5)
    assert Roles.LABEL in changes[0][2] and Roles.ITEM in changes[0][2]
    assert [model.index(r).data(Roles.LABEL) for r in (2, 4, 5)] == ["red", "", "red"]
    assert model.index(2).data(Roles.CLASS_INDEX) == 1
    assert model.classifiable_paths() == [paths[i] for i in (0, 1, 4, 6, 7, 8, 9)]


def test_results_for_files_not_listed_are_ignored(model):
    assert model.apply_predictions([_prediction(Path("/elsewhere/x.jpg"), 0.9)]) == 0


def test_a_failed_prediction_becomes_an_error(model):
    index = model.index(model.row_of("/pictures/img_00003.jpg"))
    assert index.data(Roles.ERROR) == "corrupt or truncated image"
    assert index.data(Roles.LABEL) == ""


def test_threshold_relabels_from_the_stored_scores(model):
    index = model.index(model.row_of("/pictures/img_00002.jpg"))  # red score 0.6
    assert index.data(Roles.LABEL) == "red"
    model.set_threshold(0.8)
    assert index.data(Roles.LABEL) == "blue"
    assert index.data(Roles.ITEM).prediction.scores == pytest.approx((0.4, 0.6))
    model.set_threshold(0.5)
    assert index.data(Roles.LABEL) == "red"


def test_results_arriving_later_use_the_current_threshold():
    model = ImageListModel()
    model.set_class_names(NAMES)
    model.set_threshold(0.9)
    paths = _paths(1)
    model.set_images(paths)
    model.apply_predictions([_prediction(paths[0], 0.7)])  # labelled red by the worker at 0.5
    assert model.index(0).data(Roles.LABEL) == "blue"


def test_another_model_clears_the_results(model):
    model.set_class_names(("cat", "dog", "bird"))
    assert not model.has_results()
    assert len(model.classifiable_paths()) == 6


def test_sorting_reorders_all_rows_and_keeps_the_selection(model):
    proxy = ResultFilterProxy(model)
    kept = QPersistentModelIndex(model.index(model.row_of("/pictures/img_00001.jpg")))
    proxy.set_sort("confidence")
    labels = [proxy.index(r, 0).data(Roles.CONFIDENCE) for r in range(proxy.rowCount())]
    assert labels[:3] == pytest.approx([0.9, 0.8, 0.6])
    assert labels[-1] == -2.0  # failures last
    assert kept.data() == "img_00001.jpg"
    proxy.set_sort("label")
    assert [proxy.index(r, 0).data(Roles.LABEL) for r in range(3)] == ["blue", "red", "red"]
    proxy.set_sort("name")
    assert proxy.index(0, 0).data() == "img_00000.jpg"


def test_least_confident_first_puts_doubtful_results_first_and_the_rest_last(model):
    proxy = ResultFilterProxy(model)
    proxy.set_sort("least_confident")
    values = [proxy.index(r, 0).data(Roles.CONFIDENCE) for r in range(proxy.rowCount())]
    assert values[:3] == pytest.approx([0.6, 0.8, 0.9])
    assert values[3:] == [-1.0, -1.0, -2.0, -2.0]  # not classified, then failures


def test_sorting_covers_rows_not_fetched_yet():
    model = ImageListModel()
    model.set_class_names(NAMES)
    paths = _paths(FETCH_BATCH + 10)
    model.set_images(paths)
    model.apply_predictions([_prediction(paths[-1], 0.99)])
    ResultFilterProxy(model).set_sort("confidence")
    assert model.index(0).data() == paths[-1].name


@pytest.mark.parametrize("spec, expected", [
    (FilterSpec(label="red"), {"img_00000.jpg", "img_00002.jpg"}),
    (FilterSpec(min_confidence=0.75), {"img_00000.jpg", "img_00001.jpg"}),
    (FilterSpec(errors_only=True), {"img_00003.jpg", "notes.txt"}),
])
def test_filters(model, spec, expected):
    proxy = ResultFilterProxy(model)
    proxy.set_filter(spec)
    assert {proxy.index(r, 0).data() for r in range(proxy.rowCount())} == expected
    assert {i.path.name for i in proxy.shown_items()} == expected


def test_filter_follows_new_results(model):
    proxy = ResultFilterProxy(model)
    proxy.set_filter(FilterSpec(label="red"))
    model.apply_predictions([_prediction(Path("/pictures/img_00004.jpg"), 0.95)])
    assert "img_00004.jpg" in {proxy.index(r, 0).data() for r in range(proxy.rowCount())}


def test_filter_spec_validates():
    with pytest.raises(ValueError, match="Received: 1.5"):
        FilterSpec(min_confidence=1.5)
