"""Thumbnails decoded off the GUI thread, newest request first, into a bounded pixmap cache.

Decoding happens in ``Task`` workers (the app's one worker pattern) that pull jobs from a shared,
thread-safe stack: the most recently requested path is decoded first, because the view asks for
what it is painting right now. The stack is bounded and ``retain()`` drops whatever scrolled out
of sight, so a fast scroll through 10,000 files never queues 10,000 decodes.

Workers make ``QImage`` (thread-safe); ``QPixmap`` is made on the GUI thread only, as Qt requires.
``new_generation()`` (a new folder) drops pending jobs, and results of older generations are
discarded when they arrive.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Iterable

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

from horsehuman_gui.core.errors import ImageError
from horsehuman_gui.ui.common import qt_compat  # noqa: F401 - PySide6 6.12 refcount workaround
from horsehuman_gui.ui.common.workers import Task

logger = logging.getLogger(__name__)

PENDING_LIMIT = 400  # more than any screen shows; older requests are dropped first
_PIXMAP_FORMAT = QImage.Format.Format_ARGB32_Premultiplied  # what QPixmap converts fastest
# What the workers use, looked up here, on the GUI thread, when this module is imported: PySide6
# makes its types and enums on first use, and making one off the GUI thread can crash the app
# (see ui/train/training_pane.py).
_RGB888 = QImage.Format.Format_RGB888
_KEEP_ASPECT = Qt.AspectRatioMode.KeepAspectRatio
_SMOOTH = Qt.TransformationMode.SmoothTransformation

# Qt refuses to allocate images above this (Qt 6 default is 256 MB); Pillow then decides, with
# its own decompression-bomb limit and a reason a person can read.
QImageReader.setAllocationLimit(256)


def _fit(size: QSize, box: int) -> QSize:
    """``size`` scaled to fit a ``box`` x ``box`` square keeping its aspect, never enlarged.

    A square box means EXIF rotation by 90 degrees does not change what fits."""
    if size.width() <= box and size.height() <= box:
        return size
    return size.scaled(box, box, _KEEP_ASPECT).expandedTo(QSize(1, 1))


def _decode_with_pillow(path: str, box: int) -> QImage:
    from horsehuman_gui.core.images import open_rgb  # Pillow import only when Qt gives up

    img = open_rgb(path, (box, box))
    img.thumbnail((box, box))
    data = img.tobytes()
    image = QImage(data, img.width, img.height, 3 * img.width, _RGB888)
    return image.copy()  # own the pixels: ``data`` dies with this frame


def decode_thumbnail(path: str, box: int) -> QImage:
    """Decode ``path`` upright (EXIF) and scaled to fit ``box`` px; raise ``ImageError(reason)``.

    Thread-safe. Qt's reader scales while decoding (JPEG at reduced DCT scale); formats or quirks
    Qt cannot read fall back to ``core.images.open_rgb``, which also supplies the reason.
    """
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    stored = reader.size()
    if stored.isValid() and not stored.isEmpty():
        reader.setScaledSize(_fit(stored, box))
    image = reader.read()
    if image.isNull():
        logger.debug("Qt could not read %s (%s); trying Pillow", path, reader.errorString())
        image = _decode_with_pillow(path, box)
    if image.width() > box or image.height() > box:  # readers that ignore the scaled size
        image = image.scaled(box, box, _KEEP_ASPECT, _SMOOTH)
    return image.convertToFormat(_PIXMAP_FORMAT)


class JobStack:
    """Pending (path, generation) jobs shared by the workers; newest first, bounded."""

    def __init__(self, limit: int = PENDING_LIMIT):
        self._cond = threading.Condition()
        self._pending: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._busy: set[tuple[str, int]] = set()
        self._limit = limit
        self._closed = False

    def put(self, job: tuple[str, int]) -> None:
        with self._cond:
            if job in self._busy:
                return
            self._pending[job] = None
            self._pending.move_to_end(job)
            while len(self._pending) > self._limit:
                self._pending.popitem(last=False)
            self._cond.notify()

    def take(self, timeout: float) -> tuple[str, int] | None:
        with self._cond:
            self._cond.wait_for(lambda: self._pending or self._closed, timeout)
            if self._closed or not self._pending:
                return None
            job, _ = self._pending.popitem(last=True)
            self._busy.add(job)
            return job

    def done(self, job: tuple[str, int]) -> None:
        """The job's result has been delivered; the same job may be queued again."""
        with self._cond:
            self._busy.discard(job)

    def retain(self, paths: set[str]) -> int:
        """Drop pending jobs whose path is not in ``paths``; return how many were dropped."""
        with self._cond:
            stale = [job for job in self._pending if job[0] not in paths]
            for job in stale:
                del self._pending[job]
            return len(stale)

    def clear(self) -> None:
        with self._cond:
            self._pending.clear()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._pending)


def _load_image_plugins() -> None:
    """Load Qt's image format plugins on the GUI thread before any worker reads an image: two
    workers making the process's first QImageReader at once crashed it now and then at start
    (a segmentation fault inside QImageReader's constructor, ~1 start in 4)."""
    QImageReader.supportedImageFormats()
    QImageReader(":/nothing.png").size()


def _decode_loop(jobs: JobStack, box: int):
    def run(should_stop, report):
        while not should_stop():
            job = jobs.take(timeout=0.5)
            if job is None:
                continue  # idle; shutdown() closes the stack and stops the task
            try:
                report((job, decode_thumbnail(job[0], box), None))
            except ImageError as exc:
                report((job, None, exc.reason))
            except Exception:  # noqa: BLE001 - one bad file must not end the worker
                logger.exception("thumbnail of %s failed", job[0])
                report((job, None, "could not make a thumbnail"))
            # the job stays busy until the GUI thread has taken the result (see _on_decoded)
    return run


class ThumbnailLoader(QObject):
    """Asynchronous thumbnails of ``box`` px (device pixels) with an LRU cache of ``cache_size``.

    GUI thread only (except the workers it owns). ``pixmap(path)`` answers from the cache;
    ``request(path)`` queues a decode; ``ready(path)`` or ``failed(path, reason)`` follow.
    """

    ready = Signal(str)
    failed = Signal(str, str)

    def __init__(self, box: int = 128, workers: int = 2, cache_size: int = 2000,
                 device_pixel_ratio: float = 1.0, parent: QObject | None = None):
        super().__init__(parent)
        self.box = box
        self._dpr = device_pixel_ratio
        self._workers = workers
        self._cache_size = cache_size
        self._cache: OrderedDict[str, QPixmap | str] = OrderedDict()  # pixmap or failure reason
        self._jobs = JobStack()
        self._tasks: list[Task] = []
        self._generation = 0
        self._closed = False

    @property
    def generation(self) -> int:
        return self._generation

    def new_generation(self) -> int:
        """Forget pending requests; results of earlier requests will be dropped on arrival."""
        self._generation += 1
        self._jobs.clear()
        return self._generation

    def pixmap(self, path: str) -> QPixmap | None:
        entry = self._cache.get(path)
        if isinstance(entry, QPixmap):
            self._cache.move_to_end(path)
            return entry
        return None

    def error(self, path: str) -> str | None:
        entry = self._cache.get(path)
        return entry if isinstance(entry, str) else None

    def request(self, path: str) -> None:
        """Queue ``path`` (or move it to the front) unless it is cached or the loader is shut."""
        if self._closed or path in self._cache:
            return
        self._start_workers()
        self._jobs.put((path, self._generation))

    def retain(self, paths: Iterable[str]) -> int:
        """Drop pending requests for paths not in ``paths`` (what scrolled out of sight)."""
        return self._jobs.retain(set(paths))

    def pending_count(self) -> int:
        return len(self._jobs)

    def shutdown(self) -> None:
        """Stop and wait for every worker; the loader accepts no requests afterwards."""
        self._closed = True
        self._jobs.close()
        for task in list(self._tasks):
            task.stop_and_wait(10_000)

    def _start_workers(self) -> None:
        # Started on the first request and kept until shutdown: idle workers only wait on a
        # condition variable, and restarting threads would race with requests.
        if not self._tasks:
            _load_image_plugins()
        while len(self._tasks) < self._workers:
            task = Task(_decode_loop(self._jobs, self.box), name="thumbnails", parent=self)
            task.progress.connect(self._on_decoded)
            self._tasks.append(task.start())

    def _on_decoded(self, result) -> None:
        job, image, reason = result
        # Only now is the job no longer busy: between the worker's report and this slot a
        # repaint would otherwise ask for the same thumbnail again and decode it twice.
        self._jobs.done(job)
        path, generation = job
        if generation != self._generation or self._closed:
            return  # a folder shown earlier: nobody is waiting for it
        if image is None:
            self._store(path, reason)
            self.failed.emit(path, reason)
            return
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self._dpr)
        self._store(path, pixmap)
        self.ready.emit(path)

    def _store(self, path: str, entry: QPixmap | str) -> None:
        self._cache[path] = entry
        self._cache.move_to_end(path)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
