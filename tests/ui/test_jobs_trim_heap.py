"""The training and classification jobs give the C heap's free pages back when they end, also
when they end in an error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from horsehuman_gui.core import memory


@pytest.fixture
def trims(monkeypatch) -> list[bool]:
    calls: list[bool] = []
    monkeypatch.setattr(memory, "trim_heap", lambda: calls.append(True) or True)
    return calls


def test_the_training_job_trims_the_heap_when_it_ends(monkeypatch, tmp_path, trims):
    from horsehuman_gui.core import training
    from horsehuman_gui.core.config import TrainConfig
    from horsehuman_gui.ui.train.training_pane import _training_job

    def failing_train(report, config, **kwargs):
        assert trims == []  # not before
        raise RuntimeError("out of memory")

    monkeypatch.setattr(training, "train", failing_train)
    with pytest.raises(RuntimeError):
        _training_job(SimpleNamespace(root=tmp_path), TrainConfig())(lambda: False, print)
    assert trims == [True]


def test_the_classify_job_trims_the_heap_when_it_ends(monkeypatch, tmp_path, trims):
    from horsehuman_gui.core import prediction
    from horsehuman_gui.ui.classify.prediction_jobs import classify_job

    def predict_files(bundle, paths, **kwargs):
        assert trims == []
        yield from paths

    monkeypatch.setattr(prediction, "predict_files", predict_files)
    reported = []
    stopped = classify_job(None, ["a.jpg", "b.jpg", "c.jpg"], 0.5, batch_size=2)(
        lambda: False, reported.append)
    assert reported == [("a.jpg", "b.jpg"), ("c.jpg",)] and stopped is False
    assert trims == [True]


def test_trimming_is_harmless_without_glibc(monkeypatch):
    memory._malloc_trim.cache_clear()
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    try:
        assert memory.trim_heap() is False
    finally:
        memory._malloc_trim.cache_clear()
    assert memory.trim_heap() in (True, False)  # the real one: never raises
