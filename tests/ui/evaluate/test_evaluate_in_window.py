"""The Evaluate tab in the main window: after Classify, following the current model and the
dataset open."""

from __future__ import annotations

import dataclasses

import pytest

from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
from horsehuman_gui.ui.main_window import CLASSIFY_TAB, EVALUATE_TAB, MainWindow


@pytest.fixture
def window(qtbot, settings):
    window = MainWindow(settings, TensorFlowLoader())
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()


def test_evaluate_tab_follows_the_model_and_the_dataset(qtbot, window, class_folders):
    from horsehuman_gui import __version__
    from horsehuman_gui.core.bundle import ModelBundle
    from horsehuman_gui.core.evaluation import Scores

    assert EVALUATE_TAB == CLASSIFY_TAB + 1
    assert window.tabs.tabText(EVALUATE_TAB) == "Evaluate"
    assert window.tabs.widget(EVALUATE_TAB) is window.evaluate_pane
    with qtbot.waitSignal(window.dataset_pane.report_changed, timeout=30_000) as signal:
        window.open_dataset(class_folders)
    report = signal.args[0]
    stored = Scores([0, 1, 1], [0.2, 0.9, 0.3], ("blue", "red")).evaluate(0.5).to_json()
    bundle = ModelBundle(model=None, class_names=("blue", "red"), image_size=32,
                         app_version=__version__, evaluation=stored,
                         dataset={"root": str(class_folders.absolute())})
    window.models.bundle_changed.emit(bundle)
    pane = window.evaluate_pane
    assert pane.view.accuracy_label.text().startswith("Accuracy 66.7% (2 of 3 correct)")
    assert "the validation part of colours" in pane.source_label.text()
    window.models.bundle_changed.emit(dataclasses.replace(bundle, evaluation=None))
    assert pane.view.accuracy_label.text() == ""
