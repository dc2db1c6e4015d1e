"""The gui-script: ``horsehuman-gui [DATASET_DIR] [--model MODEL_FILE]``.

Start-up order matters: the window shows first, TensorFlow (seconds to import) loads in the
background afterwards. Nothing imported on the way to ``show()`` imports TensorFlow or Keras.

Environment variables for tests and benchmarks:

* ``HORSEHUMAN_GUI_QUIT_AFTER_MS=N``: close the window N ms after it is first painted (runs the
  normal close path: settings saved, workers stopped; a model in training is kept, unasked).
* ``HORSEHUMAN_GUI_REPORT_SHOWN=1``: when first painted, print one JSON line to stdout:
  ``{"shown_at": <time.time()>, "tensorflow_imported": <bool>}`` (true if TensorFlow or Keras
  had been imported by then).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path

from horsehuman_gui import __version__

logger = logging.getLogger(__name__)

QUIT_AFTER_ENV = "HORSEHUMAN_GUI_QUIT_AFTER_MS"
REPORT_SHOWN_ENV = "HORSEHUMAN_GUI_REPORT_SHOWN"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="horsehuman-gui",
        description="Train a neural network to tell kinds of pictures apart, then classify photos.")
    parser.add_argument("dataset", nargs="?", type=Path, metavar="DATASET_DIR",
                        help="open this dataset folder (class sub-folders, or train/ and "
                             "validation/ folders holding them)")
    parser.add_argument("--model", type=Path, metavar="MODEL_FILE",
                        help="open this trained model file (.keras) for classifying")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--install-launcher", action="store_true",
                       help="add the app to this user's applications menu (freedesktop.org "
                            "desktops) and exit")
    group.add_argument("--uninstall-launcher", action="store_true",
                       help="remove what --install-launcher added and exit")
    parser.add_argument("--force", action="store_true",
                        help="with --install-launcher: replace files horsehuman-gui did not write")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more to the terminal (-vv for debug)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def configure_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    if sys.stderr is None:  # a gui-script on Windows has no console
        logging.basicConfig(level=level, handlers=[logging.NullHandler()])
    else:
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    if args.install_launcher or args.uninstall_launcher:
        return _launcher_command(args)
    app = create_application()
    window = create_main_window(app)
    install_quit_signals(window)
    _after_first_paint(window, lambda: _started(window, args))
    window.show()
    return app.exec()


#: Signals that end the app the way closing the window does, keeping a model in training:
#: SIGTERM (a logout, ``kill``) and SIGHUP (the terminal it was started from was closed).
QUIT_SIGNALS = ("SIGTERM", "SIGHUP")


def install_quit_signals(window) -> None:
    """Make QUIT_SIGNALS call ``on_quit_signal(window)`` promptly.

    Python runs a signal handler only when the interpreter next gets control, and Qt's event
    loop in C++ may not give it any for a long time: ``signal.set_wakeup_fd`` writes a byte to a
    socket that a QSocketNotifier watches, and reading it in Python lets the handler run.
    """
    import signal
    import socket

    from PySide6.QtCore import QSocketNotifier

    receiver, sender = socket.socketpair()
    for end in (receiver, sender):
        end.setblocking(False)
    try:
        signal.set_wakeup_fd(sender.fileno())
    except ValueError:  # not the main thread: leave Python's default handling alone
        return
    notifier = QSocketNotifier(receiver.fileno(), QSocketNotifier.Type.Read, window)
    notifier.activated.connect(lambda *_: _drain(receiver))
    for name in QUIT_SIGNALS:
        if hasattr(signal, name):  # SIGHUP does not exist on Windows
            signal.signal(getattr(signal, name), lambda signum, frame: on_quit_signal(window))
    window._quit_signal_wakeup = (receiver, sender, notifier)


def on_quit_signal(window) -> None:
    """Close the window at the next turn of the event loop, keeping a model in training."""
    from PySide6.QtCore import QTimer

    logger.info("asked to quit by a signal: closing (a model in training is kept)")
    QTimer.singleShot(0, window.close_keeping_model)


def _drain(receiver) -> None:
    try:
        while receiver.recv(64):
            pass
    except (BlockingIOError, InterruptedError):
        pass


#: Seconds a thread may hold the GIL while another waits (Python's default is 0.005).
GUI_SWITCH_INTERVAL = 0.0001


def create_application():
    """The QApplication with name, organisation, version and icon (high-DPI is Qt 6's default)."""
    from PySide6.QtWidgets import QApplication

    from horsehuman_gui.ui.common.resources import app_icon
    from horsehuman_gui.ui.common.settings import APPLICATION, ORGANIZATION

    app = QApplication.instance() or QApplication(sys.argv[:1])
    # PySide6 lets go of the GIL around every Qt call, and each time the GUI thread takes it
    # back it may wait a whole switch interval for a busy worker thread to yield: with Python's
    # 5 ms, 2,000 small Qt calls took ~300 ms beside one busy thread instead of 3 ms; at 0.5 ms
    # ~50 ms, at 0.1 ms ~20 ms. Painting the live plot makes many such calls. Against 0.5 ms,
    # 0.1 ms halved the longest stall while the training step is traced (47 -> 23-30 ms, A/B),
    # and training and classifying took no longer.
    sys.setswitchinterval(GUI_SWITCH_INTERVAL)
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName("Horses or Humans")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("horsehuman-gui")
    app.setWindowIcon(app_icon())
    return app


def create_main_window(app):
    """The main window with its settings and TensorFlow loader; error hooks installed."""
    from horsehuman_gui.ui.main_window import MainWindow
    from horsehuman_gui.ui.common.settings import Settings
    from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader

    window = MainWindow(Settings(), TensorFlowLoader())
    install_excepthooks(window)
    return window


def _started(window, args: argparse.Namespace) -> None:
    """Runs once the window is on screen: report, load TensorFlow, open what the command named."""
    if os.environ.get(REPORT_SHOWN_ENV):
        print(json.dumps({"shown_at": time.time(),
                          "tensorflow_imported": bool({"tensorflow", "keras"} & set(sys.modules))}),
              flush=True)
    quit_after = os.environ.get(QUIT_AFTER_ENV)
    if quit_after:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(int(quit_after), window.close_keeping_model)
    window.start_background_loading()
    if args.dataset is not None:
        window.open_dataset(args.dataset)
    if args.model is not None:
        window.open_model(args.model)


def _after_first_paint(window, callback) -> None:
    """Call ``callback`` from the event loop right after the window's first paint."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class _FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint:
                obj.removeEventFilter(self)
                QTimer.singleShot(0, callback)
            return False

    window._first_paint_filter = _FirstPaint(window)
    window.installEventFilter(window._first_paint_filter)


def install_excepthooks(window) -> None:
    """Unexpected exceptions (GUI thread or any other) are logged and shown in the error box
    instead of vanishing or killing the app."""
    from PySide6.QtCore import QObject, Signal

    from horsehuman_gui.ui.common.errors import show_error

    class _Relay(QObject):  # a signal, so errors from other threads are shown on the GUI thread
        error = Signal(str, str)

    relay = _Relay(window)
    relay.error.connect(lambda message, details: show_error(
        window, "Something went wrong inside horsehuman-gui.", details=details,
        hint=f"{message}\nThe app keeps running; if this repeats, please report it with the "
             "details below."))

    def on_exception(kind, value, tb):
        logger.error("unexpected error", exc_info=(kind, value, tb))
        details = "".join(traceback.format_exception(kind, value, tb))
        relay.error.emit(f"{kind.__name__}: {value}", details)

    def on_thread_exception(hook_args):
        if hook_args.exc_type is SystemExit:
            return
        on_exception(hook_args.exc_type, hook_args.exc_value, hook_args.exc_traceback)

    sys.excepthook = on_exception
    threading.excepthook = on_thread_exception
    window._error_relay = relay


def _launcher_command(args: argparse.Namespace) -> int:
    from horsehuman_gui.launcher import LauncherError, install_launcher, uninstall_launcher

    out = sys.stdout or open(os.devnull, "w")
    if sys.platform.startswith(("win", "darwin")):
        exe = shutil.which("horsehuman-gui") or "the horsehuman-gui executable"
        out.write("--install-launcher is for Linux and other freedesktop.org desktops. Here, "
                  f"start the app by double-clicking {exe} (a shortcut to it can go on the "
                  "desktop).\n")
        return 1
    try:
        if args.install_launcher:
            files = install_launcher(force=args.force)
            out.write("Installed the launcher:\n" + "".join(f"  {p}\n" for p in files.all()))
        else:
            removed = uninstall_launcher()
            out.write("Removed:\n" + "".join(f"  {p}\n" for p in removed) if removed
                      else "Nothing to remove: the launcher is not installed.\n")
    except LauncherError as exc:
        (sys.stderr or out).write(f"horsehuman-gui: {exc}\n")
        return 1
    return 0
