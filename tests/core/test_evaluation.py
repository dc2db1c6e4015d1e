"""Evaluation figures against a hand-computed confusion matrix; cells list exactly their images."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from horsehuman_gui.core.evaluation import Evaluation, Scores, evaluate

NAMES = ("cat", "dog", "fox")
# true labels and softmax-like scores; predicted = argmax
LABELS = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
SCORES = [
    [0.8, 0.1, 0.1],  # cat -> cat
    [0.6, 0.3, 0.1],  # cat -> cat
    [0.2, 0.7, 0.1],  # cat -> dog
    [0.1, 0.9, 0.0],  # dog -> dog
    [0.3, 0.5, 0.2],  # dog -> dog
    [0.4, 0.35, 0.25],  # dog -> cat
    [0.1, 0.2, 0.7],  # dog -> fox
    [0.0, 0.1, 0.9],  # fox -> fox
    [0.1, 0.3, 0.6],  # fox -> fox
    [0.05, 0.9, 0.05],  # fox -> dog
]
PATHS = [Path(f"img{i}.png") for i in range(10)]


def _scores() -> Scores:
    return Scores(np.array(LABELS), np.array(SCORES), NAMES, tuple(PATHS))


def test_figures_match_a_hand_computed_confusion_matrix():
    result = _scores().evaluate()
    assert result.confusion == ((2, 1, 0), (1, 2, 1), (0, 1, 2))
    assert result.accuracy == pytest.approx(6 / 10)
    assert result.n_images == 10 and result.threshold is None and result.auc is None
    cat, dog, fox = result.per_class
    assert (cat.precision, cat.recall, cat.support) == (pytest.approx(2 / 3),) * 2 + (3,)
    assert (dog.precision, dog.recall, dog.support) == (0.5, 0.5, 4)
    assert (fox.precision, fox.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert dog.f1 == pytest.approx(0.5) and cat.f1 == pytest.approx(2 / 3)
    assert result.macro_f1 == pytest.approx((2 / 3 + 0.5 + 2 / 3) / 3)


def test_a_cell_lists_exactly_its_images_most_confident_first():
    scores = _scores()
    dog_as_others = {j: [item.path.name for item in scores.cell(1, j)] for j in range(3)}
    assert dog_as_others == {0: ["img5.png"], 1: ["img3.png", "img4.png"], 2: ["img6.png"]}
    cat_cell = scores.cell(0, 0)
    assert [item.confidence for item in cat_cell] == [0.8, 0.6]
    assert all(item.true == 0 and item.predicted == 0 for item in cat_cell)
    total = sum(len(scores.cell(i, j)) for i in range(3) for j in range(3))
    assert total == 10


def test_least_confident_correct_comes_first():
    items = _scores().least_confident_correct()
    # correct: img0 0.8, img1 0.6, img3 0.9, img4 0.5, img7 0.9, img8 0.6 (ties keep file order)
    assert [i.path.name for i in items] == [f"img{i}.png" for i in (4, 1, 8, 0, 3, 7)]
    assert [i.confidence for i in items] == sorted(i.confidence for i in items)
    assert [i.index for i in _scores().least_confident_correct(2)] == [4, 1]


BINARY_LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
BINARY_P = [0.1, 0.4, 0.35, 0.8, 0.9, 0.6, 0.3, 0.7]  # sigmoid: score of class 1


def test_binary_threshold_moves_the_decision():
    scores = Scores(np.array(BINARY_LABELS), np.array(BINARY_P)[:, None], ("horse", "human"))
    at_half = scores.at_threshold(0.5)
    # predicted human (>= 0.5): 0.8 (horse), 0.9, 0.6, 0.7 -> TP 3, FP 1, FN 1, TN 3
    assert at_half.confusion == ((3, 1), (1, 3)) and at_half.threshold == 0.5
    assert at_half.accuracy == pytest.approx(6 / 8)
    strict = scores.at_threshold(0.85)  # only 0.9 is human
    assert strict.confusion == ((4, 0), (3, 1))
    assert strict.per_class[1].precision == 1.0 and strict.per_class[1].recall == 0.25
    assert scores.cell(0, 1, threshold=0.5)[0].index == 3


def test_roc_curve_and_auc():
    scores = Scores(np.array(BINARY_LABELS), np.array(BINARY_P), ("horse", "human"))
    roc = scores.roc()
    # positives 0.9 0.7 0.6 0.3 above negatives 0.8 0.4 0.35 0.1: 4 + 3 + 3 + 1 of 16 pairs
    assert roc.auc == pytest.approx(11 / 16)
    assert scores.evaluate().auc == pytest.approx(11 / 16)
    assert roc.fpr[0] == 0 and roc.tpr[0] == 0 and roc.fpr[-1] == 1 and roc.tpr[-1] == 1
    assert np.all(np.diff(roc.fpr) >= 0) and np.all(np.diff(roc.tpr) >= 0)
    perfect = Scores(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]), ("a", "b"))
    assert perfect.roc().auc == 1.0
    ties = Scores(np.array([0, 1]), np.array([0.5, 0.5]), ("a", "b"))
    assert ties.roc().auc == pytest.approx(0.5)
    one_class = Scores(np.array([1, 1]), np.array([0.2, 0.9]), ("a", "b"))
    assert math.isnan(one_class.roc().auc) and one_class.evaluate().auc is None


def test_json_round_trip():
    result = evaluate(BINARY_LABELS, np.array(BINARY_P), ["horse", "human"], threshold=0.6)
    text = json.dumps(result.to_json())
    again = Evaluation.from_json(json.loads(text))
    assert again == result
    assert json.loads(text)["confusion"] == [[3, 1], [1, 3]]
    with pytest.raises(ValueError, match="not an evaluation record"):
        Evaluation.from_json({"format": 1})


@pytest.mark.parametrize("labels, scores, names, match", [
    ([0, 1], np.zeros((2, 3)), NAMES[:2], "must be"),
    ([0, 3], np.zeros((2, 3)), NAMES, "class indices"),
    ([], np.zeros((0, 3)), NAMES, "no images"),
    ([0], np.zeros((1, 1)), ("only",), "at least 2"),
])
def test_bad_inputs_say_what_was_received(labels, scores, names, match):
    with pytest.raises(ValueError, match=match):
        Scores(np.array(labels), scores, names)
