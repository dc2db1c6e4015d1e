"""Extract a zip archive from elsewhere without trusting it.

Every member is checked before anything is written, so a bad archive writes nothing: no
absolute paths or drive letters, no ``..``, no links or device files, no two members with one
name, bounded member count, total size and compression ratio (zip bombs). While writing, a
member producing more bytes than it declared is stopped. Files are created exclusively (an
existing file is never replaced) and every target is checked to stay inside the destination.
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from horsehuman_gui.core.errors import HorsehumanError

#: Defaults sized for the course's datasets (the largest, rps.zip, unpacks to ~0.25 GB).
MAX_TOTAL_BYTES = 2 * 2**30
MAX_MEMBERS = 20_000
#: PNG and JPEG barely compress; text compresses ~10x. A bomb compresses ~1000x.
MAX_RATIO = 100
_CHUNK = 1 << 20
#: Mac archive clutter, skipped silently.
_JUNK_PREFIXES = ("__MACOSX/",)


class UnsafeArchiveError(HorsehumanError):
    """The archive is damaged or would write outside its folder, replace files, or explode."""


@dataclass(frozen=True)
class Member:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]  # the relative path's components, after any prefix is removed


def _is_junk(name: str) -> bool:
    return name.startswith(_JUNK_PREFIXES) or PurePosixPath(name).name.startswith("._") \
        or PurePosixPath(name).name in (".DS_Store", "Thumbs.db")


def _parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    name = info.filename
    if "\x00" in name:
        raise UnsafeArchiveError(f"member {name!r} has a NUL character in its name")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise UnsafeArchiveError(f"member {name!r} has an absolute path")
    parts = tuple(p for p in unified.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError(f"member {name!r} points outside the folder (..)")
    return parts


def _kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)  # 0 when the archiver wrote permissions only (Python's writestr)
    if info.create_system == 3 and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        what = "a symbolic link" if stat.S_ISLNK(mode) else "a special file"
        raise UnsafeArchiveError(f"member {info.filename!r} is {what}")
    return "dir" if info.is_dir() else "file"


def check_members(archive: zipfile.ZipFile, max_total_bytes: int = MAX_TOTAL_BYTES,
                  max_members: int = MAX_MEMBERS, max_ratio: float = MAX_RATIO) -> list[Member]:
    """The archive's regular files, checked; raise ``UnsafeArchiveError`` on the first problem.

    Directories and Mac clutter (``__MACOSX/``, ``._*``, ``.DS_Store``) are left out.
    """
    infos = archive.infolist()
    if len(infos) > max_members:
        raise UnsafeArchiveError(f"the archive has {len(infos)} members (at most "
                                 f"{max_members} expected)")
    members, seen, total = [], set(), 0
    for info in infos:
        parts = _parts(info)
        kind = _kind(info)
        if kind == "dir" or not parts or _is_junk(info.filename):
            continue
        key = "/".join(parts).casefold()  # case-insensitive file systems would merge these
        if key in seen:
            raise UnsafeArchiveError(f"member {info.filename!r} appears twice")
        seen.add(key)
        total += info.file_size
        if total > max_total_bytes:
            raise UnsafeArchiveError(f"the archive unpacks to more than {max_total_bytes:,} "
                                     "bytes")
        if info.file_size > max_ratio * max(info.compress_size, 1) + 4096:
            raise UnsafeArchiveError(f"member {info.filename!r} is compressed "
                                     f"{info.file_size // max(info.compress_size, 1)}:1 "
                                     "(a zip bomb?)")
        members.append(Member(info, parts))
    return members


def common_top_folder(members: list[Member]) -> str | None:
    """The one folder every member sits in (``rps/`` in ``rps.zip``), else None."""
    tops = {m.parts[0] for m in members}
    if len(tops) == 1 and all(len(m.parts) > 1 for m in members):
        return next(iter(tops))
    return None


def safe_extract(archive: zipfile.ZipFile, dest: str | Path, members: list[Member],
                 strip: int = 0, should_stop: Callable[[], bool] | None = None) -> int:
    """Write ``members`` (from ``check_members``) under the existing folder ``dest``, without
    their first ``strip`` path components; return the number of files written.

    Never replaces a file (``UnsafeArchiveError``); checks each member's CRC and size as it
    is written. ``should_stop()`` returning True stops between files (``InterruptedError``).
    """
    root = Path(os.path.realpath(dest))
    written = 0
    for member in members:
        if should_stop is not None and should_stop():
            raise InterruptedError("extraction cancelled")
        parts = member.parts[strip:]
        if not parts:
            continue
        target = root.joinpath(*parts)
        _inside(root, target.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        _inside(root, Path(os.path.realpath(target.parent)))
        _copy(archive, member.info, target)
        written += 1
    return written


def _inside(root: Path, path: Path) -> None:
    if path != root and root not in path.parents:
        raise UnsafeArchiveError(f"{path} is outside {root}")


def _copy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    try:
        out = open(target, "xb")
    except FileExistsError as exc:
        raise UnsafeArchiveError(f"{target} already exists; nothing is replaced") from exc
    with out, archive.open(info) as source:
        size = 0
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > info.file_size:
                raise UnsafeArchiveError(f"member {info.filename!r} is larger than it says")
            out.write(chunk)
