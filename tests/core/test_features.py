"""Backbone features: computed once, cached by content, augmented copies, bad files, cancel."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import build_tiny_backbone, make_class_folders, write_image
from horsehuman_gui.core.feature_cache import FeatureCache, FeatureKey, cache_dir
from horsehuman_gui.core.features import ExtractionCancelled, extract_features
from horsehuman_gui.core.models import feature_extractor

KEY = FeatureKey("tiny", 32)


@pytest.fixture(scope="module")
def extractor():
    return feature_extractor(build_tiny_backbone(), 32)


@pytest.fixture
def paths(tmp_path):
    root = make_class_folders(tmp_path / "colours", per_class=5)
    return sorted(root.rglob("*.png"))


def run(paths, extractor, **options):
    progress = []
    options.setdefault("cache", FeatureCache())
    result = extract_features(paths, extractor, options.pop("key", KEY), batch_size=4,
                              on_progress=lambda done, total: progress.append((done, total)),
                              **options)
    return result, progress


def test_the_cache_lives_where_the_tests_put_it(tmp_path):
    assert "cache-dir" in str(cache_dir())  # tests/core/conftest.py: never the person's cache


def test_a_miss_computes_and_a_hit_computes_nothing(paths, extractor):
    first, progress = run(paths, extractor)
    second, _ = run(paths, extractor)

    assert first.computed == 10 and second.computed == 0
    assert first.vectors.shape == (1, 10, 8) and first.ok.all() and first.failed == {}
    np.testing.assert_allclose(second.vectors, first.vectors, rtol=1e-6)
    # Every row is its own file's, across the batches (of 4) that ran through it at once.
    direct = np.asarray(extractor(np.stack([np.asarray(_pixels(p)) for p in paths])))
    np.testing.assert_allclose(first.vectors[0], direct, rtol=1e-4, atol=1e-5)
    assert progress[0] == (0, 10) and progress[-1] == (10, 10)


def test_a_changed_file_is_computed_again(paths, extractor):
    first, _ = run(paths, extractor)
    write_image(paths[0], (250, 250, 0), seed=99)  # same name, new content

    second, _ = run(paths, extractor)

    assert second.computed == 1
    assert not np.allclose(second.vectors[0, 0], first.vectors[0, 0])
    np.testing.assert_allclose(second.vectors[0, 1:], first.vectors[0, 1:], rtol=1e-6)


def test_a_file_seen_unchanged_is_not_read_again(paths, extractor, monkeypatch):
    import builtins
    import os

    run(paths, extractor)
    opened, names = [], {str(p) for p in paths}
    real_open, real_os_open = builtins.open, os.open
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: (
        str(f) in names and opened.append(f)) or real_open(f, *a, **k))
    monkeypatch.setattr(os, "open", lambda f, *a, **k: (
        str(f) in names and opened.append(f)) or real_os_open(f, *a, **k))

    second, _ = run(paths, extractor)

    assert second.computed == 0 and second.ok.all() and opened == []


def test_a_file_rewritten_with_its_size_and_date_put_back_is_computed_again(paths, extractor):
    import os

    first, _ = run(paths, extractor)
    before = os.stat(paths[0])
    write_image(paths[0], (250, 250, 0), seed=99)
    paths[0].write_bytes(paths[0].read_bytes()[:before.st_size].ljust(before.st_size, b"\0"))
    os.utime(paths[0], ns=(before.st_atime_ns, before.st_mtime_ns))  # as a sync tool may
    assert os.stat(paths[0]).st_size == before.st_size

    second, _ = run(paths, extractor)

    assert second.computed == 1
    assert not np.allclose(second.vectors[0, 0], first.vectors[0, 0])


def test_a_copy_elsewhere_is_read_once_and_not_computed(paths, extractor, tmp_path):
    run(paths, extractor)
    copy = tmp_path / "copy.png"
    copy.write_bytes(paths[0].read_bytes())

    again, _ = run([copy], extractor)

    assert again.computed == 0 and again.ok.all()


def test_without_a_cache_no_file_is_hashed(paths, extractor, monkeypatch):
    from horsehuman_gui.core import features

    monkeypatch.setattr(features.hashlib, "blake2b", None)  # any call would fail

    result, _ = run(paths, extractor, cache=None)

    assert result.computed == 10 and result.ok.all()


def test_a_fifo_among_the_files_is_a_reason_not_a_hang(paths, extractor, tmp_path):
    import os

    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)

    result, _ = run([*paths, fifo], extractor)

    assert result.failed == {fifo: "not a regular file"} and result.ok.sum() == 10


def test_another_backbone_or_size_is_another_entry(paths, extractor):
    run(paths, extractor)

    other, _ = run(paths, extractor, key=FeatureKey("other", 32))

    assert other.computed == 10


def test_augmented_copies_differ_from_the_image_and_are_cached(paths, extractor):
    key = FeatureKey("tiny", 32, "strong")
    first, progress = run(paths, extractor, key=key, copies=2, seed=3)
    second, _ = run(paths, extractor, key=key, copies=2, seed=3)
    plain, _ = run(paths, extractor)  # copy 0 is the image itself, whatever the preset

    assert first.vectors.shape == (3, 10, 8) and first.computed == 30
    assert not np.allclose(first.vectors[1], first.vectors[0])
    assert not np.allclose(first.vectors[1], first.vectors[2])
    assert second.computed == 0 and plain.computed == 0
    assert progress[-1] == (30, 30)


def test_a_file_that_cannot_be_read_is_reported_and_left_out(paths, extractor):
    paths[3].write_bytes(b"not an image")

    result, progress = run(paths, extractor)

    assert list(result.failed) == [paths[3]] and "not an image" in result.failed[paths[3]]
    assert result.ok.sum() == 9 and not result.ok[3]
    assert progress[-1] == (10, 10)


def test_cancel_raises_and_keeps_what_was_done(paths, extractor):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 2  # after the first batch of 4

    with pytest.raises(ExtractionCancelled):
        run(paths, extractor, should_stop=should_stop)
    again, _ = run(paths, extractor)

    assert again.computed == 6  # the first 4 were cached before the cancel


def test_a_stop_keeps_the_batches_already_in_the_backbone(paths, extractor):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 3  # after two batches of 4 went in: both were still running

    with pytest.raises(ExtractionCancelled):
        run(paths, extractor, should_stop=should_stop)
    again, _ = run(paths, extractor)

    assert again.computed == 2


def test_a_damaged_cache_is_a_miss_not_an_error(paths, extractor, tmp_path):
    cache = FeatureCache(tmp_path / "features")
    cache.path.parent.mkdir(parents=True)
    cache.path.write_bytes(b"garbage, not SQLite" * 100)

    result, _ = run(paths, extractor, cache=cache)
    cache.close()
    again, _ = run(paths, extractor, cache=FeatureCache(tmp_path / "features"))

    assert result.computed == 10 and again.computed == 0


def test_the_cache_commits_in_wal_mode_and_a_damaged_ones_log_goes_with_it(tmp_path):
    cache = FeatureCache(tmp_path / "features")
    cache.put({"d0": np.ones(8, np.float32)}, KEY, 0)
    assert cache._connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cache.close()
    cache.path.write_bytes(b"garbage, not SQLite" * 100)
    stale = [cache.path.with_name(cache.path.name + end) for end in ("-wal", "-shm")]
    for path in stale:
        path.write_bytes(b"left by the damaged database" * 100)

    again = FeatureCache(tmp_path / "features")
    assert again.get(["d0"], KEY, 0) == {}
    again.put({"d1": np.ones(8, np.float32)}, KEY, 0)
    assert list(again.get(["d1"], KEY, 0)) == ["d1"]
    again.close()


def test_a_deleted_cache_is_a_miss(paths, extractor):
    run(paths, extractor)
    FeatureCache().path.unlink()

    again, _ = run(paths, extractor)

    assert again.computed == 10


def test_past_its_bound_the_least_recently_used_entries_go(tmp_path):
    cache = FeatureCache(tmp_path / "features", max_bytes=10 * 32)  # ten 8-float vectors
    vector = np.ones(8, np.float32)
    for number in range(10):
        cache.put({f"d{number}": vector}, KEY, 0)
    cache.get(["d0"], KEY, 0)  # used just now: kept
    cache.put({"d10": vector}, KEY, 0)

    kept = cache.get([f"d{n}" for n in range(11)], KEY, 0)

    assert "d0" in kept and "d10" in kept and "d1" not in kept
    assert len(kept) <= 9


def test_the_bound_holds_over_many_puts_and_with_another_writer(tmp_path):
    folder, vector = tmp_path / "features", np.ones(8, np.float32)
    cache, other = FeatureCache(folder, max_bytes=10 * 32), FeatureCache(folder)
    for number in range(25):
        cache.put({f"d{number}": vector}, KEY, 0)
        other.put({f"o{number}": vector}, KEY, 0)  # another process sharing the cache
    cache.close()
    reopened = FeatureCache(folder, max_bytes=10 * 32)
    reopened.put({"last": vector}, KEY, 0)

    mine = reopened.get([f"d{n}" for n in range(25)] + ["last"], KEY, 0)
    theirs = reopened.get([f"o{n}" for n in range(25)], KEY, 0)
    assert "last" in mine and len(mine) + len(theirs) <= 10  # bounded again once counted
    assert "d24" in mine or "o24" in theirs  # the newest stay


def test_a_put_does_not_count_the_whole_cache_again(tmp_path, monkeypatch):
    cache, vector = FeatureCache(tmp_path / "features"), np.ones(8, np.float32)
    cache.put({"first": vector}, KEY, 0)  # counts once
    statements = []
    monkeypatch.setattr(cache, "_db", _Recording(cache._db, statements))
    for number in range(5):
        cache.put({f"d{number}": vector}, KEY, 0)

    assert not [s for s in statements if "SUM(" in s]


class _Recording:
    """A connection that records the SQL run through it."""

    def __init__(self, db, statements):
        self._db, self._statements = db, statements

    def execute(self, sql, *args):
        self._statements.append(sql)
        return self._db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._db, name)

    def __enter__(self):
        return self._db.__enter__()

    def __exit__(self, *exc):
        return self._db.__exit__(*exc)


def _pixels(path):
    from horsehuman_gui.core.images import load_array

    return load_array(path, 32).astype(np.float32)


def test_the_backbone_is_traced_once_and_not_kept_alive(paths):
    import gc
    import weakref

    from horsehuman_gui.core import features

    extractor = feature_extractor(build_tiny_backbone(), 32)
    first, _ = run(paths, extractor, cache=None)
    forward = features._compiled(extractor, 32)
    second, _ = run(paths, extractor, cache=None)

    assert features._compiled(extractor, 32) is forward  # the second run traced nothing
    assert np.allclose(first.vectors, second.vectors)
    alive, entries = weakref.ref(extractor), len(features._compiled_functions)
    del extractor, forward
    gc.collect()
    assert alive() is None
    assert len(features._compiled_functions) == entries - 1  # its traced functions went too
