"""The Train tab around a run: the work before the first epoch, evaluation, resume, no weights."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from horsehuman_gui.core.config import StageProgress
from horsehuman_gui.core.dataset import scan_dataset
from horsehuman_gui.ui.train import training_pane
from horsehuman_gui.ui.train.training_pane import NotTrained, stage_text


def test_the_work_before_the_first_epoch_is_shown(pane):
    pane._on_progress(StageProgress("features", 312, 1027))
    assert "312 of 1,027" in pane.progress_text.text()
    assert (pane.progress.value(), pane.progress.maximum()) == (312, 1027)
    pane._on_progress(StageProgress("backbone", 3 * 2**20, 12 * 2**20))
    assert "Downloading" in pane.progress_text.text() and "3.0 of 12.0 MB" in \
        pane.progress_text.text()
    assert stage_text(StageProgress("backbone", 0, 0), "MobileNetV3").startswith("Getting")


@pytest.mark.slow
def test_a_finished_run_is_evaluated_on_its_validation_part(qtbot, pane, report):
    pane.set_report(report)
    with qtbot.waitSignal(pane.trained, timeout=120_000) as blocker:
        pane.start()
    result = blocker.args[0]
    assert result.evaluation is not None
    assert result.evaluation.n_images == len(report.validation)
    assert "Validation:" in pane.log.toPlainText()


@pytest.mark.slow
def test_a_stopped_run_can_be_resumed_from_its_last_epoch(qtbot, pane, report):
    pane.form.epochs.setValue(40)
    pane.set_report(report)
    stop_after = {"n": 0}

    def stop_after_two(item):
        if type(item).__name__ == "EpochMetrics":
            stop_after["n"] += 1
            if stop_after["n"] == 2:
                pane.stop()

    with qtbot.waitSignal(pane.trained, timeout=120_000) as blocker:
        pane.start()
        pane._task.progress.connect(stop_after_two)
    first = blocker.args[0]
    assert first.stopped and first.evaluation is None  # a stop asks for the model now
    qtbot.waitUntil(lambda: not pane.is_running())
    done = len(first.history)
    assert pane.resume_button.isVisible() and f"epoch {done}" in pane.resume_button.text()

    pane.form.epochs.setValue(done + 1)  # the epochs may change on resume
    with qtbot.waitSignal(pane.trained, timeout=120_000) as blocker:
        pane.resume_button.click()
    resumed = blocker.args[0]
    assert [m.epoch for m in resumed.history] == list(range(1, done + 2))
    assert resumed.history[:done] == first.history  # the earlier epochs, carried over
    qtbot.waitUntil(lambda: not pane.is_running())
    assert not pane.resume_button.isVisible()  # a finished run removes its checkpoint


def test_no_weights_offers_the_offline_backbone(qtbot, pane, monkeypatch):
    pane.form.model.setCurrentIndex(pane.form.model.findData("classic"))
    pane._on_result(NotTrained("Could not download the weights.", "squeezenet"), None)
    box = pane.findChild(QMessageBox, "weightsUnavailableBox")
    assert box is not None and "Could not download" in box.text()
    use = next(b for b in box.buttons() if "SqueezeNet" in b.text())
    use.click()
    qtbot.waitUntil(lambda: pane.form.model.currentData() == "pretrained/squeezenet")
    assert "Could not download" in pane.progress_text.text()


def test_a_stop_before_the_first_epoch_keeps_nothing(qtbot, pane):
    seen = []
    pane.trained.connect(lambda *args: seen.append(args))
    pane._on_result(NotTrained("Stopped before the first epoch: nothing to keep."), None)
    assert not seen and "nothing to keep" in pane.progress_text.text()
    assert pane.findChild(QMessageBox, "weightsUnavailableBox") is None


def test_the_job_checkpoints_every_run_and_turns_missing_weights_into_a_sentence(
        monkeypatch, report):
    from horsehuman_gui.core import training
    from horsehuman_gui.core.config import TrainConfig
    from horsehuman_gui.core.errors import WeightsUnavailable

    calls = []

    def fake_train(report, config, **kwargs):
        calls.append(kwargs)
        raise WeightsUnavailable("No internet: the offline one works.", "squeezenet")

    monkeypatch.setattr(training, "train", fake_train)
    outcome = training_pane._training_job(report, TrainConfig(), resume=True)(
        lambda: False, lambda item: None)
    assert outcome == NotTrained("No internet: the offline one works.", "squeezenet")
    assert calls[0]["resume"] is True and calls[0]["checkpoint_dir"] is not None


@pytest.mark.slow
def test_tensorboard_logs_are_written_when_asked(qtbot, pane, report):
    from horsehuman_gui.ui.train.training_form import tensorboard_available

    if not tensorboard_available():
        pytest.skip("the tensorboard package is not installed")
    pane.form.tensorboard.setChecked(True)
    pane.set_report(report)
    with qtbot.waitSignal(pane.trained, timeout=120_000):
        pane.start()
    line = next(l for l in pane.log.toPlainText().splitlines() if "TensorBoard logs in" in l)
    folder = line.split("TensorBoard logs in ", 1)[1].split(" (view", 1)[0]
    from pathlib import Path

    assert list(Path(folder).rglob("events.out.tfevents.*"))


def test_the_tab_names_the_dataset_not_its_train_folder(pane, split_folders):
    report = scan_dataset(split_folders / "train")
    pane.set_report(report)
    assert f"<b>{split_folders.name}</b>" in pane.dataset_label.text()
