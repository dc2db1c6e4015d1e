"""Suspected label errors: out-of-fold predictions of a linear head find flipped labels."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_class_folders, write_image, COLOURS
from horsehuman_gui.core.label_errors import (find_label_errors, out_of_fold_probabilities,
                                              suspected_label_errors)

CLASSES = ("cat", "dog", "fox")


def blobs(per_class=40, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (len(CLASSES), dim))
    labels = np.repeat(np.arange(len(CLASSES)), per_class)
    features = centres[labels] + rng.normal(0, 1, (len(labels), dim))
    return features, labels


def test_three_flipped_labels_are_found_and_nothing_else():
    features, labels = blobs()
    flipped = {5: 1, 50: 2, 100: 0}
    given = labels.copy()
    for i, wrong in flipped.items():
        given[i] = wrong
    paths = [f"img{i}.png" for i in range(len(labels))]

    suspects = suspected_label_errors(features, given, CLASSES, paths)

    assert {s.path.name for s in suspects} == {f"img{i}.png" for i in flipped}
    for s in suspects:
        i = int(s.path.stem[3:])
        assert s.given == CLASSES[flipped[i]] and s.predicted == CLASSES[labels[i]]
        assert s.confidence >= 0.8
    assert [s.confidence for s in suspects] == sorted((s.confidence for s in suspects),
                                                      reverse=True)


def test_a_clean_dataset_has_no_suspects():
    features, labels = blobs(seed=3)
    assert suspected_label_errors(features, labels, CLASSES, [""] * len(labels)) == []


def test_predictions_come_from_a_head_that_never_saw_the_picture():
    # A lone outlier labelled "cat" among dogs: in-sample it would be learnt as a cat.
    features, labels = blobs(per_class=20)
    features[0] = features[labels == 1].mean(axis=0)
    probabilities = out_of_fold_probabilities(features, labels, 3)
    assert probabilities[0].argmax() == 1
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_a_group_stays_in_one_fold_so_a_copy_cannot_vouch_for_its_label():
    features, labels = blobs(per_class=20)
    # Picture 0 (a cat) filed as dog, and two exact copies of it also filed as dog.
    features[[30, 31]] = features[0]
    given = labels.copy()
    given[[0, 30, 31]] = 1
    groups = np.full(len(labels), -1)
    groups[[0, 30, 31]] = 7
    paths = [f"img{i}" for i in range(len(labels))]

    alone = suspected_label_errors(features, given, CLASSES, paths, groups=groups)
    assert {"img0", "img30", "img31"} <= {s.path.name for s in alone}


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="one row per picture"):
        suspected_label_errors(np.zeros((3, 2)), np.zeros(2, int), CLASSES, ["a", "b", "c"])


def test_find_label_errors_on_a_scanned_folder(tmp_path, tiny_backbone):
    from horsehuman_gui.core.dataset import scan_dataset

    root = make_class_folders(tmp_path / "colours", per_class=12)
    wrong = write_image(root / "blue" / "actually_red.png", COLOURS["red"], seed=99)
    report = scan_dataset(root)
    progress = []

    suspects = find_label_errors(report, backbone="tiny", on_progress=lambda d, t:
                                 progress.append((d, t)), confidence=0.6)

    assert [(s.path, s.given, s.predicted) for s in suspects] == [(wrong, "blue", "red")]
    assert progress[-1] == (25, 25)
