"""Garbage collection paused around bursts of long-lived objects: nested, across threads."""

from __future__ import annotations

import gc
import threading

import pytest
from conftest import make_class_folders

from horsehuman_gui.core import dataset
from horsehuman_gui.core.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def collector_on():
    gc.enable()
    yield
    gc.enable()


def test_nested_pauses_enable_again_after_the_outer_one():
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads_enable_when_the_last_ends():
    entered, leave = threading.Event(), threading.Event()

    def other():
        with gc_paused():
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    with gc_paused():
        thread.start()
        assert entered.wait(10)
    assert not gc.isenabled()  # the other thread's pause is still on
    leave.set()
    thread.join(10)
    assert gc.isenabled()


def test_an_exception_ends_the_pause_and_freeze_moves_objects_out_of_reach():
    frozen = gc.get_freeze_count()
    kept = [[] for _ in range(10)]
    with pytest.raises(RuntimeError), gc_paused(freeze=True):
        raise RuntimeError("boom")
    assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(kept)
    # not unfrozen afterwards: gc.unfreeze() would also release TensorFlow's objects, which
    # another test in this process checks are frozen


def test_a_scan_runs_with_the_collector_paused(tmp_path, monkeypatch):
    make_class_folders(tmp_path, per_class=3, size=8)
    seen = []
    check = dataset.check_images
    monkeypatch.setattr(dataset, "check_images",
                        lambda *a, **k: seen.append(gc.isenabled()) or check(*a, **k))
    report = dataset.scan_dataset(tmp_path, cache=False)
    assert seen == [False] and gc.isenabled() and len(report.train) + len(report.validation) == 6
