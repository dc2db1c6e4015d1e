"""The main window: panes composed, menus, drops, saved state, model files, clean close."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QKeySequence
from PySide6.QtWidgets import QMessageBox, QToolBar

from horsehuman_gui import __version__
from horsehuman_gui.ui.main_window import CLASSIFY_TAB, DATASET_TAB, TRAIN_TAB, MainWindow
from horsehuman_gui.ui.classify.prediction_pane import PredictionPane
from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader
from horsehuman_gui.ui.train.training_pane import TrainingPane

TINY = {"training/model": "compact", "training/image_size": 32, "training/epochs": 2,
        "training/batch_size": 4}


@pytest.fixture
def make_window(qtbot, settings):
    windows = []

    def make(loader=None):
        window = MainWindow(settings, loader or TensorFlowLoader())
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


def _boxes(widget, name):
    return [w for w in widget.findChildren(QMessageBox) if w.objectName() == name]


def _open(qtbot, window, root):
    with qtbot.waitSignal(window.dataset_pane.report_changed, timeout=30_000):
        window.open_dataset(root)


def test_opening_a_dataset_shows_its_classes(qtbot, make_window, class_folders):
    window = make_window()
    _open(qtbot, window, class_folders)
    assert window.tabs.currentIndex() == DATASET_TAB
    assert [row[0] for row in window.dataset_pane.chart.rows()] == ["blue", "red"]
    assert "blue, red" in window.training_pane.dataset_label.text()
    assert "colours" in window.windowTitle()
    assert "2 classes" in window.statusBar().currentMessage()


def test_tabs_and_menu_shortcuts(make_window):
    window = make_window()
    assert [window.tabs.tabText(i) for i in range(3)] == ["Dataset", "Train", "Classify"]
    assert window.tabs.widget(CLASSIFY_TAB) is window.prediction_pane
    shortcuts = {a.text(): a.shortcut() for a in window.menuBar().actions()[0].menu().actions()}
    assert shortcuts["Open &dataset…"] == QKeySequence("Ctrl+O")
    assert shortcuts["Open &model…"] == QKeySequence("Ctrl+Shift+O")
    assert shortcuts["&Save model as…"] == QKeySequence("Ctrl+S")
    assert shortcuts["&Quit"] == QKeySequence("Ctrl+Q")
    assert window.prediction_pane.export_csv_action.text() in shortcuts
    assert window.prediction_pane.copy_action.text() in shortcuts
    assert not window.save_model_action.isEnabled()  # no model yet
    toolbar = window.findChild(QToolBar, "mainToolbar")
    assert all(action.toolTip() for action in toolbar.actions() if action.text())


def test_keys_start_and_stop_training_classify_and_open_help(qtbot, make_window, monkeypatch):
    calls = []
    monkeypatch.setattr(TrainingPane, "start", lambda self: calls.append("train"))
    monkeypatch.setattr(TrainingPane, "stop", lambda self: calls.append("stop"))
    monkeypatch.setattr(PredictionPane, "classify", lambda self: calls.append("classify"))
    window = make_window()
    with qtbot.waitActive(window):  # window shortcuts work in the active window only
        window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert calls == ["train"] and window.tabs.currentIndex() == TRAIN_TAB
    window._training_running(True)  # as while a run is under way
    qtbot.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert calls == ["train", "stop", "classify"] and window.tabs.currentIndex() == CLASSIFY_TAB
    qtbot.keyClick(window, Qt.Key.Key_F1)
    box = _boxes(window, "gettingStartedBox")[0]
    assert "Dataset" in box.text() and "Classify" in box.text()
    assert os.environ["HORSEHUMAN_DATA_DIR"] in box.text()  # where models are saved
    assert window.settings.location() in box.text()


def test_every_toolbar_action_has_an_icon_without_an_icon_theme(make_window):
    from PySide6.QtGui import QIcon

    theme, paths = QIcon.themeName(), QIcon.themeSearchPaths()
    QIcon.setThemeName("")  # a minimal desktop: no icon theme at all
    QIcon.setThemeSearchPaths([])
    try:
        window = make_window()
        toolbar = window.findChild(QToolBar, "mainToolbar")
        actions = [a for a in toolbar.actions() if not a.isSeparator()]
        assert len(actions) >= 7
        for action in actions:
            pixmap = action.icon().pixmap(24, 24)
            assert not pixmap.isNull(), action.text()
            assert len({pixmap.toImage().pixel(x, 12) for x in range(24)}) > 2, action.text()
    finally:
        QIcon.setThemeSearchPaths(paths)
        QIcon.setThemeName(theme)


def test_the_smallest_window_still_shows_every_control_whole(qtbot, make_window, class_folders):
    from PySide6.QtWidgets import QComboBox, QLabel, QScrollArea

    from horsehuman_gui.ui.main_window import MIN_HEIGHT, MIN_WIDTH
    from horsehuman_gui.ui.train.training_pane import PLOT_MIN_HEIGHT, PLOT_MIN_WIDTH

    window = make_window()
    window.prediction_pane.controls.set_classes(("horses", "humans"), binary=True)
    _open(qtbot, window, class_folders)
    window.resize(300, 200)  # it accepted 300x200
    assert (window.width(), window.height()) == (MIN_WIDTH, MIN_HEIGHT)

    window.tabs.setCurrentIndex(CLASSIFY_TAB)
    pane = window.prediction_pane
    qtbot.waitUntil(lambda: pane.tree.width() >= 150)  # it shrank to ~60 px
    assert pane.view.width() >= 2 * 150  # two thumbnails a row at least
    qtbot.waitUntil(lambda: pane.controls.height() >= pane.controls.sizeHint().height())
    for kind in (QComboBox, QLabel):
        for widget in pane.controls.findChildren(kind):
            if widget.isVisible():  # no label or combo box cut short
                assert widget.width() >= widget.sizeHint().width(), widget.objectName()

    window.tabs.setCurrentIndex(TRAIN_TAB)
    train = window.training_pane
    train._progress_says("Epoch 12/15 · batch 10/11 · 1 min 02 s left — stopping after this "
                         "batch…")
    qtbot.waitUntil(lambda: train._plot_holder.height() >= PLOT_MIN_HEIGHT)
    text = train.progress_text
    assert text.heightForWidth(text.width()) <= text.height()  # wrapped, never cut off
    plot = train.plot
    qtbot.waitUntil(lambda: plot.width() >= PLOT_MIN_WIDTH)
    qtbot.wait(20)
    for each in (plot.loss_plot, plot.accuracy_plot):
        assert not plot.legend.sceneBoundingRect().intersects(each.getViewBox().sceneBoundingRect())

    window.tabs.setCurrentIndex(DATASET_TAB)
    data = window.dataset_pane
    qtbot.waitUntil(lambda: data.chart.width() >= data.chart.minimumSizeHint().width())
    scroll = data.findChild(QScrollArea)
    assert scroll.horizontalScrollBar().maximum() == 0  # nothing hidden off to the right


def test_about_names_dataset_author_licence_and_version(make_window):
    window = make_window()
    window.about_action.trigger()
    box = _boxes(window, "aboutBox")[0]
    for text in ("Laurence Moroney", "CC BY 2.0", __version__, "Horses or Humans"):
        assert text in box.text()


def test_dropping_a_folder_opens_it_as_dataset(qtbot, make_window, class_folders):
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(class_folders))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.dataset_pane.report_changed, timeout=30_000) as blocker:
        window.dropEvent(event)
    assert event.isAccepted()
    assert blocker.args[0].root == class_folders


def test_recent_datasets_menu_lists_opened_folders(qtbot, make_window, class_folders):
    window = make_window()
    _open(qtbot, window, class_folders)
    window.recent_datasets_menu.aboutToShow.emit()
    assert [a.text() for a in window.recent_datasets_menu.actions()] == [str(class_folders)]


def test_geometry_and_tab_are_restored(qtbot, make_window):
    first = make_window()
    # the offscreen screen is 800x600 and restoring keeps a window on its screen: stay inside
    first.resize(first.minimumSizeHint().width(), 560)
    first.tabs.setCurrentIndex(TRAIN_TAB)
    first.close()
    second = make_window()
    assert second.height() == 560  # the default is 800, or the screen height
    assert second.tabs.currentIndex() == TRAIN_TAB


def test_unusable_dataset_shows_an_error_and_the_window_stays_usable(qtbot, make_window, tmp_path):
    window = make_window()
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(window.dataset_pane.scan_failed, timeout=30_000):
        window.open_dataset(tmp_path / "empty")
    assert len(_boxes(window, "errorBox")) == 1
    assert window.isVisible() and window.open_dataset_action.isEnabled()


# --- training, model files, closing (need TensorFlow) ------------------------------------

@pytest.fixture
def tiny_settings(settings):
    for key, value in TINY.items():
        settings.set(key, value)
    return settings


@pytest.mark.slow
def test_training_autosaves_and_hands_the_model_to_the_classify_tab(
        qtbot, make_window, tiny_settings, tf_loader, class_folders, monkeypatch):
    window = make_window(tf_loader)
    handed = []
    monkeypatch.setattr(window.prediction_pane, "set_bundle", handed.append)
    _open(qtbot, window, class_folders)
    with qtbot.waitSignal(window.models.saved, timeout=120_000) as blocker:
        window.train_action.trigger()
    saved = blocker.args[0]

    models = Path(os.environ["HORSEHUMAN_DATA_DIR"]) / "models"
    assert saved.parent == models and saved.is_file()
    assert handed and handed[-1].class_names == ("blue", "red")
    assert window.save_model_action.isEnabled()
    assert str(saved) in window.statusBar().currentMessage()
    assert tiny_settings.get("recent/models")[0] == str(saved)


@pytest.mark.slow
def test_save_as_and_open_model_round_trip(qtbot, make_window, tf_loader, trained_bundle, tmp_path):
    window = make_window(tf_loader)
    window.models._set_bundle(trained_bundle)
    target = tmp_path / "mine.keras"
    with qtbot.waitSignal(window.models.saved, timeout=60_000):
        window.models.save_as(target)
    assert target.is_file()

    other = make_window(tf_loader)
    with qtbot.waitSignal(other.models.bundle_changed, timeout=60_000) as blocker:
        other.open_model(target)
    assert blocker.args[0].class_names == ("blue", "red")
    assert other.save_model_action.isEnabled()
    assert other.tabs.currentIndex() == CLASSIFY_TAB


@pytest.mark.slow
def test_opening_a_bad_model_file_shows_an_error(qtbot, make_window, tf_loader, tmp_path):
    window = make_window(tf_loader)
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a model")
    window.open_model(bad)
    qtbot.waitUntil(lambda: len(_boxes(window, "errorBox")) == 1, timeout=60_000)
    assert "bad.keras" in _boxes(window, "errorBox")[0].text()
    assert window.models.bundle is None


@pytest.mark.slow
def test_closing_mid_training_leaves_no_thread_running(
        qtbot, make_window, tiny_settings, tf_loader, class_folders, monkeypatch):
    from horsehuman_gui.ui.common import questions

    monkeypatch.setattr(questions, "ask_close_during_training", lambda parent: questions.DISCARD)
    tiny_settings.set("training/epochs", 500)
    window = make_window(tf_loader)
    _open(qtbot, window, class_folders)
    window.training_pane.start()
    qtbot.waitUntil(lambda: window.training_pane.progress.value() > 0, timeout=60_000)
    task = window.training_pane._task
    window.close()
    assert task is not None and not task._thread.isRunning()
    assert not window.isVisible()


def test_plot_and_chart_follow_a_dark_palette(qtbot, make_window):
    from PySide6.QtGui import QColor, QPalette

    window = make_window()
    plot = window.training_pane.plot
    dark = QPalette()
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e6e6e6"))
    window.setPalette(dark)  # propagates to children: PaletteChange -> apply_palette
    assert plot.view.backgroundBrush().color() == QColor("#1e1e1e")
    assert plot.loss_plot.getAxis("left").textPen().color() == QColor("#e6e6e6")


def test_tensorflow_starts_loading_once_the_plot_is_made(qtbot, make_window, monkeypatch,
                                                        task_starts):
    """An extension-module import waits, holding the GIL, while TensorFlow's library loads;
    and nothing starts in the background before TensorFlow (no Qt type may be made there)."""
    plots = []
    monkeypatch.setattr(TensorFlowLoader, "start",
                        lambda self: plots.append(window.training_pane._plot))
    window = make_window()
    frozen = gc.get_freeze_count()
    window.start_background_loading()
    assert gc.get_freeze_count() > frozen  # start-up's objects: out of garbage collection
    assert plots == []  # the plot is made a part per turn of the event loop first
    qtbot.waitUntil(lambda: len(plots) == 1, timeout=5_000)
    assert plots[0] is not None and plots[0].is_built
    assert task_starts == []


def test_pyqtgraph_is_imported_with_the_window_on_the_gui_thread():
    """pyqtgraph makes hundreds of Qt wrapper types when imported; made in a background thread
    they crashed the app at start about 1 time in 13 (PySide6 registers them in a table the
    GUI thread reads without the GIL)."""
    code = ("import sys, threading; import horsehuman_gui.ui.main_window; "
            "print('pyqtgraph' in sys.modules, threading.active_count())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "1"]  # imported by the main thread, no other
