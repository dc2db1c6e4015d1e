"""Evaluating a model on labelled folders: items found by class folder, scores, failures, stop."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_class_folders, write_image
from horsehuman_gui import __version__
from horsehuman_gui.core.bundle import ModelBundle
from horsehuman_gui.core.dataset import LabeledImage
from horsehuman_gui.core.errors import DatasetError
from horsehuman_gui.core.evaluation_run import (EvaluationCancelled, evaluate_items,
                                                labelled_items)


def colour_bundle(names=("blue", "red")) -> ModelBundle:
    """A fixed model: "red" when the red channel outweighs the blue one (no training)."""
    from horsehuman_gui.core.models import keras

    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([np.array([[0.1], [0.0], [-0.1]]), np.zeros(1)])
    return ModelBundle(model=model, class_names=names, image_size=32, app_version=__version__)


def test_class_folders_are_labelled_by_the_models_class_names(tmp_path):
    root = make_class_folders(tmp_path / "new", per_class=3)
    (root / "Extra").mkdir()
    write_image(root / "loose.png", (1, 2, 3))

    items, skipped = labelled_items(root, ("blue", "red"))

    assert len(items) == 6
    assert {(i.path.parent.name, i.label) for i in items} == {("blue", 0), ("red", 1)}
    reasons = {s.path.name: s.reason for s in skipped}
    assert "not named like any of the model's classes" in reasons["Extra"]
    assert reasons["loose.png"] == "not inside a class folder"


def test_names_match_ignoring_case_and_a_split_root_uses_its_validation_part(split_folders):
    (split_folders / "validation" / "red").rename(split_folders / "validation" / "Red")

    items, _ = labelled_items(split_folders, ("blue", "red"))

    assert len(items) == 8 and all(i.path.parts[-3] == "validation" for i in items)
    assert sorted({i.label for i in items}) == [0, 1]


def test_a_folder_without_any_class_folder_is_an_error(tmp_path):
    make_class_folders(tmp_path / "other", classes=("green",), per_class=1)
    with pytest.raises(DatasetError, match="named like the model's classes"):
        labelled_items(tmp_path / "other", ("blue", "red"))
    with pytest.raises(DatasetError, match="not found"):
        labelled_items(tmp_path / "missing", ("blue", "red"))


def test_scores_leave_unreadable_files_out_and_count_them(tmp_path):
    root = make_class_folders(tmp_path / "data", per_class=4)
    (root / "red" / "broken.png").write_bytes(b"not a picture")
    items, _ = labelled_items(root, ("blue", "red"))
    progress = []

    scores = evaluate_items(colour_bundle(), items, on_progress=lambda *a: progress.append(a))

    assert [f.path.name for f in scores.failed] == ["broken.png"]
    assert len(scores.labels) == 8 and not scores.stopped
    assert scores.paths == tuple(i.path for i in items if i.path.name != "broken.png")
    evaluation = scores.evaluate(0.5)
    assert evaluation.accuracy == 1.0 and evaluation.confusion == ((4, 0), (0, 4))
    assert progress[-1] == (9, 9)


def test_three_classes_and_a_stop(tmp_path):
    from horsehuman_gui.core.models import keras

    root = make_class_folders(tmp_path / "data", classes=("blue", "green", "red"), per_class=40)
    items, _ = labelled_items(root, ("blue", "green", "red"))
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax")])
    bundle = ModelBundle(model=model, class_names=("blue", "green", "red"), image_size=32,
                         app_version=__version__)
    checks = []

    scores = evaluate_items(bundle, items, batch_size=8,
                            should_stop=lambda: checks.append(1) or len(checks) > 2)

    assert scores.stopped and len(scores.labels) == 16  # two batches, then the stop
    assert scores.scores.shape[1] == 3
    with pytest.raises(EvaluationCancelled):
        evaluate_items(bundle, items, should_stop=lambda: True)


def test_nothing_readable_is_an_error(tmp_path):
    bad = tmp_path / "a.png"
    bad.write_bytes(b"nope")
    with pytest.raises(DatasetError, match="none of the 1 images"):
        evaluate_items(colour_bundle(), [LabeledImage(bad, 0)])
