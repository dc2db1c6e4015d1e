"""An on-disk cache of backbone features, so a second run on the same folder starts at once.

One SQLite file in the user's cache folder (``cache_dir()``). Entries are keyed by the file's
content (BLAKE2b), never its path or date: a changed file is a miss, a renamed or copied one a
hit. Each file's digest is remembered with its state (size, modification and change times,
inode), so a file seen unchanged is not read again to find its entries. Bounded: past
``max_bytes`` the least recently used entries go. Safe to delete at any time, and a damaged or
unwritable cache is only a miss (logged), never an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from horsehuman_gui.core.paths import APP_NAME

logger = logging.getLogger(__name__)

#: Default size bound: ~100,000 images' features for a 1,000-wide backbone.
MAX_CACHE_BYTES = 512 * 2**20
_SCHEMA = """CREATE TABLE IF NOT EXISTS features (
    digest TEXT NOT NULL, backbone TEXT NOT NULL, size INTEGER NOT NULL,
    augment TEXT NOT NULL, copy INTEGER NOT NULL,
    vector BLOB NOT NULL, used REAL NOT NULL,
    PRIMARY KEY (digest, backbone, size, augment, copy)) WITHOUT ROWID"""
#: A file's digest, valid while its state (``file_state``) is the one recorded. The change time
#: moves whenever the content is written, even by a tool that puts the modification time back.
_FILES_SCHEMA = """CREATE TABLE IF NOT EXISTS files (
    path BLOB PRIMARY KEY, state TEXT NOT NULL, digest TEXT NOT NULL) WITHOUT ROWID"""
#: Bytes of BLAKE2b digest keying the entries.
DIGEST_SIZE = 16


def cache_dir() -> Path:
    """The per-user cache folder (not created here); ``HORSEHUMAN_CACHE_DIR`` overrides it."""
    override = os.environ.get("HORSEHUMAN_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / APP_NAME / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_NAME
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / APP_NAME


def file_state(found: os.stat_result) -> tuple[int, int, int, int]:
    """What changes whenever a file's content may have: size, modification and change times
    (ns), inode."""
    return found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino


def _path_key(path: Path) -> bytes:
    """A file's absolute path as bytes (any name the file system allows, UTF-8 or not)."""
    return os.fsencode(os.path.abspath(path))


def open_cache_db(path: Path, prepare: Callable[[sqlite3.Connection], None], name: str,
                  without: str) -> sqlite3.Connection | None:
    """The SQLite cache at ``path``, made if missing, committing in WAL mode without waiting for
    the disk (a cache may lose its last entries in a power cut, never its consistency; where WAL
    is not possible, e.g. some network folders, it stays off). ``prepare(db)`` sets up its
    tables and raises ``sqlite3.DatabaseError`` for a damaged file, which is then replaced once,
    with its -wal/-shm files (a stale log must not be replayed into the new one). None when
    unusable: ``name`` and ``without`` (what then happens) go into the warning."""
    for attempt in range(2):
        db = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=10, check_same_thread=False)
            prepare(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            return db
        except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
            if db is not None:  # closed before its files go (Windows cannot remove open ones)
                db.close()
            if attempt == 0 and path.exists():
                logger.warning("%s %s is damaged (%s); starting a new one", name, path, exc)
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(OSError):
                        os.unlink(f"{path}{suffix}")
                continue
            logger.warning("%s unusable (%s); %s", name, exc, without)
        except OSError as exc:
            logger.warning("%s folder unusable (%s); %s", name, exc, without)
            break
    return None


@dataclass(frozen=True)
class FeatureKey:
    """What a feature vector depends on besides the file: the network, the input size and,
    for augmented copies, the preset and the copy's number (0 = the image itself)."""

    backbone: str
    size: int
    augment: str = "off"


class FeatureCache:
    """Feature vectors by (file digest, ``FeatureKey``, copy). Use from one thread at a time."""

    def __init__(self, folder: str | Path | None = None, max_bytes: int = MAX_CACHE_BYTES):
        self.path = Path(folder if folder is not None else cache_dir() / "features") \
            / "features.sqlite3"
        self.max_bytes = max_bytes
        self._db: sqlite3.Connection | None = None
        self._opened = False
        self._bytes: int | None = None  # the vectors' size, counted once, then kept up to date

    def get(self, digests: Iterable[str], key: FeatureKey, copy: int) -> dict[str, np.ndarray]:
        """The cached vectors among ``digests`` (float32), marked as just used."""
        digests = list(dict.fromkeys(digests))
        found: dict[str, np.ndarray] = {}
        db = self._connection()
        if db is None or not digests:
            return found
        try:
            for start in range(0, len(digests), 500):  # SQLite's limit on bound parameters
                part = digests[start:start + 500]
                marks = ",".join("?" * len(part))
                rows = db.execute(
                    f"SELECT digest, vector FROM features WHERE digest IN ({marks}) "
                    "AND backbone=? AND size=? AND augment=? AND copy=?",
                    (*part, key.backbone, key.size, key.augment, copy)).fetchall()
                found.update((d, np.frombuffer(v, dtype=np.float32)) for d, v in rows)
            with db:
                db.executemany("UPDATE features SET used=? WHERE digest=? AND backbone=? AND "
                               "size=? AND augment=? AND copy=?",
                               [(time.time(), d, key.backbone, key.size, key.augment, copy)
                                for d in found])
        except sqlite3.Error as exc:
            self._fail("read", exc)
        return found

    def put(self, vectors: dict[str, np.ndarray], key: FeatureKey, copy: int) -> None:
        """Store ``vectors`` by digest, then evict the least recently used past the bound."""
        db = self._connection()
        if db is None or not vectors:
            return
        now = time.time()
        rows = [(d, key.backbone, key.size, key.augment, copy,
                 np.asarray(v, dtype=np.float32).tobytes(), now) for d, v in vectors.items()]
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO features VALUES (?,?,?,?,?,?,?)", rows)
            self._evict(db, sum(len(row[5]) for row in rows))
        except sqlite3.Error as exc:
            self._fail("write", exc)

    def known_digests(self, files: Iterable[tuple[Path, tuple]]) -> dict[Path, str]:
        """For (path, ``file_state``) pairs, the digests recorded for files in that state."""
        files = list(files)
        db = self._connection()
        found: dict[Path, str] = {}
        if db is None or not files:
            return found
        wanted = {_path_key(path): (path, repr(tuple(state))) for path, state in files}
        keys = list(wanted)
        try:
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                rows = db.execute(f"SELECT path, state, digest FROM files WHERE path IN "
                                  f"({','.join('?' * len(part))})", part).fetchall()
                for key, state, digest in rows:
                    path, now = wanted[bytes(key)]
                    if state == now:
                        found[path] = digest
        except sqlite3.Error as exc:
            self._fail("read", exc)
        return found

    def remember_digests(self, files: Iterable[tuple[Path, tuple, str]]) -> None:
        """Record (path, ``file_state`` taken before the file was read, digest) triples."""
        db = self._connection()
        rows = [(_path_key(path), repr(tuple(state)), digest) for path, state, digest in files]
        if db is None or not rows:
            return
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO files VALUES (?,?,?)", rows)
        except sqlite3.Error as exc:
            self._fail("write", exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        self._db = None
        self._bytes = None

    def _evict(self, db: sqlite3.Connection, added: int) -> None:
        """Past the bound, remove the least recently used entries. The total is counted over
        the whole table once (every batch, that scan was most of a put's time in a big cache),
        then kept by adding what each put stores; it is counted again before evicting, so an
        entry replaced, or another process's writes, never evict more than needed."""
        if self._bytes is not None and self._bytes + added <= self.max_bytes:
            self._bytes += added
            return
        total = db.execute("SELECT COALESCE(SUM(LENGTH(vector)), 0) FROM features").fetchone()[0]
        self._bytes = total
        if total <= self.max_bytes:
            return
        excess, removed = total - int(self.max_bytes * 0.9), []
        rows = db.execute("SELECT digest, backbone, size, augment, copy, LENGTH(vector) "
                          "FROM features ORDER BY used")
        for *row, length in rows:
            if excess <= 0:
                break
            removed.append((*row, length))
            excess -= length
        with db:
            db.executemany("DELETE FROM features WHERE digest=? AND backbone=? AND size=? AND "
                           "augment=? AND copy=?", [row[:-1] for row in removed])
            db.execute("DELETE FROM files WHERE digest NOT IN (SELECT digest FROM features)")
        self._bytes = total - sum(length for *_, length in removed)
        logger.info("Feature cache over %d bytes: %d entries evicted", self.max_bytes,
                    len(removed))

    def _connection(self) -> sqlite3.Connection | None:
        if not self._opened:
            self._opened = True
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection | None:
        def prepare(db: sqlite3.Connection) -> None:
            db.execute(_SCHEMA)
            db.execute(_FILES_SCHEMA)
            db.execute("SELECT COUNT(*) FROM features").fetchone()  # damaged -> error

        return open_cache_db(self.path, prepare, "Feature cache", "features are not cached")

    def _fail(self, what: str, exc: Exception) -> None:
        logger.warning("Feature cache %s failed (%s); carrying on without it", what, exc)
        self.close()
