"""Loading TensorFlow: quietly, once, and without freezing other threads."""

from __future__ import annotations

import gc

import pytest

from horsehuman_gui.core import tfsetup

pytestmark = pytest.mark.slow


def test_tensorflow_loads_once_and_its_objects_are_left_out_of_garbage_collection():
    keras = tfsetup.load_tensorflow()

    assert tfsetup.load_tensorflow() is keras
    assert gc.isenabled()  # paused during the import only
    assert gc.get_freeze_count() > 100_000  # TensorFlow's and Keras's objects are frozen
    import tensorflow as tf

    assert float(tf.reduce_sum(tf.ones(3))) == 3.0


def test_preloading_twice_is_harmless():
    tfsetup._preload_libraries()
    tfsetup._preload_libraries()


def test_the_eager_context_is_started_during_the_background_import():
    """The first eager tensor holds the GIL ~35 ms while TensorFlow's eager context starts: the
    import does it, so the first training or classification does not stall the window."""
    import subprocess
    import sys

    code = ("from horsehuman_gui.core import tfsetup; tfsetup.load_tensorflow(); "
            "from tensorflow.python.eager import context; "
            "print(getattr(context.context(), '_context_handle', 'unknown') is not None)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "True"
