"""The Train tab on a tiny set: a compact network, 32 px, two epochs, no early stopping."""

from __future__ import annotations

import pytest

from horsehuman_gui.core.dataset import scan_dataset
from horsehuman_gui.ui.train.training_pane import TrainingPane

TINY = {"training/model": "compact", "training/image_size": 32, "training/epochs": 2,
        "training/batch_size": 4, "training/learning_rate": 0.001, "training/patience": 0,
        "training/augment": "off", "training/validation_split": 0.2, "training/seed": 42}


@pytest.fixture
def pane(qtbot, settings, tf_loader):
    for key, value in TINY.items():
        settings.set(key, value)
    pane = TrainingPane(settings, tf_loader)
    qtbot.addWidget(pane)
    pane.show()
    yield pane
    pane.shutdown()


@pytest.fixture
def report(class_folders):
    return scan_dataset(class_folders, validation_split=0.2, seed=42)
