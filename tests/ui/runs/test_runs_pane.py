"""The Runs view: runs listed newest first, compared side by side, opened, deleted with files;
suspected label errors listed with thumbnails."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices

from horsehuman_gui.core.config import EpochMetrics, TrainConfig, TrainResult
from horsehuman_gui.core.dataset import scan_dataset
from horsehuman_gui.core.label_errors import Suspect
from horsehuman_gui.core.paths import models_dir
from horsehuman_gui.core.runs import list_runs, record_run
from horsehuman_gui.ui.runs import runs_pane as runs_pane_module
from horsehuman_gui.ui.runs.compare_dialog import DIFFERS, CompareDialog
from horsehuman_gui.ui.runs.runs_model import RECORD_ROLE, RunsTableModel
from horsehuman_gui.ui.runs.runs_pane import RunsPane, delete_box

START = datetime(2026, 12, 2, 9, 0)


def result_of(epochs=2, **config) -> TrainResult:
    history = tuple(EpochMetrics(e, epochs, 0.5, 0.8, 0.6, 0.7 + e / 100, 2.0)
                    for e in range(1, epochs + 1))
    return TrainResult(model=None, class_names=("blue", "red"), image_size=32, history=history,
                       stopped=False, config=TrainConfig(**config), best_epoch=epochs)


@pytest.fixture
def recorded(class_folders, tmp_path):
    """Three runs: an old one with an autosaved model, a newer one with a model saved
    elsewhere, the newest with another learning rate and no model."""
    report = scan_dataset(class_folders)
    autosaved = models_dir() / "colours.keras"
    autosaved.write_bytes(b"\0" * 2000)
    elsewhere = tmp_path / "mine.keras"
    elsewhere.write_bytes(b"\0" * 500)
    def at(hours):
        return {"started": START + timedelta(hours=hours),
                "finished": START + timedelta(hours=hours, seconds=6)}

    return [record_run(result_of(), report, autosaved, **at(0)),
            record_run(result_of(3), report, elsewhere, **at(1)),
            record_run(result_of(learning_rate=0.01), report, None, **at(2))]


@pytest.fixture
def pane(qtbot, recorded):
    pane = RunsPane()
    qtbot.addWidget(pane)
    pane.show()  # showing reads the records
    return pane


def ids_shown(pane) -> list[str]:
    return [pane.proxy.index(r, 0).data(RECORD_ROLE).id for r in range(pane.proxy.rowCount())]


def test_the_model_passes_qt_checks(qtmodeltester, recorded):
    model = RunsTableModel()
    model.set_records(list_runs())
    qtmodeltester.check(model)
    assert model.headerData(3, Qt.Orientation.Horizontal) == "Val. accuracy"


def test_runs_are_listed_newest_first_with_their_figures(pane, recorded):
    assert ids_shown(pane) == [r.id for r in reversed(recorded)]
    row = [pane.proxy.index(1, c).data() for c in range(pane.proxy.columnCount())]
    assert row == ["2026-12-02 10:00", "colours", "pretrained (squeezenet)", "73.0%", "3",
                   "6 s", "500 bytes"]
    assert "3 runs recorded" in pane.summary.text() and "2.5 KB" in pane.summary.text()


def test_a_run_recorded_later_appears_when_the_view_is_shown_again(pane, class_folders):
    pane.hide()
    record_run(result_of(), scan_dataset(class_folders), None, started=START - timedelta(1))
    pane.show()
    assert pane.proxy.rowCount() == 4


def test_two_selected_runs_are_compared_with_differences_highlighted(pane, recorded, qtbot):
    assert not pane.compare_button.isEnabled()
    pane.select_ids({recorded[0].id, recorded[2].id})
    assert pane.compare_button.isEnabled() and not pane.open_button.isEnabled()

    dialog = pane.compare_selected()
    qtbot.addWidget(dialog)

    assert isinstance(dialog, CompareDialog) and dialog.table.columnCount() == 2
    labels = [dialog.table.verticalHeaderItem(r).text() for r in range(dialog.table.rowCount())]
    lr = labels.index("Learning rate")
    assert [dialog.table.item(lr, c).text() for c in (0, 1)] == ["0.01", "0.001"]
    assert dialog.table.item(lr, 0).background().color() == DIFFERS
    model_row = labels.index("Model")
    assert dialog.table.item(model_row, 0).background().color() != DIFFERS
    dialog.only_differences.setChecked(True)
    assert dialog.table.isRowHidden(model_row) and not dialog.table.isRowHidden(lr)
    dialog.close()


def test_open_model_asks_the_window_to_open_the_runs_model(pane, recorded, qtbot):
    pane.select_ids({recorded[0].id})
    assert pane.open_button.isEnabled()
    with qtbot.waitSignal(pane.open_model_requested) as signal:
        pane.open_button.click()
    assert signal.args == [Path(recorded[0].model_path)]


def test_delete_asks_lists_the_files_and_removes_the_autosaved_model(pane, recorded,
                                                                     monkeypatch):
    pane.select_ids({recorded[0].id, recorded[1].id})
    box = delete_box(pane, pane.selected())
    assert recorded[0].model_path in box.detailedText()
    assert recorded[1].model_path not in box.detailedText()  # saved elsewhere: kept...
    assert "mine.keras" in box.checkBox().text()  # ...unless ticked
    assert "1 model file(s) (2.0 KB)" in box.informativeText()
    box.deleteLater()

    monkeypatch.setattr(runs_pane_module, "ask_delete", lambda parent, records: None)
    pane.delete_button.click()
    assert pane.proxy.rowCount() == 3  # cancelled: nothing removed

    monkeypatch.setattr(runs_pane_module, "ask_delete", lambda parent, records: False)
    pane.delete_button.click()

    assert ids_shown(pane) == [recorded[2].id]
    assert not Path(recorded[0].model_path).exists()
    assert Path(recorded[1].model_path).exists()


def test_suspected_label_errors_are_listed_with_thumbnails(pane, class_folders, qtbot,
                                                           monkeypatch):
    from horsehuman_gui.core import label_errors

    picture = next((class_folders / "blue").iterdir())
    monkeypatch.setattr(label_errors, "find_label_errors", lambda report, **kw: [
        Suspect(picture, "blue", "red", 0.93)])
    assert not pane.label_errors_button.isEnabled()
    pane.set_report(scan_dataset(class_folders))

    dialog = pane.find_label_errors()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.is_searching(), timeout=10_000)

    table = dialog.table
    assert [table.item(0, c).text() for c in range(4)] == [picture.name, "blue", "red", "93%"]
    assert not table.item(0, 0).icon().isNull()
    assert "1 picture that a model trained without" in dialog.message.text()
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url))
    dialog.table.cellDoubleClicked.emit(0, 1)
    assert [url.toLocalFile() for url in opened] == [str(picture)]
    dialog.close()


def test_closing_stops_a_search_still_running(pane, class_folders, qtbot, monkeypatch):
    import threading

    from horsehuman_gui.core import label_errors

    began, stopped = threading.Event(), []

    def slow(report, should_stop, **kw):
        began.set()
        while not should_stop():
            threading.Event().wait(0.01)
        stopped.append(True)
        return []

    monkeypatch.setattr(label_errors, "find_label_errors", slow)
    pane.set_report(scan_dataset(class_folders))
    dialog = pane.find_label_errors()
    qtbot.waitUntil(began.is_set, timeout=5_000)
    pane.shutdown()
    assert stopped == [True]
    qtbot.waitUntil(lambda: not dialog.is_searching(), timeout=5_000)
