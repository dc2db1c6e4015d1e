"""The main window's File menu carries the model-file actions and "Get a sample dataset...":
in place, enabled only with a model, and a downloaded dataset opens on the Dataset tab."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from horsehuman_gui.core.bundle import save_bundle
from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
from horsehuman_gui.ui.dataset.sample_dialog import SampleDatasetDialog
from horsehuman_gui.ui.main_window import DATASET_TAB, MainWindow
from tests.ui.dataset.test_sample_dialog import server  # noqa: F401 - a fixture


@pytest.fixture
def make_window(qtbot, settings):
    windows = []

    def make(loader=None):
        window = MainWindow(settings, loader or TensorFlowLoader())
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


def _file_menu(window):
    return window.menuBar().actions()[0].menu()


def test_the_file_menu_has_them_in_place(make_window):
    window = make_window()
    texts = [a.text() for a in _file_menu(window).actions()]
    assert texts[texts.index("Open &dataset…") + 1] == "&Get a sample dataset…"
    at = texts.index("&Save model as…")
    assert texts[at + 1:at + 5] == ["", "&Export model…", "Save &report…",
                                    "Export as &Python script…"]
    assert window.samples.action.isEnabled()
    assert not any(a.isEnabled() for a in window.model_actions.actions())


def test_open_model_offers_teachable_machine_files(make_window, monkeypatch):
    window = make_window()
    seen = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(
        lambda parent, title, start, filters, *a, **k: (seen.append(filters), ("", ""))[1]))
    window.choose_model()
    first = seen[0].split(";;")[0]
    assert all(pattern in first for pattern in ("*.keras", "*.h5", "*.zip"))


def test_an_opened_model_enables_the_model_actions(qtbot, make_window, tf_loader,
                                                   trained_bundle, tmp_path):
    window = make_window(tf_loader)
    path = save_bundle(trained_bundle, tmp_path / "colours.keras")
    with qtbot.waitSignal(window.models.opened, timeout=60_000):
        window.open_model(path)
    assert window.model_actions.export_action.isEnabled()
    assert window.model_actions.report_action.isEnabled()
    assert not window.model_actions.script_action.isEnabled()  # no training settings stored


def test_a_sample_dataset_from_the_menu_opens_as_the_dataset(qtbot, make_window, server,  # noqa: F811
                                                             tmp_path):
    window = make_window()
    window.samples.action.trigger()
    dialog = window.findChild(SampleDatasetDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.folder.setText(str(tmp_path))
    with qtbot.waitSignal(window.dataset_pane.report_changed, timeout=30_000) as signal:
        dialog.download_button.click()
    assert signal.args[0].root == tmp_path / "horses-or-humans"
    assert window.tabs.currentIndex() == DATASET_TAB
    assert [b for b in window.findChildren(QMessageBox) if b.objectName() == "licenceNote"]
