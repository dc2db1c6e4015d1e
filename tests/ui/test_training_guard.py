"""A training run is never thrown away unasked: closing the window (keep, discard, cancel), a
quit signal (keeps), and opening another dataset (asks, then waits for the run to end).

Training here is a stand-in worker that reports batches until it is stopped: no TensorFlow.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from horsehuman_gui import app as app_module
from horsehuman_gui.core.config import BatchProgress
from horsehuman_gui.ui.common import questions
from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
from horsehuman_gui.ui.main_window import MainWindow
from horsehuman_gui.ui.train import training_pane

TINY = {"training/model": "compact", "training/image_size": 32, "training/epochs": 3,
        "training/batch_size": 4}


def _endless_job(report, config, resume=False, tensorboard=None):
    def run(should_stop, emit):
        batch = 0
        while not should_stop():
            batch += 1
            emit(BatchProgress(epoch=1, epochs=config.epochs, batch=batch % 10 + 1, batches=11,
                               loss=0.5, accuracy=0.5, elapsed=0.01 * batch))
            time.sleep(0.02)
        return SimpleNamespace(history=(), stopped=True, final_val_accuracy=None, config=config,
                               evaluation=None, skipped=())
    return run


def stand_in_window(qtbot, settings, loader, monkeypatch):
    """Yields a main window that trains with ``_endless_job`` and keeps its models in
    ``window.kept`` (dataset roots) instead of adopting them; closed at the end."""
    for key, value in TINY.items():
        settings.set(key, value)
    monkeypatch.setattr(training_pane, "_training_job", _endless_job)
    window = MainWindow(settings, loader)
    window.kept = []
    monkeypatch.setattr(window.models, "adopt_trained",
                        lambda result, root, dataset=None: window.kept.append(root))
    window.show()  # not qtbot.addWidget: its close at teardown would ask (and wait) first
    yield window
    if window.training_pane.is_running():
        window.training_pane.stop()
        qtbot.waitUntil(lambda: not window.training_pane.is_running(), timeout=10_000)
    window.close()
    window.deleteLater()


@pytest.fixture
def window(qtbot, settings, monkeypatch):
    """A stand-in window whose TensorFlow is 'loaded' (nothing below needs it)."""
    loader = TensorFlowLoader()
    loader._loaded = True
    yield from stand_in_window(qtbot, settings, loader, monkeypatch)


@pytest.fixture
def asked(monkeypatch):
    """Answers to the questions, set by the test; every question asked is recorded."""
    answers = {"close": questions.KEEP, "open": questions.CANCEL, "log": []}

    def ask(kind):
        def answer(*args):
            answers["log"].append(kind)
            return answers[kind]
        return answer

    monkeypatch.setattr(questions, "ask_close_during_training", ask("close"))
    monkeypatch.setattr(questions, "ask_open_during_training", ask("open"))
    return answers


def _train(qtbot, window, root):
    with qtbot.waitSignal(window.dataset_pane.report_changed, timeout=30_000):
        window.open_dataset(root)
    window.train_action.trigger()
    qtbot.waitUntil(lambda: window.training_pane.progress.value() > 0, timeout=10_000)


def test_closing_while_training_keeps_the_model_by_default(qtbot, window, asked, class_folders):
    _train(qtbot, window, class_folders)
    task = window.training_pane._task
    window.close()
    assert asked["log"] == ["close"]
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert window.kept == [class_folders]  # stopped after the batch, handed over to be saved
    assert not task._thread.isRunning()


def test_the_close_question_keeps_by_default(qtbot):
    box = questions.close_during_training_box(None)
    qtbot.addWidget(box)
    choices = {b.text(): b.property("choice") for b in box.buttons()}
    assert sorted(choices.values()) == [questions.CANCEL, questions.DISCARD, questions.KEEP]
    assert box.defaultButton().property("choice") == questions.KEEP
    assert box.escapeButton().property("choice") == questions.CANCEL


def test_discard_closes_at_once_and_cancel_keeps_training(qtbot, window, asked, class_folders):
    _train(qtbot, window, class_folders)
    task = window.training_pane._task
    asked["close"] = questions.CANCEL
    window.close()
    assert window.isVisible() and task._thread.isRunning()
    asked["close"] = questions.DISCARD
    window.close()
    assert not window.isVisible() and not task._thread.isRunning()
    qtbot.wait(50)
    assert window.kept == []


def test_a_quit_signal_keeps_the_model_without_asking(qtbot, window, asked, class_folders):
    _train(qtbot, window, class_folders)
    app_module.on_quit_signal(window)  # what SIGTERM and SIGHUP call
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert asked["log"] == []
    assert window.kept == [class_folders]


def test_opening_a_dataset_while_training_asks_and_leaves_the_run_alone(
        qtbot, window, asked, class_folders, split_folders):
    _train(qtbot, window, class_folders)
    window.open_dataset(split_folders)  # answered "keep training"
    qtbot.wait(100)
    assert asked["log"] == ["open"]
    assert window.training_pane.is_running() and not window.dataset_pane.is_scanning()
    assert window.dataset_pane.report.root == class_folders
    assert class_folders.name in window.training_pane.dataset_label.text()


def test_stopping_to_open_another_dataset_keeps_the_run_and_clears_the_train_tab(
        qtbot, window, asked, class_folders, split_folders):
    _train(qtbot, window, class_folders)
    asked["open"] = questions.STOP
    with qtbot.waitSignal(window.dataset_pane.report_changed, timeout=30_000) as blocker:
        window.open_dataset(split_folders)
    assert blocker.args[0].root == split_folders
    assert window.kept == [class_folders]  # the stopped run's model, under its own dataset
    pane = window.training_pane
    assert split_folders.name in pane.dataset_label.text()
    assert pane.log.toPlainText() == "" and pane.progress.format() == "Not started"
    assert sum(pane.plot.point_counts().values()) == 0  # no curve of the other dataset's run


def test_a_dataset_with_a_blocking_problem_cannot_be_trained_on(qtbot, window, class_folders):
    from dataclasses import replace

    with qtbot.waitSignal(window.dataset_pane.report_changed, timeout=30_000) as blocker:
        window.open_dataset(class_folders)
    assert window.train_action.isEnabled()
    blocked = replace(blocker.args[0], blocking_problems=("class red has only 1 usable picture",))
    window.dataset_pane.report_changed.emit(blocked)
    pane = window.training_pane
    assert not window.train_action.isEnabled() and not pane.start_button.isEnabled()
    assert "Cannot train on this folder" in pane.message.text()
    pane.start()
    assert not pane.is_training()
    window.dataset_pane.report_changed.emit(blocker.args[0])
    assert window.train_action.isEnabled() and pane.start_button.isEnabled()
