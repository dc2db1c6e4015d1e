"""The Dataset tab shows the folder walk's progress (images found so far) before the checks'."""

from __future__ import annotations

import pytest

from horsehuman_gui.ui.dataset import dataset_pane
from horsehuman_gui.ui.dataset.dataset_pane import DatasetPane


@pytest.fixture
def pane(qtbot, settings):
    pane = DatasetPane(settings)
    qtbot.addWidget(pane)
    pane.show()
    yield pane
    pane.shutdown()


def test_the_scan_job_reports_the_walk_then_the_checks(class_folders):
    reported = []
    dataset_pane._scan_job(class_folders, 0.2, 42)(lambda: False, reported.append)
    walk = [value for value in reported if isinstance(value, int)]
    assert walk and walk[-1] == 20  # 10 images per class found
    first_check = next(i for i, value in enumerate(reported) if isinstance(value, tuple))
    assert all(isinstance(value, int) for value in reported[:first_check])
    assert reported[-1] == (20, 20)


def test_walk_progress_is_shown_as_images_found(qtbot, pane, class_folders):
    pane.open_dataset(class_folders)
    pane._on_progress(pane._generation, 12345)
    assert pane.scan_status.text() == "Looking for images: 12,345 found"
    assert pane.progress.maximum() == 0  # busy: the total is not known yet
    pane._on_progress(pane._generation, (5, 1027))
    assert pane.scan_status.text() == "Checking images: 5/1,027"
    qtbot.waitUntil(lambda: not pane.is_scanning(), timeout=30_000)
