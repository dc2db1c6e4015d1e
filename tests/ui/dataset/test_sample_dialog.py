"""Get a sample dataset: downloaded in the background from a server on 127.0.0.1, opened as
the dataset with its licence shown; Cancel stops it and keeps nothing."""

from __future__ import annotations

import functools
import http.server
import io
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox, QWidget

from horsehuman_gui.core import sample_data
from horsehuman_gui.core.sample_data import Archive, SampleDataset
from horsehuman_gui.ui.dataset.sample_dialog import (SampleDatasetDialog, SampleDatasets,
                                                     free_folder)

TINY = SampleDataset("horses-or-humans", "Horses or Humans",
                     (Archive("h.zip", "train", 4), Archive("v.zip", "validation", 2)),
                     "Horses or Humans by Laurence Moroney, CC BY 2.0\n")


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(path: Path, per_class: int) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("horses", "humans"):
            for i in range(per_class):
                archive.writestr(f"{name}/{name}{i}.png", _png(i))


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _SlowHandler(_Handler):
    """Sends 4 MB in 64 KB pieces, 20 ms apart: slow enough to press Cancel during it."""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", str(64 * 1024 * 64))
        self.end_headers()
        try:
            for _ in range(64):
                self.wfile.write(b"\0" * 64 * 1024)
                time.sleep(0.02)
        except OSError:  # the client went away: that is the point
            pass


def _serve(folder: Path, handler, monkeypatch):
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HORSEHUMAN_DATASETS_URL", f"http://127.0.0.1:{httpd.server_port}/")
    monkeypatch.setitem(sample_data.DATASETS, "horses-or-humans", TINY)
    return httpd, thread


@pytest.fixture
def server(tmp_path, monkeypatch):
    folder = tmp_path / "served"
    folder.mkdir()
    _zip(folder / "h.zip", 2)
    _zip(folder / "v.zip", 1)
    httpd, thread = _serve(folder, _Handler, monkeypatch)
    yield folder
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def slow_server(tmp_path, monkeypatch):
    httpd, thread = _serve(tmp_path, _SlowHandler, monkeypatch)
    yield
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def window(qtbot):
    widget = QWidget()
    widget.opened = []
    widget.open_dataset = widget.opened.append
    qtbot.addWidget(widget)
    return widget


def _start(samples, folder: Path):
    dialog = samples.show_dialog()
    dialog.folder.setText(str(folder))
    assert dialog.dataset.currentData() == "horses-or-humans"
    return dialog


def test_download_opens_the_dataset_and_shows_its_licence(qtbot, window, settings, server,
                                                          tmp_path):
    samples = SampleDatasets(window, settings, window.open_dataset)
    dialog = _start(samples, tmp_path)
    assert str(tmp_path / "horses-or-humans") in dialog.target.text()
    with qtbot.waitSignal(dialog.downloaded, timeout=30_000) as signal:
        dialog.download_button.click()
    root = tmp_path / "horses-or-humans"
    assert signal.args[0].root == root
    qtbot.waitUntil(lambda: window.opened == [root])
    assert sorted(p.name for p in root.iterdir()) == ["LICENSE.txt", "train", "validation"]
    assert len(list((root / "train" / "horses").iterdir())) == 2
    notes = [b for b in window.findChildren(QMessageBox) if b.objectName() == "licenceNote"]
    assert len(notes) == 1
    assert "CC BY 2.0" in notes[0].informativeText()
    assert "4 train, 2 validation" in notes[0].text()
    assert settings.get("paths/last_download") == str(tmp_path)
    qtbot.waitUntil(lambda: samples.dialog is None)  # closed and deleted


def test_a_taken_name_gets_a_number_and_nothing_is_replaced(tmp_path):
    (tmp_path / "horses-or-humans").mkdir()
    (tmp_path / "horses-or-humans" / "mine.txt").write_text("keep")
    assert free_folder(tmp_path, "horses-or-humans") == tmp_path / "horses-or-humans-2"
    (tmp_path / "empty").mkdir()
    assert free_folder(tmp_path, "empty") == tmp_path / "empty"


def test_cancel_stops_the_download_and_keeps_nothing(qtbot, window, settings, slow_server,
                                                     tmp_path):
    target = tmp_path / "here"
    target.mkdir()
    samples = SampleDatasets(window, settings, window.open_dataset)
    dialog = _start(samples, target)
    dialog.download_button.click()
    task = dialog.task
    assert task is not None and not dialog.download_button.isEnabled()
    assert not dialog.browse.isEnabled() and not dialog.dataset.isEnabled()
    qtbot.waitUntil(lambda: "MB" in dialog.state.text(), timeout=10_000)  # bytes are arriving
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        dialog.reject()  # Cancel
        assert dialog.isVisible()  # stays until the download has stopped
    assert window.opened == []
    assert list(target.iterdir()) == []
    assert not [b for b in dialog.findChildren(QMessageBox) if b.objectName() == "errorBox"]


def test_a_failed_download_says_why_and_keeps_the_dialog(qtbot, window, settings, server,
                                                        tmp_path):
    (server / "v.zip").unlink()  # the server answers 404
    dialog = SampleDatasetDialog(settings, window)
    qtbot.addWidget(dialog)
    dialog.folder.setText(str(tmp_path))
    task = dialog.start()
    with qtbot.waitSignal(task.finished, timeout=30_000):
        pass
    boxes = [b for b in dialog.findChildren(QMessageBox) if b.objectName() == "errorBox"]
    assert len(boxes) == 1 and "Could not download Horses or Humans" in boxes[0].text()
    assert "v.zip: File not found" in boxes[0].informativeText()
    assert not (tmp_path / "horses-or-humans").exists()
    assert dialog.download_button.isEnabled()  # try again

