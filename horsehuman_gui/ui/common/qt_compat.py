"""Work around a PySide6 6.12.0 bug that aborts the interpreter after a while.

PySide6 6.12.0 hands Python the singletons ``True`` and ``None`` without taking a reference:
``SignalInstance.emit()`` returns ``True`` and an invalid ``QVariant`` converted to Python (e.g.
``index.data(role)`` for a role the model has no value for) returns ``None``, each leaving the
object with one reference fewer. On Python < 3.12 these objects are not immortal, so after a few
hundred emissions or a few thousand ``data()`` calls the count reaches zero and the process
aborts ("Fatal Python error: bool_dealloc" / "none_dealloc") at some unrelated later point.
PySide6 6.11.3 does not have the bug. ``install()`` probes for it and, only when present, gives
``None``, ``True`` and ``False`` a reference count so large that no run can exhaust it, which is
what Python 3.12 does for every such object (immortal objects, PEP 683).
"""

from __future__ import annotations

import ctypes
import logging
import sys

from PySide6.QtCore import QObject, QStringListModel, Qt, Signal

logger = logging.getLogger(__name__)

_PROBES = 64
_BOOST = 1 << 40  # a trillion lost references; on 3.12+ these objects are immortal anyway
_installed = False


class _Probe(QObject):
    ping = Signal()


def _leaks(lost_from, call) -> bool:
    before = sys.getrefcount(lost_from)
    for _ in range(_PROBES):
        call()
    lost = before - sys.getrefcount(lost_from)
    _add_references(lost_from, max(0, lost))  # repair what the probe itself took
    return lost >= _PROBES


def _add_references(obj, count: int) -> None:
    if count and sys.version_info < (3, 12):  # ob_refcnt is the first field of every object
        ctypes.c_ssize_t.from_address(id(obj)).value += count


def singleton_refcount_bug() -> bool:
    """True when this PySide6 drops references to ``True`` (emit) or ``None`` (QVariant)."""
    probe = _Probe()
    model = QStringListModel(["probe"])
    index = model.index(0, 0)
    return (_leaks(True, probe.ping.emit)
            or _leaks(None, lambda: index.data(Qt.ItemDataRole.DecorationRole)))


def install() -> bool:
    """Make ``None``/``True``/``False`` unexhaustible if this PySide6 has the bug; idempotent."""
    global _installed
    if _installed:
        return True
    if sys.version_info >= (3, 12) or not singleton_refcount_bug():
        return False
    for obj in (None, True, False):
        _add_references(obj, _BOOST)
    _installed = True
    logger.info("PySide6 singleton reference-count bug detected; workaround installed")
    return True


install()
