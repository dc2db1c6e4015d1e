"""Thumbnails: scaled while decoding, upright, failures with reasons, stale results dropped."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from horsehuman_gui.core.errors import ImageError
from horsehuman_gui.ui.common.image_list_model import ImageListModel
from horsehuman_gui.ui.common.thumbnails import JobStack, ThumbnailLoader, decode_thumbnail


def _image(path, size=(200, 100), colour=(200, 30, 30), mode="RGB", **save):
    Image.new("RGB", size, colour).convert(mode).save(path, **save)
    return str(path)


def test_scaled_to_fit_keeping_aspect(tmp_path):
    image = decode_thumbnail(_image(tmp_path / "wide.jpg"), 64)
    assert (image.width(), image.height()) == (64, 32)


def test_small_images_are_not_enlarged(tmp_path):
    image = decode_thumbnail(_image(tmp_path / "small.png", (20, 10)), 64)
    assert (image.width(), image.height()) == (20, 10)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated by 90 degrees: portrait
    Image.new("RGB", (200, 100), (20, 40, 220)).save(path, exif=exif.tobytes())
    image = decode_thumbnail(str(path), 64)
    assert (image.width(), image.height()) == (32, 64)


@pytest.mark.parametrize("mode, name", [("CMYK", "cmyk.jpg"), ("P", "palette.png"),
                                        ("LA", "grey-alpha.png")])
def test_unusual_colour_modes_decode(tmp_path, mode, name):
    image = decode_thumbnail(_image(tmp_path / name, mode=mode), 64)
    assert not image.isNull() and image.width() == 64


def test_sixteen_bit_png_decodes(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((40, 80), 40000, dtype=np.uint16)).save(path)
    assert decode_thumbnail(str(path), 64).width() == 64


@pytest.mark.parametrize("content, reason_part", [(b"this is text", "not an image"),
                                                  (b"", "empty")])
def test_unreadable_files_raise_with_a_reason(tmp_path, content, reason_part):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError) as info:
        decode_thumbnail(str(path), 64)
    assert reason_part in info.value.reason


def test_job_stack_is_newest_first_bounded_and_retains():
    jobs = JobStack(limit=3)
    for name in "abcd":
        jobs.put((name, 0))
    assert len(jobs) == 3  # "a", the oldest, was dropped
    assert jobs.take(0.1) == ("d", 0)
    assert jobs.retain({"b"}) == 1  # "c" scrolled away
    assert jobs.take(0.1) == ("b", 0)
    assert jobs.take(0.01) is None


@pytest.fixture
def loader(qtbot):
    loader = ThumbnailLoader(box=48, workers=2)
    yield loader
    loader.shutdown()


def test_loader_delivers_pixmaps_and_failures(qtbot, loader, tmp_path):
    good = _image(tmp_path / "good.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture")
    with qtbot.waitSignals([loader.ready, loader.failed], timeout=10_000):
        loader.request(good)
        loader.request(str(bad))
    assert loader.pixmap(good).width() == 48
    assert "not an image" in loader.error(str(bad))


def test_results_of_an_earlier_generation_are_dropped(qtbot, loader, tmp_path):
    path = _image(tmp_path / "old.png")
    arrived = []
    loader.ready.connect(arrived.append)
    loader.request(path)
    loader.new_generation()  # a new folder before the decode could be delivered
    qtbot.wait(500)
    assert arrived == [] and loader.pixmap(path) is None
    with qtbot.waitSignal(loader.ready, timeout=10_000):
        loader.request(path)  # asked again in the new generation: decoded and kept
    assert loader.pixmap(path) is not None


def test_model_decoration_arrives_for_exactly_that_row(qtbot, loader, tmp_path):
    paths = [_image(tmp_path / f"{i}.png") for i in range(3)]
    model = ImageListModel(loader)
    model.set_images(paths)
    changes = []
    model.dataChanged.connect(lambda a, b, roles: changes.append((a.row(), b.row(), list(roles))))
    assert model.index(1).data(Qt.ItemDataRole.DecorationRole) is None  # requests it
    qtbot.waitUntil(lambda: model.index(1).data(Qt.ItemDataRole.DecorationRole) is not None,
                    timeout=10_000)
    assert not model.index(1).data(Qt.ItemDataRole.DecorationRole).isNull()
    assert changes == [(1, 1, [Qt.ItemDataRole.DecorationRole])]
    assert loader.pixmap(paths[0]) is None  # never painted, never decoded


def test_shutdown_stops_the_workers(qtbot, tmp_path):
    loader = ThumbnailLoader(box=16, workers=2)
    with qtbot.waitSignal(loader.ready, timeout=10_000):
        loader.request(_image(tmp_path / "a.png"))
    threads = [task._thread for task in loader._tasks]
    assert len(threads) == 2 and all(t.isRunning() for t in threads)
    loader.shutdown()
    assert not any(t.isRunning() for t in threads)
    loader.request(_image(tmp_path / "b.png"))  # ignored once shut: no new thread
    assert loader.pending_count() == 0


def test_cache_is_bounded(qtbot, tmp_path):
    loader = ThumbnailLoader(box=16, workers=1, cache_size=2)
    paths = [_image(tmp_path / f"{i}.png", (20, 20)) for i in range(3)]
    for path in paths:
        with qtbot.waitSignal(loader.ready, timeout=10_000):
            loader.request(path)
    loader.shutdown()
    assert loader.pixmap(paths[0]) is None and loader.pixmap(paths[2]) is not None


def test_only_rows_on_screen_are_queued_and_scrolled_away_ones_dropped(qtbot, tmp_path):
    from horsehuman_gui.ui.common.thumbnail_view import ThumbnailView

    loader = ThumbnailLoader(box=16, workers=0)  # nothing decodes: the queue stays observable
    model = ImageListModel(loader)
    model.set_images([tmp_path / f"{i:04d}.png" for i in range(400)])
    view = ThumbnailView()
    view.setModel(model)
    view.visible_paths_changed.connect(loader.retain)
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    qtbot.waitUntil(lambda: loader.pending_count() > 0)
    first_screen = loader.pending_count()
    assert first_screen <= 3 * len(view.visible_rows()) < 60  # a screenful, not 400
    assert view.visible_rows().start == 0
    with qtbot.waitSignal(view.visible_paths_changed, timeout=2_000):
        view.verticalScrollBar().setValue(view.verticalScrollBar().maximum())
    qtbot.wait(50)
    pending = set(loader._jobs._pending)
    assert pending and all(int(path[-8:-4]) >= 300 for path, _ in pending)  # only the bottom rows


def test_image_plugins_load_on_the_gui_thread_before_the_workers_start(qtbot, tmp_path,
                                                                      task_starts, monkeypatch):
    """Two workers making the process's first QImageReader at once crashed ~1 start in 4."""
    import threading

    from horsehuman_gui.ui.common import thumbnails

    load = thumbnails._load_image_plugins
    monkeypatch.setattr(thumbnails, "_load_image_plugins", lambda: (
        task_starts.append(f"plugins on {threading.current_thread().name}"), load()))
    loader = ThumbnailLoader(box=48, workers=2)
    loader.request(str(_image(tmp_path / "a.png", (60, 40))))
    loader.request(str(_image(tmp_path / "b.png", (60, 40))))
    assert task_starts == [f"plugins on {threading.main_thread().name}", "thumbnails",
                           "thumbnails"]
    loader.shutdown()
