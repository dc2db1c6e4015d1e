"""Download pretrained weights once, check them, keep them in the user's data folder.

Keras's own ``keras.utils.get_file`` checks a hash but reports progress only to a terminal
progress bar and cannot be cancelled (``urlretrieve`` runs to the end), and it writes straight
to the final name. Here the file streams into a temporary file beside the cache while its hash
is computed; only a complete file whose hash equals the published one is renamed into the
cache. A cancelled, truncated or wrong download is removed and never cached.

The published location can be replaced by a mirror (a company's, or the tests' loopback
server): ``set_base_url(url)`` (what the GUI's setting calls) or the ``HORSEHUMAN_WEIGHTS_URL``
environment variable; the file is then fetched as ``<base>/<published file name>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from horsehuman_gui.core.errors import DownloadCancelled, WeightsUnavailable
from horsehuman_gui.core.paths import data_dir

logger = logging.getLogger(__name__)

ENV_VAR = "HORSEHUMAN_WEIGHTS_URL"
CHUNK_BYTES = 256 * 1024
#: Per connection attempt and per read; Cancel is checked between reads, not during one.
TIMEOUT_SECONDS = 15
#: Progress is reported at most this often (and always at the end), as Keras's Progbar does.
PROGRESS_INTERVAL = 0.1

_base_url: str | None = None

OFFLINE_HINT = "The offline SqueezeNet model works without a download."


def set_base_url(url: str | None) -> None:
    """Fetch weights from ``url`` (a folder holding the files by their published names) instead
    of their published location; None goes back to ``HORSEHUMAN_WEIGHTS_URL`` or the default."""
    global _base_url
    _base_url = (url or "").strip() or None


def base_url() -> str | None:
    """The mirror in use: ``set_base_url``'s, else ``HORSEHUMAN_WEIGHTS_URL``'s, else None."""
    return _base_url or os.environ.get(ENV_VAR, "").strip() or None


def source_url(published_url: str, base: str | None = None) -> str:
    """Where a file published at ``published_url`` is fetched from, given mirror ``base``."""
    base = base or base_url()
    if not base:
        return published_url
    return base.rstrip("/") + "/" + _file_name(published_url)


def cache_dir() -> Path:
    """``data_dir()/weights``, created on demand."""
    folder = data_dir() / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def file_digest(path: Path, expected: str) -> str:
    """The hex digest of ``path`` by the algorithm ``expected`` is written in (by its length, as
    Keras does: 64 hex digits SHA-256, 32 MD5)."""
    digest = _hasher(expected)
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_file(published_url: str, file_hash: str) -> Path | None:
    """The cached copy of the file, if there is one and it still has the published hash."""
    path = cache_dir() / _file_name(published_url)
    if path.is_file() and file_digest(path, file_hash) == file_hash.lower():
        return path
    return None


def fetch(published_url: str, file_hash: str, label: str, *,
          on_progress: Callable[[int, int | None], None] | None = None,
          should_stop: Callable[[], bool] | None = None, base: str | None = None) -> Path:
    """The path of the cached file published at ``published_url``, downloading it first if it is
    not cached.

    ``file_hash`` is the published MD5 or SHA-256 hex digest; ``label`` names the weights in
    messages ("MobileNetV3-Large"). ``on_progress(done_bytes, total_bytes_or_None)`` is called
    with (0, total) once connected, then at most every 0.1 s, and always at the end;
    ``should_stop()`` is checked between chunks.
    Raises ``DownloadCancelled`` when stopped and ``WeightsUnavailable`` (one plain sentence)
    when offline, refused by the server, truncated or not the published file. Nothing but a
    verified file is ever left in the cache.
    """
    cached = cached_file(published_url, file_hash)
    if cached is not None:
        return cached
    url = source_url(published_url, base)
    target = cache_dir() / _file_name(published_url)
    logger.info("downloading %s weights from %s", label, url)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = _hasher(file_hash)
        with os.fdopen(handle, "wb") as out:
            _download(url, out, digest, label, on_progress, should_stop)
        if digest.hexdigest() != file_hash.lower():
            raise WeightsUnavailable(
                f"The downloaded {label} weights are not the published file (wrong checksum), "
                f"so they were not kept. {OFFLINE_HINT}")
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)  # anything but a verified file: cancelled, truncated, wrong
    logger.info("%s weights cached in %s", label, target)
    return target


def _download(url, out, digest, label, on_progress, should_stop) -> None:
    """Stream ``url`` into ``out`` and ``digest``; every failure becomes a typed error."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            _copy(response, out, digest, label, on_progress, should_stop)
    except urllib.error.HTTPError as exc:
        raise WeightsUnavailable(
            f"Could not download the {label} weights (the server answered {exc.code} "
            f"{exc.reason}). {OFFLINE_HINT}") from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # URLError (no route, refused, DNS), timeouts, resets, IncompleteRead, a malformed URL
        logger.info("download of %s failed: %r", url, exc)
        raise WeightsUnavailable(
            f"Could not download the {label} weights (no internet connection?). "
            f"{OFFLINE_HINT}") from exc


def _copy(response, out, digest, label, on_progress, should_stop) -> None:
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    done, reported = 0, time.monotonic()
    if on_progress is not None:
        on_progress(0, total)  # the size is known before the first chunk
    while True:
        if should_stop is not None and should_stop():
            raise DownloadCancelled(f"The {label} download was cancelled.")
        chunk = response.read(CHUNK_BYTES)
        if not chunk:
            break
        out.write(chunk)
        digest.update(chunk)
        done += len(chunk)
        if on_progress is not None and time.monotonic() - reported >= PROGRESS_INTERVAL:
            reported = time.monotonic()
            on_progress(done, total)
    if total is not None and done != total:
        raise WeightsUnavailable(
            f"The {label} download ended early ({done:,} of {total:,} bytes), so it was not "
            f"kept. {OFFLINE_HINT}")
    if on_progress is not None:
        on_progress(done, total)  # always the last one


def _file_name(url: str) -> str:
    return urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]


def _hasher(expected: str):
    """SHA-256 for a 64-digit hex digest, MD5 for a 32-digit one (what Keras publishes)."""
    if len(expected) == 64:
        return hashlib.sha256()
    if len(expected) == 32:
        return hashlib.md5(usedforsecurity=False)  # the published hash is an MD5
    raise ValueError(f"`file_hash` must be a SHA-256 or MD5 hex digest. Received: {expected!r}")
