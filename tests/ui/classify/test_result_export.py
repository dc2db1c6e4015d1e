"""Where the export dialogs start: the CSV where the last CSV went, never the pictures' folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from horsehuman_gui.core.prediction import Prediction
from horsehuman_gui.ui.classify.result_export import ResultExporter


class _Shown:
    def __init__(self, pictures: Path):
        self.pictures = pictures

    def rows(self):
        return [Prediction(self.pictures / "a.png", "red", 0.9, (0.1, 0.9))]

    def class_names(self):
        return ("blue", "red")


def test_csv_dialog_starts_in_the_last_export_folder(qtbot, settings, tmp_path, monkeypatch):
    pictures, exports, sorted_into = (tmp_path / n for n in ("pictures", "exports", "sorted"))
    for folder in (pictures, exports, sorted_into):
        folder.mkdir()
    settings.set("paths/last_images", str(pictures))
    widget, shown = QWidget(), _Shown(pictures)
    qtbot.addWidget(widget)
    exporter = ResultExporter(settings, shown.rows, shown.class_names, None, widget)
    assert not exporter.csv_start_dir().startswith(str(pictures))  # nothing exported yet

    exporter.export_csv(exports / "results.csv")
    exporter._copied(_no_copies(), sorted_into)  # a copy into class folders since then
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, title, start, *a: (asked.append(start), ("", ""))[1])
    exporter.export_csv_action.setEnabled(True)
    exporter.export_csv_action.trigger()
    assert asked == [str(exports / "predictions.csv")]
    assert exporter.copy_start_dir() == str(sorted_into)


def _no_copies():
    from horsehuman_gui.core.export import CopySummary

    return CopySummary(copied=(), skipped=())
