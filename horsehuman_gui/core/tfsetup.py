"""Import TensorFlow and Keras once, quietly.

TensorFlow costs seconds to import, so nothing on the path to showing the window imports it: the
GUI calls :func:`load_tensorflow` in a background thread after the window shows, the CLI calls it
before ``train``/``predict``. Environment variables that TensorFlow reads only at import time are
set here, before that import.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_keras = None

# numpy's C-API slot numbers never change (numpy/_core/code_generators/numpy_api.py); this one
# exists from numpy 2.0 on.
_ADD_PROMOTER_SLOT = 44
_ADD_PROMOTER = (ctypes.c_int, ctypes.py_object, ctypes.py_object, ctypes.py_object)
_callbacks: list = []  # ctypes callbacks numpy was handed: they must outlive any caller
_promoters_routed = 0  # registrations that went through Python (read by the tests)

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
            with _filtered_stderr() if quiet else contextlib.nullcontext(), _gc_paused():
                _preload_libraries()
                _keras = _import()
    return _keras


def _import():
    _import_ml_dtypes()
    import tensorflow as tf
    import keras

    tf.config.list_physical_devices()  # device start-up logs now, inside the filtered window
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


def _import_ml_dtypes() -> None:
    """Import ml_dtypes (TensorFlow's first big import) letting other threads run meanwhile.

    ml_dtypes 0.7's extension registers ~38,000 ufunc promoters when it is imported, all in one C
    call that holds the GIL (numpy scans the ufunc's growing list of loops for each of them): the
    GUI froze ~0.5 s on 2 cores while TensorFlow loaded in the background (ml_dtypes 0.5 and 0.6
    register none and import in 10 ms). So that call reaches numpy's ``PyUFunc_AddPromoter``
    through a Python function meanwhile: each call runs a few bytecodes, where the interpreter
    hands the GIL to a thread that has waited for it longer than the switch interval (5 ms).
    Costs this thread ~0.1 s. Anything unexpected (numpy 1, no /proc): a plain import.
    """
    if "ml_dtypes" in sys.modules or importlib.util.find_spec("ml_dtypes") is None:
        return  # imported already, or missing (then TensorFlow's import says so)
    failures: list[BaseException] = []
    try:
        restore = _route_add_promoter_through_python(failures)
    except Exception as exc:  # noqa: BLE001 - an optimisation only
        logger.debug("ml_dtypes imported without handing over the GIL: %r", exc)
        restore = None
    try:
        import ml_dtypes  # noqa: F401
    except Exception as exc:
        if failures:  # the callback could not pass numpy's error on: raise it here
            raise failures[0] from exc
        raise
    finally:
        if restore is not None:
            restore()


def _route_add_promoter_through_python(failures: list) -> Callable[[], None]:
    """Point numpy's C-API slot for ``PyUFunc_AddPromoter`` at a Python callback that calls the
    original; return what puts the original back. Extensions read the table when they import,
    and the callback does what the original does, so any caller meanwhile is served alike."""
    import numpy
    from numpy._core import _multiarray_umath as umath  # numpy >= 2 only, as the slot

    if int(numpy.__version__.split(".")[0]) < 2:
        raise LookupError(f"numpy {numpy.__version__} has no PyUFunc_AddPromoter slot")
    get_pointer = ctypes.PyDLL(None).PyCapsule_GetPointer  # own copy: argtypes stay local
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    table = get_pointer(umath._UFUNC_API, None)
    address = table + _ADD_PROMOTER_SLOT * ctypes.sizeof(ctypes.c_void_p)
    slot = ctypes.c_void_p.from_address(address)
    original = slot.value
    code, data = _mappings_of(umath.__file__)
    if not any(lo <= original < hi for lo, hi in code):
        raise LookupError("numpy's ufunc API slot does not point into its own code")
    if not any(lo <= address < hi for lo, hi in data):
        raise LookupError("numpy's ufunc API table is not writable")
    call_original = ctypes.PYFUNCTYPE(*_ADD_PROMOTER)(original)  # keeps the GIL

    def add_promoter(ufunc, dtypes, promoter):
        global _promoters_routed
        _promoters_routed += 1
        try:
            return call_original(ufunc, dtypes, promoter)
        except Exception as exc:  # noqa: BLE001 - a ctypes callback must not raise
            failures.append(exc)
            return -1

    callback = ctypes.CFUNCTYPE(*_ADD_PROMOTER)(add_promoter)
    _callbacks.append(callback)
    slot.value = ctypes.cast(callback, ctypes.c_void_p).value

    def restore() -> None:
        slot.value = original
        logger.debug("%d ufunc promoters registered through Python", _promoters_routed)

    return restore


def _mappings_of(path: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(executable, writable) address ranges of ``path`` in this process, from /proc/self/maps."""
    real = os.path.realpath(path)
    code, data = [], []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) < 6 or fields[5] != real:  # the kernel shows resolved paths
                continue
            lo, hi = (int(part, 16) for part in fields[0].split("-"))
            if "x" in fields[1]:
                code.append((lo, hi))
            if "w" in fields[1]:
                data.append((lo, hi))
    return code, data


@contextlib.contextmanager
def _gc_paused():
    """No garbage collection during the import; afterwards its objects are frozen (never
    scanned again).

    Importing TensorFlow and Keras creates about a million long-lived objects. Each full
    collection walks all of them while holding the GIL: hundreds of milliseconds during which
    no other thread (the GUI's among them) runs Python, and again whenever a full collection
    happens later on (while a model is built or traced, or saved).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


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
