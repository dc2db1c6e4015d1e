"""Fixtures for the pytest-qt tests: private settings, no leaked threads, a small trained model.

Qt runs offscreen (tests/conftest.py sets QT_QPA_PLATFORM before any Qt import).
"""

from __future__ import annotations

import time
import weakref

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from horsehuman_gui.ui.common.settings import Settings
from horsehuman_gui.ui.common.workers import Task

#: How long a finished task may take to let its thread end (its quit() is a queued call that the
#: GUI event loop must deliver) before the test counts as having leaked it.
THREAD_GRACE_S = 1.0

_started_tasks: "weakref.WeakSet[Task]" = weakref.WeakSet()
_original_start = Task.start


def _tracking_start(self: Task) -> Task:
    _started_tasks.add(self)
    return _original_start(self)


Task.start = _tracking_start  # every Task started during the session is watched


@pytest.fixture(autouse=True)
def _private_qsettings(tmp_path_factory):
    """QSettings (any format, any scope) lives in a fresh temporary folder for each test."""
    folder = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(folder))
    yield folder


@pytest.fixture
def settings(tmp_path) -> Settings:
    """A Settings object over an ini file in this test's tmp_path."""
    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def _running_tasks() -> list[Task]:
    running = []
    for task in list(_started_tasks):
        try:
            if task._thread.isRunning():
                running.append(task)
        except RuntimeError:  # the C++ side is gone, so is its thread
            continue
    return running


@pytest.fixture(autouse=True)
def _no_thread_left_running(qapp):
    """Fail a test that leaves a Task's QThread running (or the global thread pool busy)."""
    yield
    deadline = time.monotonic() + THREAD_GRACE_S
    while (_running_tasks() or _pool_busy()) and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.01)
    leaked = _running_tasks()
    pool_busy = _pool_busy()
    for task in leaked:  # don't poison the next test
        task.stop_and_wait(60_000)
    if pool_busy:
        from PySide6.QtCore import QThreadPool

        QThreadPool.globalInstance().waitForDone(60_000)
    assert not leaked, f"test left QThreads running: {[t.name for t in leaked]}"
    assert not pool_busy, "test left QThreadPool.globalInstance() busy"


def _pool_busy() -> bool:
    from PySide6.QtCore import QThreadPool

    return QThreadPool.globalInstance().activeThreadCount() > 0


@pytest.fixture
def timeline() -> list[str]:
    """What happened, in order: the fixtures below and the test itself append to it."""
    return []


@pytest.fixture
def task_starts(timeline, monkeypatch) -> list[str]:
    """Each Task started during the test puts its name on the timeline."""
    start = Task.start
    monkeypatch.setattr(Task, "start", lambda self: (timeline.append(self.name), start(self))[1])
    return timeline


@pytest.fixture
def tf_loader(qtbot):
    """A TensorFlowLoader that has finished importing TensorFlow (instant after the first test)."""
    from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader

    loader = TensorFlowLoader()
    with qtbot.waitSignal(loader.ready, timeout=120_000):
        loader.start()
    yield loader
    loader.shutdown()


#: The same colours as tests/conftest.py's class folders (conftest modules can't import each other).
COLOURS = {"blue": (20, 40, 220), "red": (220, 30, 30)}


def _colour_batch(n_per_class: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(("blue", "red")):
        for _ in range(n_per_class):
            noise = rng.integers(-25, 26, size=(size, size, 3))
            images.append(np.clip(np.array(COLOURS[name]) + noise, 0, 255))
            labels.append(label)
    return np.stack(images).astype("float32"), np.array(labels, dtype="float32")


@pytest.fixture(scope="session")
def trained_bundle():
    """A ModelBundle: the "compact" model at 32 px trained in memory to tell blue from red
    (the colours of tests/conftest.py's ``class_folders``). Class names ("blue", "red")."""
    from horsehuman_gui import __version__
    from horsehuman_gui.core.bundle import ModelBundle
    from horsehuman_gui.core.models import build_model

    import keras

    keras.utils.set_random_seed(0)
    model = build_model("compact", 32, 2, learning_rate=0.01)
    x, y = _colour_batch(24, 32)
    for _ in range(30):  # a few quick epochs; stop as soon as it separates the colours
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        if model.evaluate(x, y, verbose=0)[1] == 1.0:
            break
    return ModelBundle(model=model, class_names=("blue", "red"), image_size=32,
                       app_version=__version__)
