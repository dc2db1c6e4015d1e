"""Training through the Train tab on a tiny set: live plot, progress, Stop, failures."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel, QMessageBox, QTabWidget

from horsehuman_gui.core.dataset import scan_dataset
from horsehuman_gui.ui.train.training_pane import TrainingPane

pytestmark = pytest.mark.slow


def _error_boxes(widget):
    return [w for w in widget.findChildren(QMessageBox) if w.objectName() == "errorBox"]


def test_training_feeds_plot_progress_and_log(qtbot, pane, report):
    pane.set_report(report)
    values = []
    pane.progress.valueChanged.connect(values.append)
    with qtbot.waitSignal(pane.trained, timeout=120_000) as blocker:
        pane.start()
        assert not pane.start_button.isEnabled() and pane.stop_button.isEnabled()
    result, used_report = blocker.args

    assert used_report is report
    assert not result.stopped and len(result.history) == 2
    counts = pane.plot.point_counts()
    assert counts["epoch_loss"] == counts["val_accuracy"] == 2
    assert counts["batch_loss"] >= 2  # at least each epoch's last batch
    assert [v for v in values if v > 0], "the progress bar never advanced"
    assert sorted(v for v in values if v > 0) == [v for v in values if v > 0]
    assert pane.log.toPlainText().count("Epoch ") == 2
    qtbot.waitUntil(lambda: pane.start_button.isEnabled())
    assert not pane.stop_button.isEnabled()


def test_pictures_damaged_after_the_scan_are_named_in_the_log(qtbot, pane, class_folders):
    report = scan_dataset(class_folders, validation_split=0.2, seed=42)  # this test's own
    damaged = report.train[0].path
    damaged.write_bytes(damaged.read_bytes()[:60])  # header kept, pixels gone
    pane.set_report(report)
    with qtbot.waitSignal(pane.trained, timeout=120_000) as blocker:
        pane.start()

    assert [path for path, _ in blocker.args[0].skipped] == [damaged]
    log = pane.log.toPlainText()
    assert "1 picture could not be read during training and was left out:" in log
    assert f"  {damaged.relative_to(report.root)}: " in log


def test_stop_ends_training_after_a_batch(qtbot, pane, report):
    pane.form.epochs.setValue(50)
    pane.set_report(report)
    pane.progress.valueChanged.connect(lambda v: v > 0 and pane.stop())
    with qtbot.waitSignal(pane.trained, timeout=120_000) as blocker:
        pane.start()
    result = blocker.args[0]

    assert result.stopped
    assert len(result.history) < 50
    assert "stopped" in pane.progress.format()


def test_worker_failure_becomes_an_error_box(qtbot, pane, report, monkeypatch):
    from horsehuman_gui.core import training

    def broken_train(*args, **kwargs):
        raise RuntimeError("the GPU caught fire")

    monkeypatch.setattr(training, "train", broken_train)
    pane.set_report(report)
    trained = []
    pane.trained.connect(lambda *args: trained.append(args))
    pane.start()
    qtbot.waitUntil(lambda: len(_error_boxes(pane)) == 1, timeout=30_000)

    box = _error_boxes(pane)[0]
    assert box.text() == "Training failed."
    assert "the GPU caught fire" in box.informativeText()
    assert "RuntimeError" in box.detailedText()
    qtbot.waitUntil(lambda: pane.start_button.isEnabled())
    assert trained == []


def test_cleared_plot_is_painted_before_the_worker_starts(qtbot, pane, report, monkeypatch,
                                                         task_starts):
    """Painting the new run's axes while the worker builds the network stalled the window."""
    from horsehuman_gui.core import training
    from horsehuman_gui.ui.train.training_plot import TrainingPlot

    def broken_train(*args, **kwargs):
        raise RuntimeError("not needed here")

    monkeypatch.setattr(training, "train", broken_train)
    monkeypatch.setattr(TrainingPlot, "paint_now", lambda self: task_starts.append("paint"))
    pane.set_report(report)
    pane.start()
    qtbot.waitUntil(lambda: len(_error_boxes(pane)) == 1, timeout=30_000)
    assert task_starts.index("paint") < task_starts.index("training")


def test_axes_are_drawn_a_step_at_a_time_then_painted_once_before_the_worker(
        qtbot, pane, report, monkeypatch, task_starts):
    """The new run's axes are drawn one per turn of the event loop (~5 ms each, not ~30 ms at
    once), with the view's updates held, then painted once; then the worker starts."""
    from horsehuman_gui.core import training
    from horsehuman_gui.ui.train.training_plot import TrainingPlot

    monkeypatch.setattr(training, "train", lambda *a, **k: (_ for _ in ()).throw(
        RuntimeError("not needed here")))
    draw_axes = TrainingPlot.draw_axes

    def counted(self):
        for step in draw_axes(self):
            task_starts.append(("axis", self.view.updatesEnabled()))
            yield step
    monkeypatch.setattr(TrainingPlot, "draw_axes", counted)
    monkeypatch.setattr(TrainingPlot, "paint_now",
                        lambda self: task_starts.append(("paint", self.view.updatesEnabled())))
    pane.set_report(report)
    pane.show()
    pane.start()
    assert task_starts == [("axis", False)]  # within the click: no axis drawn yet, no paint
    qtbot.waitUntil(lambda: len(_error_boxes(pane)) == 1, timeout=30_000)
    assert task_starts == [("axis", False)] * 4 + [("paint", True), "training"]


def test_stop_before_the_worker_starts_ends_the_run_at_once(qtbot, pane, report):
    pane.form.epochs.setValue(50)
    pane.set_report(report)
    with qtbot.waitSignal(pane.trained, timeout=120_000) as blocker:
        pane.start()
        pane.stop()  # the axes are still being drawn: the worker has not started
    assert blocker.args[0].stopped and len(blocker.args[0].history) == 0
    assert pane.plot.view.updatesEnabled()
    qtbot.waitUntil(lambda: not pane.is_running(), timeout=10_000)


def test_changed_validation_fraction_asks_for_a_rescan(qtbot, pane, report):
    pane.set_report(report)
    pane.form.validation_split.setValue(0.5)
    with qtbot.waitSignal(pane.rescan_needed) as blocker:
        pane.start()
    assert blocker.args == [0.5, 42]
    assert pane.is_training()  # waiting for the rescan
    pane.stop()
    assert not pane.is_training() and pane.start_button.isEnabled()


def test_start_without_a_dataset_says_what_to_do(pane):
    pane.start()
    assert "Open a dataset first" in pane.message.text()
    assert not pane.is_training()


def test_create_plot_makes_it_hidden_and_shown_it_gets_most_of_the_room(qtbot, settings,
                                                                       tf_loader):
    pane = TrainingPane(settings, tf_loader)
    qtbot.addWidget(pane)
    pane.resize(900, 600)
    events = []
    pane.create_plot(then=lambda: events.append("then"))  # the pane is hidden
    assert pane._plot is None and events == []  # built a part per turn of the event loop
    qtbot.waitUntil(lambda: events == ["then"], timeout=5_000)
    assert pane._plot is not None and not pane._plot.isVisible()  # not left to the tab's opening

    pane.show()
    qtbot.waitUntil(lambda: pane._plot.isVisible(), timeout=5_000)
    plot_height, log_height = pane._splitter.sizes()
    assert plot_height > 3 * log_height  # the plot gets most of the room, as when made first
    pane.create_plot(then=lambda: events.append("again"))  # made already: the same plot
    assert events == ["then", "again"] and pane._plot is pane.plot
    pane.shutdown()


def test_a_hidden_tab_gets_its_plot_laid_out_and_its_axes_drawn_ahead(qtbot, settings,
                                                                      tf_loader):
    """In a tab widget the Train tab is hidden while the plot is made: it is laid out at the
    size of the page it will show in, and its axes are drawn, before ``then`` runs."""
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    tabs.addTab(QLabel("first"), "First")
    pane = TrainingPane(settings, tf_loader)
    tabs.addTab(pane, "Train")
    tabs.resize(1000, 700)
    tabs.show()
    qtbot.waitExposed(tabs)
    done = []
    pane.create_plot(then=lambda: done.append(True))
    qtbot.waitUntil(lambda: bool(done), timeout=5_000)
    plot = pane.plot
    assert not pane.isVisible() and pane.size() == tabs.currentWidget().size()
    assert plot.view.width() > 400 and plot.view.height() > 300  # laid out, not 640 x 480
    axes = [p.getAxis(side) for p in (plot.loss_plot, plot.accuracy_plot)
            for side in ("left", "bottom")]
    assert all(axis.picture is not None for axis in axes)  # drawn already
    size = plot.view.size()
    tabs.setCurrentWidget(pane)
    qtbot.waitUntil(plot.isVisible, timeout=5_000)
    assert plot.view.size() == size  # shown at the size it was drawn at
    pane.shutdown()


def test_showing_the_pane_while_its_plot_is_being_made_finishes_it_at_once(qtbot, settings,
                                                                          tf_loader):
    pane = TrainingPane(settings, tf_loader)
    qtbot.addWidget(pane)
    done = []
    pane.create_plot(then=lambda: done.append(True))
    pane.show()  # before any step ran: showEvent builds the rest now
    assert pane._plot is not None and pane._plot.is_built
    qtbot.waitUntil(lambda: bool(done), timeout=5_000)  # ``then`` still runs, once
    qtbot.wait(50)
    assert done == [True]
    pane.shutdown()


def test_a_pane_shown_without_create_plot_makes_its_plot(qtbot, settings, tf_loader):
    pane = TrainingPane(settings, tf_loader)
    qtbot.addWidget(pane)
    pane.show()
    qtbot.waitUntil(lambda: pane._plot is not None and pane._plot.isVisible(), timeout=5_000)
    pane.shutdown()
