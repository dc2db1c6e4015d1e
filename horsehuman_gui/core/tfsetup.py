"""Import TensorFlow and Keras once, quietly.

TensorFlow costs seconds to import, so nothing on the path to showing the window imports it: the
GUI calls :func:`load_tensorflow` in a background thread after the window shows, the CLI calls it
before ``train``/``predict``. Environment variables that TensorFlow reads only at import time are
set here, before that import.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

from horsehuman_gui.core.gc_pause import gc_paused

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_keras = None

# TensorFlow >= 2.17 logs through absl before absl logging is initialised, and those lines ignore
# TF_CPP_MIN_LOG_LEVEL: "WARNING: All log messages before absl::InitializeLog()...", info lines
# (oneDNN, "Could not find cuda drivers") and a cuInit error on machines without a GPU.
_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog"
    r"|[IW]\d{4} \d"
    r"|E\d{4} .*(cuInit|cuda|CUDA))"
)


def load_tensorflow():
    """Import TensorFlow and Keras (idempotent, thread-safe) and return the ``keras`` module.

    Unless the caller set them: ``TF_CPP_MIN_LOG_LEVEL=2`` (hides TensorFlow's C++ info and
    warning lines) and ``TF_ENABLE_ONEDNN_OPTS=1``. Filters the start-up lines TensorFlow
    prints regardless of the log level and lowers TensorFlow's Python and absl logging to
    errors, so a terminal shows our lines only.
    """
    global _keras
    with _lock:  # two threads asking at once must not import twice in parallel
        if _keras is None:
            # Filter only when info lines are meant to be hidden (a caller may ask for "0").
            quiet = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2").strip() not in ("", "0")
            # oneDNN's convolutions train the classic model ~4x faster than TensorFlow's own
            # (measured: ~85 vs ~23 images/s on 2 cores). On by default on Linux x86 only.
            os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
            # Importing TensorFlow and Keras makes about a million long-lived objects. A full
            # collection walks them all holding the GIL: hundreds of milliseconds in which no
            # other thread (the GUI's among them) runs Python, and again at every later full
            # collection. None during the import, and frozen afterwards (never walked again).
            with _filtered_stderr() if quiet else contextlib.nullcontext(), \
                    gc_paused(freeze=True):
                _preload_libraries()
                _keras = _import()
    return _keras


def _import():
    import numpy as np
    import tensorflow as tf
    import keras

    tf.config.list_physical_devices()  # device start-up logs now, inside the filtered window
    # The process's first operation starts TensorFlow's function runtime. Done by an eager
    # constant, that held the GIL 24-38 ms (the window froze then); a compiled function's call
    # does it with the GIL released. The constants the jobs make first (a float, a uint8 batch:
    # ~8 ms each, GIL held) come next, here rather than when the first training or
    # classification starts beside that job's own work.
    tf.function(lambda: tf.constant(0.0), autograph=False)()
    tf.constant(0.0)
    tf.constant(np.zeros((1, 1, 1, 3), np.uint8))
    tf.get_logger().setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # absl ships with TensorFlow, but its logging hook is optional
        pass
    logger.debug("TensorFlow %s, Keras %s loaded", tf.__version__, keras.__version__)
    return keras


def _preload_libraries() -> None:
    """Load TensorFlow's two big C++ libraries without holding the GIL.

    Python imports an extension module with the GIL held, and the module's first import loads
    ``libtensorflow_cc`` (1 GB) and ``libtensorflow_framework``, running their static
    initialisers: ~0.3 s in which no other thread runs Python (the GUI froze for that long while
    TensorFlow loaded in the background). ``dlopen`` called through ctypes runs with the GIL
    released; the import then finds both libraries loaded. Pure C++ libraries only (they never
    call into Python). Anything unexpected: skipped, the import loads them as usual.
    """
    if os.name != "posix":
        return
    try:
        spec = importlib.util.find_spec("tensorflow")  # finds the folder, runs nothing
        folder = Path(next(iter(spec.submodule_search_locations)))
        dlopen = ctypes.CDLL(None).dlopen
        dlopen.restype, dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
        for pattern in ("libtensorflow_framework*", "libtensorflow_cc*"):
            for library in sorted(folder.glob(pattern)):
                if not dlopen(os.fsencode(library), os.RTLD_NOW | os.RTLD_LOCAL):
                    logger.debug("could not preload %s", library)
    except Exception as exc:  # noqa: BLE001 - an optimisation only
        logger.debug("TensorFlow libraries not preloaded: %r", exc)


@contextlib.contextmanager
def _filtered_stderr():
    """Send file descriptor 2 to a temporary file, then replay every line that is not noise.

    The C++ side writes to the descriptor directly, so redirecting ``sys.stderr`` would not do.
    Anything else written meanwhile (another thread's traceback) is replayed, only delayed.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no usable stderr (pythonw): nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode("utf-8", "replace").splitlines(True)
                    if not _NOISE.match(line)]
            if kept:
                with contextlib.suppress(AttributeError, OSError, ValueError):
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()
