"""Check a scan's candidate images in a few threads, through the scan cache, in bounded memory.

Each file is either decoded in full (``groups.describe_image``: its hashes feed the
near-duplicate grouping) or, for folders too big to decode during a scan, checked from its
header and end (``groups.describe_header``). Files go to the threads in chunks, a few chunks
ahead of the results: neither a future per file nor a queue of 100,000 is ever held.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

from horsehuman_gui.core.errors import DatasetError
from horsehuman_gui.core.groups import ImageInfo, describe_header, describe_image, header_only
from horsehuman_gui.core.scan_cache import Key, ScanCache, file_key

logger = logging.getLogger(__name__)

#: threads decoding images in full: Pillow releases the GIL while decoding, more than 4 only
#: adds contention. Header checks are Python holding the GIL and run in one thread: on 2 cores,
#: 100,000 of them took 17 s in one thread, 27 s in two and 34 s in four (threads taking the GIL
#: from each other cost more than they overlap)
WORKERS = max(2, min(4, os.cpu_count() or 2))
PROGRESS_INTERVAL = 0.1  # seconds between progress calls (the last one is always made)
_CHUNK = 32  # files per task: ~0.2 s of full decoding, a few ms of header checks
_AHEAD = 2  # chunks queued per thread beyond the one it works on

Verdict = ImageInfo | str


class ScanCancelled(DatasetError):
    """``should_stop()`` returned True during a scan; a DatasetError so callers need no extra case.

    Re-exported by ``core.dataset``, where callers find it."""

    def __init__(self) -> None:
        super().__init__("scan cancelled")


class Throttle:
    """Calls ``report(*args)`` at most every ``interval`` seconds, and always when forced."""

    def __init__(self, report: Callable | None, interval: float = PROGRESS_INTERVAL):
        self.report, self.interval, self.last = report, interval, 0.0

    def __call__(self, *args, force: bool = False) -> None:
        now = time.monotonic()
        if self.report is not None and (force or now - self.last >= self.interval):
            self.last = now
            self.report(*args)


def _check(paths: list[Path], keys: list[Key | None], full: bool
           ) -> list[tuple[Verdict, bool]]:
    """(verdict, whether the file stayed as its key says while it was read) per path."""
    describe = describe_image if full else describe_header
    out = []
    for path, key in zip(paths, keys):
        verdict = describe(path)
        out.append((verdict, key is not None and file_key(path) == key))
    return out


def check_images(paths: Sequence[Path], *, full: bool, cache: ScanCache | None = None,
                 on_progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 keys: Sequence[Key] | None = None) -> list[Verdict]:
    """The verdict per path, in order: an ``ImageInfo`` (with hashes when ``full``) or why the
    file is unusable. Verdicts in ``cache`` for unchanged files are reused, new ones stored.

    ``on_progress(done, total)`` about 10 times a second and for the last file;
    ``should_stop()`` is checked between chunks: True raises ``ScanCancelled`` (files being
    checked finish, queued ones are dropped). ``keys``: each path's cache key
    (``scan_cache.file_key``), in the order of ``paths``, when the caller already has them,
    e.g. from its walk.
    """
    total, results = len(paths), []
    progress = Throttle(on_progress)
    progress(0, total, force=True)
    pending: deque[tuple[list[Path], list, list, Future | None]] = deque()
    workers = WORKERS if full else 1
    pool = ThreadPoolExecutor(workers, thread_name_prefix="scan")
    try:
        for start in range(0, total, _CHUNK):
            chunk = list(paths[start:start + _CHUNK])
            chunk_keys = list(keys[start:start + _CHUNK]) if keys is not None \
                else [file_key(p) for p in chunk]
            known = cache.get(chunk, chunk_keys, full) if cache is not None \
                else [None] * len(chunk)
            missing = [i for i, v in enumerate(known) if v is None]
            future = pool.submit(_check, [chunk[i] for i in missing],
                                 [chunk_keys[i] for i in missing], full) if missing else None
            pending.append((chunk, chunk_keys, known, future))
            while len(pending) > workers * (1 + _AHEAD):
                results += _merge(*pending.popleft(), full, cache, should_stop)
                progress(len(results), total)
        while pending:
            results += _merge(*pending.popleft(), full, cache, should_stop)
            progress(len(results), total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    progress(len(results), total, force=True)
    return results


def _merge(chunk, keys, known, future, full, cache, should_stop) -> list[Verdict]:
    if should_stop is not None and should_stop():
        raise ScanCancelled()
    checked = iter(future.result() if future is not None else ())
    merged = []
    for path, key, verdict in zip(chunk, keys, known):
        if verdict is None:
            verdict, unchanged = next(checked)
            if cache is not None and unchanged:
                cache.put(path, key, verdict)
        # a header check may have decoded in full: the hashes are cached, not held
        merged.append(verdict if full or isinstance(verdict, str) else header_only(verdict))
    return merged
