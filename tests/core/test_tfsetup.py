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
