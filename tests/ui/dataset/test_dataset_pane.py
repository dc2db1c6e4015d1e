"""The Dataset tab: classes with counts, samples, warnings and skipped files, scanned off-thread."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from PySide6.QtWidgets import QMessageBox

from horsehuman_gui.ui.dataset.dataset_pane import DatasetPane, _layout_text


@pytest.fixture
def pane(qtbot, settings):
    pane = DatasetPane(settings)
    qtbot.addWidget(pane)
    pane.show()
    yield pane
    pane.shutdown()


def _scan(qtbot, pane, root):
    with qtbot.waitSignal(pane.report_changed, timeout=30_000) as blocker:
        pane.open_dataset(root)
    return blocker.args[0]


def _error_boxes(widget):
    return [w for w in widget.findChildren(QMessageBox) if w.objectName() == "errorBox"]


def test_classes_and_counts_per_part_are_shown(qtbot, pane, class_folders, settings):
    report = _scan(qtbot, pane, class_folders)

    assert report.classes == ("blue", "red")
    assert pane.chart.rows() == [("blue", 8, 2), ("red", 8, 2)]  # 20 % held out of 10 each
    assert "blue" in pane.chart.toolTip()
    assert pane.pages.currentIndex() == 1
    assert "colours" in pane.title.text()
    assert settings.get("recent/datasets")[0] == str(class_folders)
    assert settings.get("paths/last_dataset") == str(class_folders)


def test_split_layout_counts_come_from_the_folders(qtbot, pane, split_folders):
    _scan(qtbot, pane, split_folders)
    assert pane.chart.rows() == [("blue", 12, 4), ("red", 12, 4)]
    assert "train" in pane.details.text() and "validation" in pane.details.text()


def test_sample_thumbnails_are_decoded_off_thread(qtbot, pane, class_folders):
    _scan(qtbot, pane, class_folders)

    def all_loaded():
        return all(label.pixmap() is not None and not label.pixmap().isNull()
                   for label in pane.samples.labels.values())

    qtbot.waitUntil(all_loaded, timeout=10_000)
    assert len(pane.samples.labels) == 2 * 6
    pixmap = pane.samples.labels[(0, 0)].pixmap()
    assert max(pixmap.width(), pixmap.height()) <= 88


def test_skipped_files_are_listed_with_reasons(qtbot, pane, class_folders):
    (class_folders / "blue" / "broken.png").write_bytes(b"this is not a png")
    (class_folders / "red" / "notes.txt").write_text("hello")
    _scan(qtbot, pane, class_folders)

    rows = {pane.skipped.item(r, 0).text(): pane.skipped.item(r, 1).text()
            for r in range(pane.skipped.rowCount())}
    assert set(rows) == {"blue/broken.png", "red/notes.txt"}
    assert all(reason for reason in rows.values())
    assert pane.skipped_box.isVisible()
    assert "2" in pane.skipped_box.title()


def test_imbalance_warning_is_shown(qtbot, pane, class_folders):
    for path in sorted((class_folders / "red").iterdir())[:6]:
        path.unlink()  # 10 blue, 4 red
    _scan(qtbot, pane, class_folders)
    assert pane.warnings.isVisible()
    assert "imbalanced" in pane.warnings.text()


def test_unusable_folder_becomes_an_error_box(qtbot, pane, tmp_path):
    (tmp_path / "only-one" / "cats").mkdir(parents=True)
    with qtbot.waitSignal(pane.scan_failed, timeout=30_000):
        pane.open_dataset(tmp_path / "only-one")
    boxes = _error_boxes(pane)
    assert len(boxes) == 1
    assert "cannot be used as a dataset" in boxes[0].text()
    assert pane.report is None


def test_rescan_with_another_fraction_changes_the_held_out_part(qtbot, pane, class_folders):
    _scan(qtbot, pane, class_folders)
    with qtbot.waitSignal(pane.report_changed, timeout=30_000) as blocker:
        pane.rescan(0.5, 7)
    assert blocker.args[0].validation_split == 0.5
    assert blocker.args[0].seed == 7
    assert pane.chart.rows() == [("blue", 5, 5), ("red", 5, 5)]


def test_a_newer_scan_wins_over_an_older_one(qtbot, pane, class_folders, split_folders):
    pane.open_dataset(class_folders)
    with qtbot.waitSignal(pane.report_changed, timeout=30_000) as blocker:
        pane.open_dataset(split_folders)
    qtbot.waitUntil(lambda: not pane.is_scanning(), timeout=30_000)
    assert blocker.args[0].root == split_folders
    assert pane.report.root == split_folders


def test_blocking_problems_and_findings_are_said_plainly(qtbot, pane, class_folders):
    from dataclasses import replace

    from horsehuman_gui.core.health import Finding

    report = _scan(qtbot, pane, class_folders)
    blocked = replace(report, blocking_problems=("class red has only 1 usable picture",),
                      findings=(Finding("small image", "2 pictures are smaller than 32 px"),))
    pane._show(blocked)
    assert pane.problems.isVisible()
    assert "cannot be used for training" in pane.problems.text()
    assert "Class red has only 1 usable picture" in pane.problems.text()
    assert "2 pictures are smaller than 32 px" in pane.warnings.text()
    pane._show(report)
    assert not pane.problems.isVisible()


def test_cancel_drops_a_long_scan_at_once(qtbot, pane, class_folders, monkeypatch):
    from horsehuman_gui.ui.dataset import dataset_pane

    report = _scan(qtbot, pane, class_folders)

    def slow_walk(root, validation_split, seed):
        def run(should_stop, progress):
            time.sleep(0.3)  # a long folder walk does not look at should_stop
            return None
        return run

    monkeypatch.setattr(dataset_pane, "_scan_job", slow_walk)
    pane.open_dataset(class_folders.parent)
    assert pane.scan_row.isVisible() and pane.cancel_button.isVisible()
    with qtbot.waitSignal(pane.scan_failed, timeout=100):
        pane.cancel()
    assert not pane.is_scanning() and not pane.scan_row.isVisible()
    assert pane.report is report and "colours" in pane.title.text()
    qtbot.waitUntil(lambda: not pane._tasks or all(t.name != "scan-dataset" for t in pane._tasks),
                    timeout=5_000)
    assert pane.report is report  # the cancelled scan's result, when it came, was dropped


def test_scan_progress_text_is_never_cut_off(qtbot, pane, class_folders):
    pane.resize(620, 400)
    pane.open_dataset(class_folders)
    pane._on_progress(pane._generation, (5, 1027))
    label = pane.scan_status
    assert label.text() == "Checking images: 5/1,027"
    qtbot.waitUntil(lambda: label.width() >= label.fontMetrics().horizontalAdvance(label.text()))
    assert not pane.progress.isTextVisible()
    qtbot.waitUntil(lambda: not pane.is_scanning(), timeout=30_000)


def test_findings_are_counted_per_kind_and_one_click_shows_their_files(qtbot, pane,
                                                                        class_folders):
    from dataclasses import replace

    from horsehuman_gui.core.health import Finding

    report = _scan(qtbot, pane, class_folders)
    near = tuple(Finding("near duplicate", f"2 near-identical pictures in class blue: {i}",
                         (class_folders / "blue" / f"blue_{i:03d}.png",
                          class_folders / "blue" / f"blue_{i + 1:03d}.png"))
                 for i in range(0, 8, 2))
    pane._show(replace(report, findings=near, grouping_links=(("name series", 9),)))
    text = pane.warnings.text()
    assert "4 × near-identical pictures within a class" in text
    assert text.count("near-identical pictures in class blue") == 0  # counted, not listed
    assert "found by name series (9)" in text
    pane.warnings.linkActivated.emit("finding:near duplicate")
    dialog = pane.findings_dialog
    qtbot.addWidget(dialog)
    assert dialog.isVisible()
    assert dialog.files() == [str(p) for f in near for p in f.files]


def test_big_counts_are_written_with_thousands_separators(tmp_path):
    report = SimpleNamespace(root=tmp_path, train=range(80_000), validation=range(20_002),
                             layout="classes", classes=("a", "b"), validation_split=0.2, seed=42)
    assert "100,002 images in 2 classes" in _layout_text(report)
