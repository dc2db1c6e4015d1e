"""Both entry points start, show the window before TensorFlow loads, and quit by themselves;
unexpected exceptions become the error box."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from horsehuman_gui import app as app_module


def _env(tmp_path: Path, **extra) -> dict[str, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "config"),  # QSettings: never the person's own
           "HORSEHUMAN_DATA_DIR": str(tmp_path / "data"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.update(extra)
    return env


def _gui_script() -> str:
    found = shutil.which("horsehuman-gui") or str(Path(sys.executable).parent / "horsehuman-gui")
    assert Path(found).is_file(), "the gui-script is not installed (pip install -e .)"
    return found


def test_module_help_lists_the_options(tmp_path):
    done = subprocess.run([sys.executable, "-m", "horsehuman_gui", "--help"], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for option in ("DATASET_DIR", "--model", "--install-launcher", "--uninstall-launcher", "-v"):
        assert option in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["gui-script", "module"])
def test_window_shows_before_tensorflow_and_quits_by_itself(tmp_path, class_folders, entry):
    command = [_gui_script()] if entry == "gui-script" else [sys.executable, "-m", "horsehuman_gui"]
    env = _env(tmp_path, HORSEHUMAN_GUI_QUIT_AFTER_MS="300", HORSEHUMAN_GUI_REPORT_SHOWN="1")
    done = subprocess.run([*command, str(class_folders)], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    shown = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    assert shown["tensorflow_imported"] is False
    assert "QThread: Destroyed while thread is still running" not in done.stderr
    assert "Traceback" not in done.stderr
    # settings were saved on the normal close path, in the private config folder
    assert list((tmp_path / "config").rglob("*.conf")) or list((tmp_path / "config").rglob("*.ini"))


@pytest.mark.slow
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGHUP"])
def test_a_quit_signal_closes_the_window_the_normal_way(tmp_path, signal_name):
    """A logout or a closed terminal: the window closes as Ctrl+Q does (settings saved, a model
    in training kept, see test_training_guard.py) instead of the process dying on the spot."""
    import signal

    env = _env(tmp_path, HORSEHUMAN_GUI_REPORT_SHOWN="1")
    process = subprocess.Popen([sys.executable, "-m", "horsehuman_gui"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("{")  # the window is on screen
        process.send_signal(getattr(signal, signal_name))
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert list((tmp_path / "config").rglob("*.conf")), "settings were not saved on close"


def test_parse_args_accepts_dataset_and_model():
    args = app_module.parse_args(["/data/set", "--model", "m.keras", "-vv"])
    assert args.dataset == Path("/data/set")
    assert args.model == Path("m.keras")
    assert args.verbose == 2
    with pytest.raises(SystemExit):
        app_module.parse_args(["--install-launcher", "--uninstall-launcher"])


@pytest.fixture
def restore_hooks(monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)


def _error_boxes(parent) -> list[QMessageBox]:
    return [w for w in parent.findChildren(QMessageBox) if w.objectName() == "errorBox"]


def test_uncaught_exception_on_gui_thread_shows_error_box(qtbot, restore_hooks):
    from PySide6.QtWidgets import QWidget

    window = QWidget()
    qtbot.addWidget(window)
    app_module.install_excepthooks(window)
    try:
        raise RuntimeError("kaboom in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    boxes = _error_boxes(window)
    assert len(boxes) == 1
    assert "kaboom in a slot" in boxes[0].detailedText()


def test_uncaught_exception_in_a_thread_shows_error_box(qtbot, restore_hooks):
    from PySide6.QtWidgets import QWidget

    window = QWidget()
    qtbot.addWidget(window)
    app_module.install_excepthooks(window)

    def fail():
        raise ValueError("kaboom in a thread")

    thread = threading.Thread(target=fail)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(_error_boxes(window)) == 1)  # delivered on the GUI thread
    assert "kaboom in a thread" in _error_boxes(window)[0].detailedText()
    assert QApplication.instance() is not None  # still running


def test_the_gui_thread_gets_the_gil_back_quickly(qapp):
    previous = sys.getswitchinterval()
    try:
        assert app_module.create_application() is qapp
        assert sys.getswitchinterval() == pytest.approx(app_module.GUI_SWITCH_INTERVAL)
        assert app_module.GUI_SWITCH_INTERVAL < previous  # shorter than Python's 5 ms
    finally:
        sys.setswitchinterval(previous)


def test_the_tests_never_touch_the_real_home_folder():
    """tests/conftest.py gives the session its own home before Keras is imported (Keras wrote
    ~/.keras/keras.json into the person's home at import)."""
    import pwd

    from keras.src.backend.config import keras_home  # read once, at import

    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir).resolve()
    assert not Path(keras_home()).resolve().is_relative_to(real_home)
    assert not Path.home().resolve().is_relative_to(real_home)
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        assert not Path(os.environ[name]).resolve().is_relative_to(real_home), name
