"""Where the app keeps what it writes for the user (trained models), per platform.

``HORSEHUMAN_DATA_DIR`` overrides the location (tests use it; so can a person).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Iterable

logger = logging.getLogger(__name__)

APP_NAME = "horsehuman-gui"


def data_dir() -> Path:
    """The per-user data folder (not created here)."""
    override = os.environ.get("HORSEHUMAN_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_NAME


def models_dir() -> Path:
    """Where trained models are saved automatically (created on demand)."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def create_new_file(candidates: Iterable[Path], what: str) -> Path:
    """Create the first of ``candidates`` that does not exist yet, empty, and return it.

    Exclusive, so a file appearing between a check and a write can never be overwritten; its
    permissions follow the umask. ``FileExistsError`` names ``what`` when every name is taken.
    """
    for candidate in candidates:
        try:
            with open(candidate, "xb"):
                return Path(candidate)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free name for {what}")


#: A temporary file nobody has written to for this long belongs to no running save: a save
#: writes as it goes and takes seconds (the classic model: ~1.3 s), not an hour.
STALE_AFTER = 3600.0


def publish(temporary: str | Path, path: str | Path, overwrite: bool) -> Path:
    """Give the finished file ``temporary`` its final name ``path`` (same folder); return it.

    With ``overwrite`` an existing ``path`` is replaced atomically (``os.replace``). Without it,
    ``path`` is never replaced, not even by a file that appeared a moment ago: the file is
    hard-linked to ``path`` (which fails when the name is taken, atomically) and the temporary
    name removed; ``FileExistsError`` (``filename`` = ``path``) when the name is taken. Where
    hard links are not supported (FAT, some network shares) it falls back to a rename after
    a check (Windows's rename itself refuses to replace).
    """
    temporary, path = Path(temporary), Path(path)
    if overwrite:
        os.replace(temporary, path)
        return path
    try:
        os.link(temporary, path)
    except FileExistsError as exc:
        raise FileExistsError(errno.EEXIST, "already exists", str(path)) from exc
    except (OSError, NotImplementedError) as exc:
        logger.info("No hard link for %s (%s): renaming after a check", path, exc)
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "already exists", str(path)) from exc
        os.rename(temporary, path)
        return path
    try:
        os.unlink(temporary)
    except OSError as exc:  # the file is in place; a leftover name is cleaned up next time
        logger.warning("Could not remove %s: %s", temporary, exc)
    return path


def remove_stale_temporaries(folder: str | Path, pattern: re.Pattern,
                             max_age: float = STALE_AFTER) -> int:
    """Remove regular files in ``folder`` whose whole name matches ``pattern`` and that were
    last modified more than ``max_age`` seconds ago (left by a save that was killed); return
    how many were removed. Links, folders and younger files are left alone; errors are logged.
    """
    removed, now = 0, time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        logger.debug("Not looking for leftovers in %s: %s", folder, exc)
        return 0
    for entry in entries:
        try:
            if not (pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False)
                    and now - entry.stat(follow_symlinks=False).st_mtime > max_age):
                continue
            os.unlink(entry.path)
            removed += 1
            logger.info("Removed %s, left by an interrupted save", entry.path)
        except OSError as exc:
            logger.debug("Could not remove leftover %s: %s", entry.path, exc)
    return removed


def flush_file(path: str | Path) -> None:
    """Make a file's written bytes durable before it is renamed into place."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def flush_folder(folder: str | Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); not possible, nor needed, on Windows."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
