"""Memory that would stay taken after training: what TensorFlow keeps for the life of the process.

Every trace of a function that uses ``tf.custom_gradient`` in graph mode registers its backward
function in TensorFlow's global gradient registry under a new name, and never removes it
(tensorflow/tensorflow#27492, #97697). Keras's optimizer does so in every trace of the training
step (``ReplicaContext.all_reduce`` of the gradients), and so does the sliced step of
``core.microbatch``. The registered closure holds the traced graph, and the graph's captures
hold the buffers of every weight and optimizer slot of the model trained: ~320 MB per run for
the classic model at 300 px, kept after its model was dropped. Measured in one GUI session, 5
train + classify cycles (bench/gui_responsiveness.py): 2031 -> 3290 MB resident before, 1778 ->
2154 MB with this and ``trim_heap``. The step from the first cycle to the second was the
previous model, still loaded while the next one trained, raising the high-water mark of
TensorFlow's pool, which is never returned: the GUI now sets that model aside while training
(``core.bundle.set_aside``) and the jobs free replaced models first (``collect_dropped_models``).

``forget_custom_gradients()`` around ``model.fit`` removes the names registered inside it. Only
the trace that registered a name looks it up, and those traces are over when ``fit`` returns,
so nothing needs them afterwards. One training runs at a time here; a second thread tracing
custom gradients meanwhile could lose its own entries.

``trim_heap()`` hands the C heap's free pages back to the system (glibc's ``malloc_trim``), which
glibc otherwise keeps for the process's next allocations. The training and classification jobs
call it when they end: 10-65 MB less resident after each cycle (measured with and without).

No TensorFlow at import time: TensorFlow is imported when the context manager is entered.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import logging
import sys

logger = logging.getLogger(__name__)

#: The prefix of the names ``tf.custom_gradient`` registers (``custom_gradient.generate_name``).
CUSTOM_GRADIENT_PREFIX = "CustomGradient-"

_warned = False


def _gradient_registry() -> dict | None:
    """TensorFlow's gradient registry (name -> entry), or None when this TensorFlow has none
    where we look (the reason is logged once)."""
    global _warned
    from tensorflow.python.framework import ops

    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    if not isinstance(registry, dict):
        if not _warned:
            _warned = True
            logger.warning("This TensorFlow has no ops._gradient_registry._registry dict: the "
                           "graphs of earlier trainings may stay in memory")
        return None
    return registry


@contextlib.contextmanager
def forget_custom_gradients():
    """Within the block, custom gradients may be registered as usual; when it ends (also on
    an exception) the ones registered inside it are removed from TensorFlow's registry."""
    registry = _gradient_registry()
    before = set(registry) if registry is not None else set()
    try:
        yield
    finally:
        if registry is not None:
            added = [name for name in set(registry) - before
                     if name.startswith(CUSTOM_GRADIENT_PREFIX)]
            for name in added:
                registry.pop(name, None)
            logger.debug("forgot %d custom gradient(s) registered during training", len(added))


_dropped = False


def note_dropped_model() -> None:
    """A model may have just become garbage (replaced, or set aside): the next
    ``collect_dropped_models`` collects. Callable from any thread."""
    global _dropped
    _dropped = True


def collect_dropped_models() -> bool:
    """Free now the models nothing refers to any more, if one was dropped since the last call
    (``note_dropped_model``); True when it collected.

    A Keras model holds reference cycles, so only a cyclic collection frees it, at a moment
    that depends on what else the process allocates. Until then its weights stay in
    TensorFlow's pool; a training or a classification starting meanwhile puts its own peak on
    top of them, and the pool keeps that high-water mark for the life of the process (the GUI
    after a train + classify cycle measured 1.82 to 2.08 GB from one run to the next, with the
    same steps). The jobs that use TensorFlow call this first, in their worker thread.

    Only when a model was dropped: a full collection holds the GIL throughout (15-25 ms in the
    GUI after a training, most of it TensorFlow removing the dropped model's functions), and
    at the start of every classification it stalled the window that long for nothing."""
    global _dropped
    if not _dropped:
        return False
    _dropped = False  # first: a model dropped during the collection is noted for the next
    gc.collect()
    return True


def trim_heap() -> bool:
    """Return the C heap's free pages to the system; True if glibc released some. Does nothing
    (False) without glibc's ``malloc_trim`` (macOS, Windows, musl)."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the process already uses
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim
