"""Find image files in folders; report every other entry with a reason, never silently.

Only names and ``stat`` are looked at here (no decoding): ``images.verify_image`` does that.
Symbolic links that resolve are followed; folder link loops terminate because every folder's
(device, inode) is visited once.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from horsehuman_gui.core.images import IMAGE_EXTENSIONS

logger = logging.getLogger(__name__)

#: Files and folders made by operating systems and archivers, never the person's pictures.
SYSTEM_NAMES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db", "__macosx",
                          "$recycle.bin", "system volume information", "icon\r"})


@dataclass(frozen=True)
class SkippedFile:
    """A file that was found but not used, with a short reason a person understands.

    Defined here (files are walked before datasets exist) and re-exported by ``core.dataset``.
    """

    path: Path
    reason: str


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def printable(name: str | os.PathLike) -> str:
    """``name`` (a path or any text) as one line any terminal and any UTF-8 file can hold.

    Bytes of a file name that are not valid UTF-8 (Python keeps each as a lone surrogate)
    become ``\\xNN``, the byte; newline, tab and carriage return become ``\\n``, ``\\t``,
    ``\\r``, other control and invisible separator characters ``\\xNN`` / ``\\uNNNN``.
    Everything else, accents and other scripts included, is unchanged.
    """
    text = os.fspath(name)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    if char in _ESCAPES:
        return _ESCAPES[char]
    return f"\\x{code:02x}" if code < 0x100 else (
        f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def is_hidden(name: str) -> bool:
    """True for dot-files and the system names above (case-insensitive)."""
    return name.startswith(".") or name.lower() in SYSTEM_NAMES


def _stat_failure(exc: OSError, is_link: bool) -> str:
    if isinstance(exc, PermissionError):
        return "cannot read: permission denied"
    if exc.errno == errno.ELOOP:
        return "link loop"
    if isinstance(exc, FileNotFoundError):
        return "broken link" if is_link else "not found"
    return f"cannot read: {exc.strerror or exc}"


def split_suffix(name: str) -> tuple[str, str]:
    """(``Path(name).stem``, ``Path(name).suffix``) of a file name, without making a Path."""
    dot = name.rfind(".")
    return (name[:dot], name[dot:]) if 0 < dot < len(name) - 1 else (name, "")


def file_problem(path: str | os.PathLike, st: os.stat_result) -> str | None:
    """Why a regular-looking file cannot be an image, judged from its name and ``stat``
    (``path``: anything ``os.access`` takes whose name ends the path, e.g. a ``DirEntry``)."""
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    name = os.path.basename(path) if not isinstance(path, os.DirEntry) else path.name
    suffix = split_suffix(name)[1].lower()
    if suffix not in IMAGE_EXTENSIONS:
        return f"not an image file ({suffix})" if suffix else "not an image file (no extension)"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    if not os.access(path, os.R_OK):
        return "cannot read: permission denied"
    return None


def _sort_key(path: Path) -> str:
    """Orders paths as their ``parts`` do: the separator becomes NUL, which sorts before every
    character and is in no name. (``parts`` keeps a tuple on every path: 100,000 more objects
    for the garbage collector to walk, ~30 ms of a collection holding the GIL.)"""
    return os.fspath(path).replace(os.sep, "\0")


#: entries looked at between two calls of a walk's ``on_found`` (a folder of 100,000 files
#: takes about a second to stat: the walk must stay cancellable inside one folder)
_FOUND_EVERY = 512


def _child_maker() -> Callable[[Path, str], Path]:
    """``folder / name`` for a name listed by ``os.scandir``. pathlib's own child-path maker
    (private; used by its ``glob``) skips parsing the name again, which is most of building
    100,000 paths; a pathlib without it, or where it differs, gets the ``/`` operator."""
    make = getattr(Path, "_make_child_relpath", None)
    try:
        probe = Path(os.path.abspath("folder"))
        if make is not None and make(probe, "a b.png") == probe / "a b.png" \
                and type(make(probe, "x")) is type(probe):
            return make
    except Exception:  # noqa: BLE001 - changed internals: the public way below
        pass
    return lambda folder, name: folder / name


_child = _child_maker()


def _scan_folder(folder: Path, recursive: bool, visited: set, images: list, skipped: list,
                 pending: list, on_found: Callable[[int], None] | None = None,
                 keys: list | None = None) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        skipped.append(SkippedFile(folder, "folder " + _stat_failure(exc, folder.is_symlink())))
        return
    for number, entry in enumerate(entries, start=1):
        if on_found is not None and number % _FOUND_EVERY == 0:
            on_found(len(images))
        # the entry's own path string for the system calls: a Path formats its string again
        path = _child(folder, entry.name)
        try:
            st = os.stat(entry)  # follows links: what the entry really is
        except OSError as exc:
            skipped.append(SkippedFile(path, _stat_failure(exc, entry.is_symlink())))
            continue
        if stat.S_ISDIR(st.st_mode):
            if is_hidden(entry.name):
                skipped.append(SkippedFile(path, "hidden or system folder (not searched)"))
            elif not recursive:
                continue
            elif (st.st_dev, st.st_ino) in visited:
                skipped.append(SkippedFile(path, "link loop (folder already searched)"))
            else:
                visited.add((st.st_dev, st.st_ino))
                pending.append(path)
        elif is_hidden(entry.name):
            skipped.append(SkippedFile(path, "hidden or system file"))
        else:
            problem = file_problem(entry, st)
            if problem is None:
                images.append(path)
                if keys is not None:
                    keys.append((st.st_size, st.st_mtime_ns, st.st_ino))
            else:
                skipped.append(SkippedFile(path, problem))


def walk_images(folder: str | Path, recursive: bool = True, *, visited: set | None = None,
                on_found: Callable[[int], None] | None = None, keys: list | None = None
                ) -> tuple[list[Path], list[SkippedFile]]:
    """Image files under ``folder`` (by extension, case-insensitive) and every skipped entry.

    Returns (images sorted by path parts, skipped files/links/folders with reasons). Paths are
    ``folder`` joined with the names found (links are not resolved). A missing or unreadable
    ``folder`` gives no images and one skipped entry saying why. ``visited`` (a set of
    (st_dev, st_ino), updated) lets several walks share it, so a link from one class folder
    into another is reported instead of walked twice. ``on_found(images found so far)`` is
    called after each folder and every few hundred entries; an exception it raises stops the
    walk and propagates (that is how a scan is cancelled while walking). ``keys`` (a list,
    extended) gets each image's (size, modification time in ns, inode) from the walk's own
    ``stat``, in the order of the images returned: the scan cache's key, without a second
    ``stat`` per file (a list, not a dict by path: hashing 100,000 paths took ~0.4 s).
    """
    folder = Path(folder)
    images: list[Path] = []
    skipped: list[SkippedFile] = []
    try:
        st = os.stat(folder)
    except OSError as exc:
        return [], [SkippedFile(folder, "folder " + _stat_failure(exc, folder.is_symlink()))]
    if not stat.S_ISDIR(st.st_mode):
        return [], [SkippedFile(folder, "not a folder")]
    visited = set() if visited is None else visited
    visited.add((st.st_dev, st.st_ino))
    pending = [folder]
    found_keys: list | None = None if keys is None else []
    while pending:
        _scan_folder(pending.pop(), recursive, visited, images, skipped, pending, on_found,
                     found_keys)
        if on_found is not None:
            on_found(len(images))
    if found_keys is None:
        images.sort(key=_sort_key)
    else:
        order = sorted(range(len(images)), key=lambda i: _sort_key(images[i]))
        images = [images[i] for i in order]
        keys.extend(found_keys[i] for i in order)
    skipped.sort(key=lambda s: _sort_key(s.path))
    return images, skipped


def _collect_file(path: Path) -> tuple[list[Path], list[SkippedFile]]:
    try:
        st = os.stat(path)
    except OSError as exc:
        return [], [SkippedFile(path, _stat_failure(exc, path.is_symlink()))]
    if stat.S_ISDIR(st.st_mode):
        return [], []  # handled by the caller
    problem = file_problem(path, st)
    return ([path], []) if problem is None else ([], [SkippedFile(path, problem)])


def _identity(path: Path) -> str:
    return os.path.realpath(path)


def collect_images(inputs: Iterable[str | Path], recursive: bool = False
                   ) -> tuple[list[Path], list[SkippedFile]]:
    """Expand files and folders into (image paths, skipped files with reasons).

    Files are taken as given (even hidden ones: the person chose them); folders are expanded
    with ``walk_images`` (``recursive`` as asked). Order: inputs order, sorted within a folder.
    The same file reached twice (also through a link) is listed once.
    """
    images: list[Path] = []
    skipped: list[SkippedFile] = []
    seen: set[str] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found, bad = walk_images(path, recursive)
        else:
            found, bad = _collect_file(path)
        for image in found:
            key = _identity(image)
            if key not in seen:
                seen.add(key)
                images.append(image)
        for entry in bad:
            key = "skipped:" + _identity(entry.path) + entry.reason
            if key not in seen:
                seen.add(key)
                skipped.append(entry)
    return images, skipped
