"""What a scan found out about each image, kept so that scanning an unchanged folder again takes
seconds instead of checking every picture again.

One SQLite file in the user's cache folder (``feature_cache.cache_dir() / "scan"``). An entry is
keyed by the file's absolute path, size, modification time (ns) and inode: a file changed in any
way, or replaced by another, is checked again. It keeps the verdict: why the file is unusable, or
its ``groups.ImageInfo`` from a full decode or from the header only (a header-only entry never
stands in for a full decode). Bounded (``MAX_ROWS``, least recently used go first); safe to
delete at any time; a damaged or unwritable cache is only a miss (logged), never an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Sequence

from horsehuman_gui.core.feature_cache import cache_dir, open_cache_db
from horsehuman_gui.core.groups import ImageInfo, header_only

logger = logging.getLogger(__name__)

#: ~100 MB on disk when every entry is a full decode's (~500 bytes: hashes and thumbnail),
#: ~20 MB when header-only (~100 bytes)
MAX_ROWS = 200_000
#: bump when ``describe_image`` or ``describe_header`` change what they find: older verdicts go
SCHEMA_VERSION = 1
Key = tuple  # (size, mtime_ns, inode) from os.stat

_HEADER, _FULL = 1, 2
_TOUCH_AFTER = 3600.0  # seconds: an entry used again within the hour is not rewritten
_FLUSH_ROWS = 4096
_IN_LIMIT = 500  # SQLite's bound parameters per statement, with room to spare
_SCHEMA = """CREATE TABLE IF NOT EXISTS checks (
    path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime INTEGER NOT NULL, inode INTEGER NOT NULL,
    level INTEGER NOT NULL, reason TEXT, width INTEGER, height INTEGER, digest TEXT,
    pixels TEXT, dhash INTEGER, thumb BLOB, taken REAL, used REAL NOT NULL) WITHOUT ROWID"""
#: the columns without the hashes and thumbnail (empty in their place): what a header check gives
_HEADER_COLUMNS = ("path, size, mtime, inode, level, reason, width, height, '', '', 0, X'', "
                   "taken, used")
#: reasons that depend on the file system, not on the file's bytes: checked again every time
_NOT_KEPT = ("cannot read", "file not found", "broken link", "link loop", "is a folder",
             "not a regular file")


def file_key(path: str | Path) -> Key | None:
    """The cache key of ``path`` besides its name, or None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def _name(path: Path) -> bytes:
    # bytes: a file name that is not valid UTF-8 must still be a key (SQLite text is UTF-8).
    # An absolute path is taken as it is (normalising 100,000 of them took ~0.3 s of a warm
    # scan): the same file by another spelling is only a cache miss.
    name = os.fspath(path)
    return os.fsencode(name if os.path.isabs(name) else os.path.abspath(name))


def _signed(value: int) -> int:
    return value - 2**64 if value >= 2**63 else value  # SQLite integers are signed 64-bit


class ScanCache:
    """Verdicts by (path, ``Key``). Use from one thread at a time; ``close`` writes what is
    left and applies the bound."""

    def __init__(self, folder: str | Path | None = None, max_rows: int = MAX_ROWS):
        self.path = Path(folder if folder is not None else cache_dir() / "scan") \
            / "scan.sqlite3"
        self.max_rows = max_rows
        self._db: sqlite3.Connection | None = None
        self._opened = False
        self._pending: list[tuple] = []
        self._written = 0

    def get(self, paths: Sequence[Path], keys: Sequence[Key | None], full: bool
            ) -> list[ImageInfo | str | None]:
        """The cached verdict per path (None: not cached, changed, or only header-checked when
        ``full``). Without ``full``, infos come without their hashes (``groups.header_only``)."""
        found: list[ImageInfo | str | None] = [None] * len(paths)
        db = self._connection()
        if db is None:
            return found
        wanted = {_name(p): i for i, (p, k) in enumerate(zip(paths, keys)) if k is not None}
        try:
            rows, now = [], time.time()
            columns = "*" if full else _HEADER_COLUMNS
            names = list(wanted)
            for start in range(0, len(names), _IN_LIMIT):
                part = names[start:start + _IN_LIMIT]
                rows += db.execute(f"SELECT {columns} FROM checks WHERE path IN "
                                   f"({','.join('?' * len(part))})", part).fetchall()
            stale = []
            for row in rows:
                i = wanted[row[0]]
                if tuple(row[1:4]) == tuple(keys[i]) and (row[4] == _FULL or not full):
                    found[i] = self._verdict(paths[i], row, full)
                    if row[13] < now - _TOUCH_AFTER:
                        stale.append((now, row[0]))
            if stale:
                with db:
                    db.executemany("UPDATE checks SET used=? WHERE path=?", stale)
        except sqlite3.Error as exc:
            self._fail("read", exc)
        return found

    @staticmethod
    def _verdict(path: Path, row: tuple, full: bool) -> ImageInfo | str:
        reason, width, height, digest, pixels, dhash, thumb, taken = row[5:13]
        if reason is not None:
            return reason
        info = ImageInfo(path, width, height, digest, pixels, dhash & (2**64 - 1), thumb, taken)
        return info if full else header_only(info)

    def put(self, path: Path, key: Key | None, verdict: ImageInfo | str) -> None:
        """Remember ``verdict`` for ``path`` as it was when ``key`` was taken (written in
        batches; verdicts about access rather than content are not kept)."""
        if key is None or (isinstance(verdict, str) and verdict.startswith(_NOT_KEPT)):
            return
        if isinstance(verdict, str):
            row = (_FULL, verdict, None, None, None, None, None, None, None)
        else:
            row = (_FULL if verdict.hashed else _HEADER, None, verdict.width, verdict.height,
                   verdict.digest, verdict.pixels, _signed(verdict.dhash), verdict.thumb,
                   verdict.taken)
        self._pending.append((_name(path), *key, *row, time.time()))
        if len(self._pending) >= _FLUSH_ROWS:
            self._flush()

    def close(self) -> None:
        """Write what is pending, drop the least recently used entries past ``max_rows``."""
        self._flush()
        if self._db is not None and self._written:
            with contextlib.suppress(sqlite3.Error):
                self._evict(self._db)
        if self._db is not None:
            self._db.close()
        self._db = None

    def _flush(self) -> None:
        rows, self._pending = self._pending, []
        db = self._connection() if rows else None
        if db is None:
            return
        try:
            with db:
                db.executemany(f"INSERT OR REPLACE INTO checks VALUES ({','.join('?' * 14)})",
                               rows)
            self._written += len(rows)
        except sqlite3.Error as exc:
            self._fail("write", exc)

    def _evict(self, db: sqlite3.Connection) -> None:
        total = db.execute("SELECT COUNT(*) FROM checks").fetchone()[0]
        if total <= self.max_rows:
            return
        excess = total - int(self.max_rows * 0.9)
        with db:
            db.execute("DELETE FROM checks WHERE path IN "
                       "(SELECT path FROM checks ORDER BY used LIMIT ?)", (excess,))
        logger.info("Scan cache over %d entries: %d evicted", self.max_rows, excess)

    def _connection(self) -> sqlite3.Connection | None:
        if not self._opened:
            self._opened = True
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection | None:
        def prepare(db: sqlite3.Connection) -> None:
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                with db:  # another version's verdicts (or a new file): start afresh
                    db.execute("DROP TABLE IF EXISTS checks")
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute(_SCHEMA)
            db.execute("SELECT COUNT(*) FROM checks LIMIT 1").fetchone()  # damaged -> error

        return open_cache_db(self.path, prepare, "Scan cache", "every image is checked")

    def _fail(self, what: str, exc: Exception) -> None:
        logger.warning("Scan cache %s failed (%s); carrying on without it", what, exc)
        self._pending = []
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None
