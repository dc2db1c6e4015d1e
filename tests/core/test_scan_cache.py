"""The scan cache: a second scan of an unchanged folder checks nothing again; any change to a
file, a damaged cache file and the size bound are handled."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from conftest import make_bad_files, make_class_folders, write_image

from horsehuman_gui.core import dataset, scan_checks
from horsehuman_gui.core.dataset import scan_dataset
from horsehuman_gui.core.scan_cache import ScanCache, file_key


@pytest.fixture
def checks(monkeypatch):
    """Names of the files decoded (full) and header-checked, per scan."""
    done = {"full": [], "header": []}
    full, header = scan_checks.describe_image, scan_checks.describe_header

    def count_full(path):
        done["full"].append(path.name)
        return full(path)

    def count_header(path):
        done["header"].append(path.name)
        return header(path)

    monkeypatch.setattr(scan_checks, "describe_image", count_full)
    monkeypatch.setattr(scan_checks, "describe_header", count_header)
    return done


def _cache_file() -> str:
    return str(ScanCache().path)


def test_an_unchanged_folder_is_not_checked_again(tmp_path, checks):
    make_class_folders(tmp_path, per_class=10, size=8)
    expected = make_bad_files(tmp_path / "red" / "junk")
    first = scan_dataset(tmp_path)
    assert len(checks["full"]) == 20 + 4  # 4 bad files get as far as decoding
    checks["full"].clear()
    again = scan_dataset(tmp_path)
    assert checks["full"] == []
    assert again == first and {s.path.name for s in again.skipped} == set(expected)


def test_a_changed_file_is_checked_again(tmp_path, checks):
    make_class_folders(tmp_path, per_class=10, size=8)
    scan_dataset(tmp_path)
    checks["full"].clear()
    grown = tmp_path / "red" / "red_003.png"
    write_image(grown, (250, 0, 0), 12, seed=9)  # another size
    touched = tmp_path / "blue" / "blue_004.png"
    st = os.stat(touched)
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))  # same bytes, newer
    broken = tmp_path / "blue" / "blue_005.png"
    broken.write_bytes(broken.read_bytes()[:40])
    report = scan_dataset(tmp_path)
    assert sorted(checks["full"]) == ["blue_004.png", "blue_005.png", "red_003.png"]
    assert [s.path.name for s in report.skipped] == ["blue_005.png"]


def test_header_checks_never_stand_in_for_a_decode(tmp_path, checks, monkeypatch):
    make_class_folders(tmp_path, per_class=5, size=8)
    monkeypatch.setattr(dataset, "CONTENT_CHECK_LIMIT", 0)
    assert scan_dataset(tmp_path).decoded is False
    assert len(checks["header"]) == 10 and checks["full"] == []
    monkeypatch.setattr(dataset, "CONTENT_CHECK_LIMIT", 100)
    report = scan_dataset(tmp_path)
    assert report.decoded is True and len(checks["full"]) == 10
    monkeypatch.setattr(dataset, "CONTENT_CHECK_LIMIT", 0)  # a decode does stand in for a header
    scan_dataset(tmp_path)
    assert len(checks["header"]) == 10 and len(checks["full"]) == 10


def test_without_the_cache_nothing_is_read_or_written(tmp_path, checks):
    make_class_folders(tmp_path, per_class=5, size=8)
    scan_dataset(tmp_path, cache=False)
    scan_dataset(tmp_path, cache=False)
    assert len(checks["full"]) == 20 and not os.path.exists(_cache_file())


def test_access_problems_are_checked_every_time(tmp_path):
    cache = ScanCache(tmp_path / "cache")
    path = write_image(tmp_path / "a.png", (1, 2, 3), 8)
    cache.put(path, file_key(path), "cannot read: permission denied")
    cache.put(tmp_path / "b.png", file_key(path), "corrupt or truncated image")
    cache.close()
    found = ScanCache(tmp_path / "cache").get([path, tmp_path / "b.png"], [file_key(path)] * 2,
                                              True)
    assert found == [None, "corrupt or truncated image"]


def test_a_damaged_cache_is_replaced(tmp_path, checks):
    make_class_folders(tmp_path, per_class=5, size=8)
    os.makedirs(os.path.dirname(_cache_file()), exist_ok=True)
    with open(_cache_file(), "wb") as handle:
        handle.write(b"this is not a database" * 100)
    first = scan_dataset(tmp_path)
    assert scan_dataset(tmp_path) == first and len(checks["full"]) == 10
    with sqlite3.connect(_cache_file()) as db:
        assert db.execute("SELECT COUNT(*) FROM checks").fetchone()[0] == 10


def test_the_least_recently_used_entries_go_past_the_bound(tmp_path, monkeypatch):
    paths = [write_image(tmp_path / f"{i}.png", (i, 0, 0), 4) for i in range(10)]
    clock = iter(range(100, 1000))
    monkeypatch.setattr("horsehuman_gui.core.scan_cache.time.time", lambda: next(clock))
    cache = ScanCache(tmp_path / "cache", max_rows=8)
    for path in paths:
        cache.put(path, file_key(path), "corrupt or truncated image")
    cache.close()
    found = ScanCache(tmp_path / "cache").get(paths, [file_key(p) for p in paths], True)
    kept = [i for i, verdict in enumerate(found) if verdict is not None]
    assert kept == list(range(3, 10))  # 10 > 8: back to 90 % of the bound, oldest first


def test_a_relative_path_and_its_absolute_spelling_share_one_entry(tmp_path, monkeypatch):
    from horsehuman_gui.core import scan_cache

    monkeypatch.chdir(tmp_path)
    assert scan_cache._name(Path("sub") / "p.png") == scan_cache._name(tmp_path / "sub" / "p.png")


def test_the_walk_gives_the_cache_its_keys_without_a_second_stat(tmp_path, checks,
                                                                  monkeypatch):
    from horsehuman_gui.core.files import walk_images

    make_class_folders(tmp_path, per_class=5, size=8)
    keys: list = []
    images, _ = walk_images(tmp_path, keys=keys)
    assert len(images) == 10 and keys == [file_key(p) for p in images]

    first = scan_dataset(tmp_path)
    asked = []
    monkeypatch.setattr(scan_checks, "file_key", lambda p: asked.append(p) or file_key(p))
    checks["full"].clear()
    again = scan_dataset(tmp_path)
    assert asked == [] and checks["full"] == []  # keys from the walk; verdicts from the cache
    assert again == first
    changed = tmp_path / "red" / "red_001.png"
    write_image(changed, (250, 0, 0), 12, seed=9)
    scan_dataset(tmp_path)
    assert checks["full"] == ["red_001.png"]  # checked again; its key read after the decode
    assert asked == [changed]


@pytest.mark.parametrize("full", [True, False])
def test_decodes_share_threads_and_header_checks_keep_to_one(tmp_path, monkeypatch, full):
    # header checks are Python holding the GIL: threads would only take it from each other
    threads = set()

    def check(path):
        threads.add(threading.get_ident())
        time.sleep(0.002)  # long enough for every idle thread to be handed a chunk
        return "checked"

    monkeypatch.setattr(scan_checks, "describe_image" if full else "describe_header", check)
    paths = [tmp_path / f"{i}.png" for i in range(8 * scan_checks._CHUNK)]
    assert scan_checks.check_images(paths, full=full) == ["checked"] * len(paths)
    assert len(threads) == (scan_checks.WORKERS if full else 1)
