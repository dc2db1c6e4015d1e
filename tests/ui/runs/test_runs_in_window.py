"""The Runs view in the main window: a tab of its own, opening a run's model, the open dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from horsehuman_gui.ui.common.model_files import ModelFiles
from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
from horsehuman_gui.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, settings, monkeypatch):
    opened = []
    monkeypatch.setattr(ModelFiles, "open", lambda self, path: opened.append(Path(path)))
    window = MainWindow(settings, TensorFlowLoader())
    window.opened = opened
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()


def test_the_runs_view_is_a_tab(window):
    index = window.tabs.indexOf(window.runs_pane)
    assert index >= 0 and window.tabs.tabText(index) == "Runs"
    window.tabs.setCurrentIndex(index)
    assert window.runs_pane.isVisible()


def test_open_model_opens_the_runs_model_in_the_window(window, tmp_path):
    model = tmp_path / "run.keras"
    window.runs_pane.open_model_requested.emit(model)
    assert window.opened == [model]


def test_label_errors_are_looked_for_in_the_open_dataset(window, qtbot, class_folders):
    assert not window.runs_pane.label_errors_button.isEnabled()
    with qtbot.waitSignal(window.dataset_pane.report_changed, timeout=30_000):
        window.open_dataset(class_folders)
    assert window.runs_pane.label_errors_button.isEnabled()
