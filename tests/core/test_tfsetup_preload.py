"""What keeps TensorFlow's background import from freezing the GUI thread, and its fallbacks.

Each mechanism is checked in a fresh interpreter (this one may have imported TensorFlow
already): the C++ libraries load before TensorFlow's import, and ml_dtypes's ufunc registration
lets another thread run Python while it goes on. No timings: what is asserted would fail if the
mechanism broke, on any machine.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from importlib.metadata import version

import pytest

from horsehuman_gui.core import tfsetup

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/maps")]


def _run(*code: str) -> tuple[dict, str]:
    """Run ``code`` in a fresh interpreter; return the JSON it printed last, and its stderr."""
    script = "\n".join(textwrap.dedent(part) for part in code)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


_SLOT = """
    import ctypes
    from numpy._core import _multiarray_umath as umath

    def slot_value():
        get = ctypes.PyDLL(None).PyCapsule_GetPointer
        get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        table = get(umath._UFUNC_API, None)
        return ctypes.c_void_p.from_address(table + 44 * ctypes.sizeof(ctypes.c_void_p)).value
"""


def test_tensorflow_libraries_are_loaded_before_tensorflow_is_imported():
    found, _ = _run("""
        import sys
        from horsehuman_gui.core import tfsetup

        tfsetup._preload_libraries()
        maps = open("/proc/self/maps").read()
        print(__import__("json").dumps({"cc": "libtensorflow_cc" in maps,
                                        "framework": "libtensorflow_framework" in maps,
                                        "tensorflow_imported": "tensorflow" in sys.modules}))
    """)

    assert found == {"cc": True, "framework": True, "tensorflow_imported": False}


def test_ml_dtypes_registration_lets_another_thread_run_and_the_slot_is_put_back():
    if tuple(int(part) for part in version("ml_dtypes").split(".")[:2]) < (0, 7):
        pytest.skip("ml_dtypes before 0.7 registers no ufunc promoters: nothing to hand over")
    found, _ = _run(_SLOT, """
        import json, threading, time
        from horsehuman_gui.core import tfsetup

        before = slot_value()
        worker = threading.Thread(target=tfsetup.load_tensorflow)  # the GUI's loader thread
        worker.start()
        seen = set()
        while worker.is_alive():  # this thread runs only when the importing one lets it
            seen.add(tfsetup._promoters_routed)
            time.sleep(0.0005)
        worker.join()
        routed = tfsetup._promoters_routed
        print(json.dumps({"routed": routed, "midway": [n for n in seen if 0 < n < routed],
                          "restored": slot_value() == before}))
    """)

    assert found["routed"] > 0, "ml_dtypes's promoters were not registered through Python"
    assert found["midway"], "the main thread never ran while ml_dtypes registered its promoters"
    assert found["restored"]


def test_ml_dtypes_imports_plainly_and_silently_when_numpy_looks_unexpected():
    found, stderr = _run(_SLOT, """
        import json, logging, sys
        from horsehuman_gui.core import tfsetup

        records = []
        handler = logging.Handler()
        handler.emit = lambda record: records.append(record.getMessage())
        tfsetup.logger.addHandler(handler)
        tfsetup.logger.setLevel(logging.DEBUG)
        tfsetup.logger.propagate = False
        tfsetup._mappings_of = lambda path: ([], [])  # as if numpy's table were elsewhere
        before = slot_value()
        tfsetup._import_ml_dtypes()
        import ml_dtypes, numpy

        print(json.dumps({"imported": "ml_dtypes" in sys.modules, "records": records,
                          "routed": tfsetup._promoters_routed, "untouched": slot_value() == before,
                          "works": float(numpy.float32(ml_dtypes.bfloat16(1.5)))}))
    """)

    assert found["imported"] and found["untouched"] and found["routed"] == 0
    assert found["works"] == 1.5
    assert any("without handing over the GIL" in message for message in found["records"])
    assert stderr == ""


def test_an_imported_ml_dtypes_is_left_alone():
    import ml_dtypes  # noqa: F401

    routed = tfsetup._promoters_routed
    tfsetup._import_ml_dtypes()

    assert tfsetup._promoters_routed == routed


def test_preloading_without_tensorflow_found_is_silent(monkeypatch, caplog):
    monkeypatch.setattr(tfsetup.importlib.util, "find_spec", lambda name: None)
    caplog.set_level(logging.DEBUG, logger=tfsetup.logger.name)

    tfsetup._preload_libraries()

    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "not preloaded" in caplog.records[0].getMessage()
