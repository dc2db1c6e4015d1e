"""The weights mirror setting reaches the downloads, at start-up and when changed."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QInputDialog, QWidget

from horsehuman_gui.core import weights
from horsehuman_gui.ui.common.weights_mirror import (apply_weights_mirror, ask_weights_mirror,
                                                     valid_mirror)


@pytest.fixture(autouse=True)
def _default_afterwards():
    yield
    weights.set_base_url(None)


def test_the_remembered_mirror_is_used_from_the_start(settings, monkeypatch):
    monkeypatch.delenv("HORSEHUMAN_WEIGHTS_URL", raising=False)
    settings.set("network/weights_url", "https://mirror.example/keras/")
    apply_weights_mirror(settings, at_start=True)
    assert weights.base_url() == "https://mirror.example/keras/"
    settings.set("network/weights_url", "")
    apply_weights_mirror(settings)
    assert weights.base_url() is None


def test_asking_sets_and_remembers_a_valid_address_only(qtbot, settings, monkeypatch):
    parent = QWidget()
    qtbot.addWidget(parent)
    answers = iter([("http://127.0.0.1:8000/w", True), ("not an address", True), ("", False)])
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: next(answers))
    assert ask_weights_mirror(parent, settings)
    assert settings.get("network/weights_url") == "http://127.0.0.1:8000/w"
    assert weights.base_url() == "http://127.0.0.1:8000/w"
    assert not ask_weights_mirror(parent, settings)  # refused, the old one stays
    assert settings.get("network/weights_url") == "http://127.0.0.1:8000/w"
    assert not ask_weights_mirror(parent, settings)  # cancelled
    assert valid_mirror("") and valid_mirror("file:///srv/w") and not valid_mirror("ftp://x")


def test_the_window_offers_it_in_the_file_menu(qtbot, settings, tf_loader):
    from horsehuman_gui.ui.main_window import MainWindow

    window = MainWindow(settings, tf_loader)
    qtbot.addWidget(window)
    file_menu = window.menuBar().actions()[0].menu()
    assert window.weights_mirror_action in file_menu.actions()
