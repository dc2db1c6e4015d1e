"""What keeps TensorFlow's background import from freezing the GUI thread, and its fallbacks.

The C++ libraries load, with the GIL released, before TensorFlow's import (checked in a fresh
interpreter: this one may have imported TensorFlow already), and the installed ml_dtypes is not
the one that holds the GIL for half a second while it imports. No timings: what is asserted
would fail if the mechanism broke, on any machine.
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


def test_the_installed_ml_dtypes_is_one_that_imports_without_freezing_the_gui():
    """ml_dtypes 0.7 registers ~38,000 ufunc promoters in one GIL-holding call when TensorFlow
    imports it (a 0.5-0.7 s freeze of the window); pyproject.toml keeps it below 0.7."""
    major, minor = (int(part) for part in version("ml_dtypes").split(".")[:2])

    assert (0, 5) <= (major, minor) < (0, 7)


def test_preloading_without_tensorflow_found_is_silent(monkeypatch, caplog):
    monkeypatch.setattr(tfsetup.importlib.util, "find_spec", lambda name: None)
    caplog.set_level(logging.DEBUG, logger=tfsetup.logger.name)

    tfsetup._preload_libraries()

    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "not preloaded" in caplog.records[0].getMessage()
