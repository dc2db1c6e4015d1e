"""The course's datasets in one call: download, verify, extract safely, note the licence.

``download_dataset("horses-or-humans", dest)`` fetches the training and validation archives
from the course's public location (``HORSEHUMAN_DATASETS_URL`` names another base URL: a
mirror, or a test server), checks them (a published SHA-256 where known, else archive
integrity and the expected image counts), extracts them with ``core.safe_zip`` into
``dest/train/<class>/`` and ``dest/validation/<class>/`` and writes ``dest/LICENSE.txt``.

Not ``keras.utils.get_file``: it has no cancel and no progress callback (it prints a Progbar),
and a GUI needs both. Everything is staged in a hidden folder inside ``dest`` and moved into
place only once verified, so a cancel or a failure leaves ``dest`` as it was.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import time
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable

from horsehuman_gui.core.errors import HorsehumanError
from horsehuman_gui.core.safe_zip import (UnsafeArchiveError, check_members, common_top_folder,
                                          safe_extract)

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://storage.googleapis.com/learning-datasets/"
BASE_URL_VARIABLE = "HORSEHUMAN_DATASETS_URL"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Largest archive accepted (the course's largest, rps.zip, is ~0.2 GB).
MAX_DOWNLOAD_BYTES = 1 * 2**30
TIMEOUT = 30.0  # seconds without data before a download fails
_CHUNK = 256 * 1024
_PROGRESS_INTERVAL = 0.1


class DownloadError(HorsehumanError):
    """A sample dataset could not be downloaded, verified or extracted."""


class DownloadCancelled(DownloadError):
    def __init__(self) -> None:
        super().__init__("download cancelled")


@dataclass(frozen=True)
class Archive:
    file_name: str  # name under the base URL
    part: str  # "train" or "validation"
    images: int  # image files expected inside
    sha256: str | None = None  # published hash, when there is one


@dataclass(frozen=True)
class SampleDataset:
    name: str
    title: str
    archives: tuple[Archive, ...]
    licence: str


_MORONEY = ("{title} by Laurence Moroney, licensed under the Creative Commons Attribution 2.0 "
            "licence (CC BY 2.0): https://creativecommons.org/licenses/by/2.0/\n"
            "Source: https://laurencemoroney.com/datasets.html\n")

DATASETS = {
    "horses-or-humans": SampleDataset(
        "horses-or-humans", "Horses or Humans",
        (Archive("horse-or-human.zip", "train", 1027),
         Archive("validation-horse-or-human.zip", "validation", 256)),
        _MORONEY.format(title="Horses or Humans")),
    "rock-paper-scissors": SampleDataset(
        "rock-paper-scissors", "Rock Paper Scissors",
        (Archive("rps.zip", "train", 2520), Archive("rps-test-set.zip", "validation", 372)),
        _MORONEY.format(title="Rock Paper Scissors")),
}


@dataclass(frozen=True)
class DownloadResult:
    root: Path  # the dataset folder: open it as a dataset
    counts: dict  # {"train": {"horses": 500, ...}, "validation": {...}}
    licence_file: Path


def base_url() -> str:
    url = os.environ.get(BASE_URL_VARIABLE) or DEFAULT_BASE_URL
    return url if url.endswith("/") else url + "/"


def download_dataset(dataset: str | SampleDataset, dest: str | Path,
                     progress: Callable[[int, int], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> DownloadResult:
    """Download ``dataset`` (a name in ``DATASETS`` or a ``SampleDataset``) into ``dest``.

    ``dest`` must not exist or be an empty folder. ``progress(done, total)`` gets bytes
    downloaded over all archives (``total`` 0 while unknown) about 10 times a second and at
    the end; ``should_stop()`` is checked between chunks (``DownloadCancelled``). Raises
    ``DownloadError`` with a plain message; on any failure ``dest`` is left as it was.
    """
    spec = DATASETS.get(dataset) if isinstance(dataset, str) else dataset
    if spec is None:
        raise DownloadError(f"Unknown dataset {dataset!r}; known: {', '.join(DATASETS)}.")
    dest = Path(dest)
    created = _prepare(dest)
    staging = dest / f".download-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        archives = _fetch_all(spec, staging, progress, should_stop)
        for archive, path in archives:
            _unpack(archive, path, staging / archive.part, should_stop)
        for archive in spec.archives:
            os.rename(staging / archive.part, dest / archive.part)
        licence = dest / "LICENSE.txt"
        with open(licence, "x", encoding="utf-8") as handle:
            handle.write(_licence_text(spec))
    except BaseException:
        _undo(dest, staging, spec, created)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Downloaded %s into %s", spec.title, dest)
    return DownloadResult(dest, {a.part: _class_counts(dest / a.part) for a in spec.archives},
                          licence)


def _prepare(dest: Path) -> bool:
    """Create ``dest`` (True) or accept it empty (False)."""
    if os.path.lexists(dest):
        if not dest.is_dir() or dest.is_symlink():
            raise DownloadError(f"{dest} exists and is not a folder.")
        if any(dest.iterdir()):
            raise DownloadError(f"{dest} is not empty; choose a new or empty folder so "
                                "nothing in it is replaced.")
        return False
    if not dest.parent.is_dir():
        raise DownloadError(f"Folder {dest.parent} does not exist.")
    dest.mkdir()
    return True


def _undo(dest: Path, staging: Path, spec: SampleDataset, created: bool) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    for archive in spec.archives:  # moved in by this call: dest was empty before
        shutil.rmtree(dest / archive.part, ignore_errors=True)
    if created:
        shutil.rmtree(dest, ignore_errors=True)


def _fetch_all(spec, staging, progress, should_stop) -> list[tuple[Archive, Path]]:
    urls = [urllib.parse.urljoin(base_url(), a.file_name) for a in spec.archives]
    for url in urls:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise DownloadError(f"Only http and https downloads are supported. Received: {url}")
    sizes = [_remote_size(url) for url in urls]
    meter = _Meter(progress, sum(sizes) if all(sizes) else 0)
    paths = []
    for archive, url in zip(spec.archives, urls):
        path = staging / archive.file_name
        _fetch(url, path, meter, should_stop)
        _check_hash(archive, path)
        paths.append((archive, path))
    meter.report(final=True)
    return paths


class _Meter:
    """Counts bytes over all archives; reports at most every 0.1 s, and the last time."""

    def __init__(self, progress, total: int):
        self.progress, self.total, self.done, self.last = progress, total, 0, 0.0

    def add(self, count: int) -> None:
        self.done += count
        self.report()

    def report(self, final: bool = False) -> None:
        now = time.monotonic()
        if self.progress is not None and (final or now - self.last >= _PROGRESS_INTERVAL):
            self.last = now
            self.progress(self.done, max(self.total, self.done) if self.total else 0)


def _remote_size(url: str) -> int:
    try:
        request = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return int(response.headers.get("Content-Length") or 0)
    except (OSError, ValueError) as exc:
        logger.debug("No size for %s: %s", url, exc)
        return 0


def _fetch(url: str, path: Path, meter: _Meter, should_stop) -> None:
    logger.info("Downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response, open(path, "xb") as out:
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > MAX_DOWNLOAD_BYTES:
                raise DownloadError(f"{url} is {declared:,} bytes, larger than expected.")
            size = 0
            while chunk := response.read(_CHUNK):
                if should_stop is not None and should_stop():
                    raise DownloadCancelled()
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise DownloadError(f"{url} is larger than expected; download stopped.")
                out.write(chunk)
                meter.add(len(chunk))
            if declared and size != declared:
                raise DownloadError(f"The download of {url} ended early ({size:,} of "
                                    f"{declared:,} bytes); try again.")
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
        raise DownloadError(f"Could not download {url}: {getattr(exc, 'reason', exc)}") from exc


def _check_hash(archive: Archive, path: Path) -> None:
    if archive.sha256 is None:
        return
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != archive.sha256.lower():
        raise DownloadError(f"{archive.file_name} is not the published file (its SHA-256 "
                            "differs); it may be damaged. Try again.")


def _unpack(archive: Archive, path: Path, part: Path, should_stop) -> None:
    try:
        with zipfile.ZipFile(path) as handle:
            members = check_members(handle)
            images = [m for m in members if m.parts[-1].lower().endswith(IMAGE_SUFFIXES)]
            if len(images) != archive.images:
                raise DownloadError(f"{archive.file_name} holds {len(images)} images; "
                                    f"{archive.images} were expected. It may be damaged or "
                                    "have changed.")
            strip = 1 if common_top_folder(images) else 0
            part.mkdir()
            safe_extract(handle, part, images, strip=strip, should_stop=should_stop)
    except InterruptedError as exc:
        raise DownloadCancelled() from exc
    except UnsafeArchiveError as exc:
        raise DownloadError(f"{archive.file_name} was refused: {exc}.") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise DownloadError(f"{archive.file_name} is damaged ({exc}); try again.") from exc


def _class_counts(part: Path) -> dict[str, int]:
    return {folder.name: sum(1 for f in folder.rglob("*") if f.is_file())
            for folder in sorted(part.iterdir()) if folder.is_dir()}


def _licence_text(spec: SampleDataset) -> str:
    return (f"{spec.licence}\nDownloaded by horsehuman-gui on {date.today().isoformat()} "
            f"from {base_url()}\ntrain/ holds the training images, validation/ the "
            "validation images, one folder per class.\n")
