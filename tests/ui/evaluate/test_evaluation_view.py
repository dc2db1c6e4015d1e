"""The figures of an evaluation: tables over Evaluation, the threshold re-reading the scores."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from horsehuman_gui.core.evaluation import Scores
from horsehuman_gui.ui.evaluate.evaluation_tables import (SHARE_ROLE, ClassFiguresModel,
                                                          ConfusionModel)
from horsehuman_gui.ui.evaluate.evaluation_view import EvaluationView

NAMES = ("horses", "humans")
#: 3 horses (one scored 0.7 for humans: wrong at 0.5, right at 0.8), 3 humans (one at 0.4)
LABELS = [0, 0, 0, 1, 1, 1]
HUMAN = [0.1, 0.2, 0.7, 0.9, 0.95, 0.4]


def _scores() -> Scores:
    return Scores(LABELS, HUMAN, NAMES, tuple(Path(f"/p/{i}.jpg") for i in range(6)))


def test_tables_pass_the_qt_model_tester(qtmodeltester):
    evaluation = _scores().evaluate(0.5)
    for model in (ConfusionModel(), ClassFiguresModel()):
        model.set_evaluation(evaluation)
        qtmodeltester.check(model)


def test_confusion_model_counts_and_shares():
    model = ConfusionModel()
    model.set_evaluation(_scores().evaluate(0.5))
    assert [[model.index(r, c).data() for c in range(2)] for r in range(2)] == [["2", "1"],
                                                                                ["1", "2"]]
    assert model.index(0, 1).data(SHARE_ROLE) == 1 / 3
    assert model.headerData(1, Qt.Orientation.Vertical) == "is humans"
    assert "taken for \u201chumans\u201d" in model.index(0, 1).data(Qt.ItemDataRole.ToolTipRole)
    # right answers and mistakes in different hues
    assert model.index(0, 0).data(Qt.ItemDataRole.BackgroundRole) != model.index(
        0, 1).data(Qt.ItemDataRole.BackgroundRole)


def test_threshold_updates_every_figure_from_the_stored_scores(qtbot):
    view = EvaluationView()
    qtbot.addWidget(view)
    view.show_scores(_scores())
    assert view.accuracy_label.text().startswith("Accuracy 66.7% (4 of 6 correct)")
    assert "AUC 0.889" in view.accuracy_label.text()
    assert view.roc is not None and not view.roc.isHidden()
    with qtbot.waitSignal(view.threshold_changed) as signal:
        view.set_threshold(0.8)
    assert signal.args == [0.8]
    assert view.evaluation.confusion == ((3, 0), (1, 2))
    assert view.confusion.index(0, 0).data() == "3"
    assert view.accuracy_label.text().startswith("Accuracy 83.3% (5 of 6 correct)")
    assert view.roc.point_position() == (0.0, 2 / 3)
    assert view.figures.index(0, 2).data() == "100.0%"  # horses' recall


def test_stored_figures_show_without_pictures(qtbot):
    view = EvaluationView()
    qtbot.addWidget(view)
    view.show_stored(_scores().evaluate(0.5), "Stored in the model file")
    assert view.accuracy_label.text().startswith("Accuracy 66.7%")
    assert "Evaluate again to see the pictures behind each cell" in view.note_label.text()
    assert not view.threshold_slider.isEnabled()
    with qtbot.assertNotEmitted(view.threshold_changed):
        view.set_threshold(0.8)
    assert view.evaluation.confusion == ((2, 1), (1, 2))


def test_clicking_a_cell_names_it(qtbot):
    view = EvaluationView()
    qtbot.addWidget(view)
    view.show_scores(_scores())
    view.show()
    table = view.confusion_table
    rect = table.visualRect(view.confusion.index(1, 0))
    with qtbot.waitSignal(view.cell_chosen) as signal:
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert signal.args == [1, 0]
