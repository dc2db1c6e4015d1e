"""Install the desktop launcher and icon for the current user (freedesktop.org systems), so the
app starts by double-click and appears in the applications menu. No Qt here.

Files written (``$XDG_DATA_HOME`` defaults to ``~/.local/share``)::

    $XDG_DATA_HOME/applications/horsehuman-gui.desktop
    $XDG_DATA_HOME/icons/hicolor/256x256/apps/horsehuman-gui.png
    $XDG_DATA_HOME/icons/hicolor/scalable/apps/horsehuman-gui.svg

Files this module wrote are recognised by a marker line in the launcher (or identical bytes for
icons) and may be replaced or removed; anybody else's file is left alone unless ``force``.

The launcher declares no MIME types: ``inode/directory`` would make the app a handler for every
folder, and on some desktops the default folder opener. ``mimeinfo.cache`` entries that earlier
versions registered are taken out again (and the file removed once it holds no entry).
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from horsehuman_gui.core.errors import HorsehumanError
from horsehuman_gui.ui.common.resources import DESKTOP_FILE, ICON_PNG, ICON_SVG, resource_path

logger = logging.getLogger(__name__)

EXECUTABLE = "horsehuman-gui"
#: A key of our own in the .desktop file: proves a file at our path is our earlier install.
MARKER = "X-Horsehuman-Gui-Installed-By"


class LauncherError(HorsehumanError):
    """The launcher cannot be installed or removed; the message says which file and why."""


@dataclass(frozen=True)
class LauncherFiles:
    desktop: Path
    icon_png: Path
    icon_svg: Path

    def all(self) -> tuple[Path, Path, Path]:
        return self.desktop, self.icon_png, self.icon_svg


def data_home() -> Path:
    """``$XDG_DATA_HOME`` when set to an absolute path (the spec ignores relative ones), else
    ``~/.local/share``."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".local" / "share"


def launcher_files(base: Path | None = None) -> LauncherFiles:
    base = base or data_home()
    icons = base / "icons" / "hicolor"
    return LauncherFiles(desktop=base / "applications" / DESKTOP_FILE,
                         icon_png=icons / "256x256" / "apps" / ICON_PNG,
                         icon_svg=icons / "scalable" / "apps" / ICON_SVG)


def find_command() -> list[str]:
    """The command that starts the app from this installation: the ``horsehuman-gui``
    executable beside this Python (its environment's ``bin/``: a pipx install's own
    environment, or a clone's ``.venv``), else the one this process was started as, else one
    on PATH; failing all, this Python running ``-m horsehuman_gui``.

    The environment's executable comes before PATH: another installation found first on PATH
    (a clone's ``.venv/bin`` put there) is not the one asked to install the launcher.
    """
    candidates = [Path(sys.executable).parent / EXECUTABLE]
    if Path(sys.argv[0]).name == EXECUTABLE:
        candidates.append(sys.argv[0])
    candidates.append(shutil.which(EXECUTABLE))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and Path(candidate).is_file():
            return [str(Path(candidate).resolve())]
    # Not resolved: a virtual environment's python is a link to the base interpreter, which
    # does not see the environment's packages.
    return [str(Path(sys.executable).absolute()), "-m", "horsehuman_gui"]


def desktop_entry(command: list[str]) -> str:
    """The shipped .desktop text with ``Exec``/``TryExec`` pointing at ``command``."""
    lines = []
    for line in resource_path(DESKTOP_FILE).read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + " ".join(_desktop_quote(arg) for arg in command) + " %F"
        elif line.startswith("TryExec="):
            line = "TryExec=" + command[0]
        lines.append(line)
    lines.append(f"{MARKER}=horsehuman-gui")
    return "\n".join(lines) + "\n"


def install_launcher(command: list[str] | None = None, base: Path | None = None,
                     force: bool = False) -> LauncherFiles:
    """Write the launcher and icons; return their paths. Raises ``LauncherError`` before writing
    anything if a file in the way is not ours (unless ``force``) or a folder cannot be written."""
    files = launcher_files(base)
    contents = {
        files.desktop: desktop_entry(command or find_command()).encode("utf-8"),
        files.icon_png: resource_path(ICON_PNG).read_bytes(),
        files.icon_svg: resource_path(ICON_SVG).read_bytes(),
    }
    if not force:
        foreign = [p for p in files.all() if p.exists() and not _is_ours(p, contents[p], files)]
        if foreign:
            raise LauncherError(
                "Not replacing files that horsehuman-gui did not write: "
                + ", ".join(map(str, foreign)) + ". Remove them or use --force.")
    try:
        for path, data in contents.items():
            _write_atomic(path, data)
    except OSError as exc:
        where = exc.filename or "the launcher"
        raise LauncherError(f"Could not write {where}: {exc.strerror}") from exc
    _forget_mime_types(files.desktop)
    _refresh_caches(files)
    logger.info("launcher installed: %s", files.desktop)
    return files


def uninstall_launcher(base: Path | None = None) -> list[Path]:
    """Remove the files ``install_launcher`` wrote; return the ones removed. Files at those paths
    that are not ours are left and reported by ``LauncherError`` (after removing ours)."""
    files = launcher_files(base)
    shipped = {files.icon_png: resource_path(ICON_PNG).read_bytes(),
               files.icon_svg: resource_path(ICON_SVG).read_bytes(), files.desktop: None}
    present = [p for p in files.all() if p.exists() or p.is_symlink()]
    # decide for every file before removing any: icons are recognised via our launcher
    ours = [p for p in present if _is_ours(p, shipped[p], files)]
    for path in ours:
        path.unlink()
    _forget_mime_types(files.desktop)
    _remove_empty_folders(files, base or data_home())
    if ours:
        _refresh_caches(files)
    foreign = [p for p in present if p not in ours]
    if foreign:
        raise LauncherError("Left alone because horsehuman-gui did not write them: "
                            + ", ".join(map(str, foreign)))
    return ours


def _is_ours(path: Path, new_bytes: bytes | None, files: LauncherFiles) -> bool:
    """Identical to what we would write, our launcher (marker line), or an icon of ours from an
    earlier version (it sits beside our launcher)."""
    data = _read_regular(path)
    if data is None:
        return False
    if new_bytes is not None and data == new_bytes:
        return True
    if path == files.desktop:
        return _has_marker(data)
    launcher = _read_regular(files.desktop)
    return launcher is not None and _has_marker(launcher)


def _read_regular(path: Path) -> bytes | None:
    try:
        if path.is_symlink() or not path.is_file():
            return None
        return path.read_bytes()
    except OSError:
        return None


def _has_marker(desktop_bytes: bytes) -> bool:
    return f"\n{MARKER}=".encode() in desktop_bytes


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _desktop_quote(arg: str) -> str:
    # The Desktop Entry spec quotes arguments with reserved characters in double quotes.
    if arg and all(c.isalnum() or c in "/-_.+,:=@" for c in arg):
        return arg
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'


def _forget_mime_types(desktop: Path) -> None:
    """Take our launcher out of ``mimeinfo.cache`` beside it (earlier versions registered it for
    ``inode/directory``); remove the file once no entry is left. Others' entries stay."""
    cache = desktop.parent / "mimeinfo.cache"
    try:
        lines = cache.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return
    kept, entries = [], 0
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and not line.startswith(("[", "#")):
            ids = [i for i in value.split(";") if i and i != desktop.name]
            if not ids:
                continue
            line, entries = f"{key}={';'.join(ids)};", entries + 1
        kept.append(line)
    try:
        if entries:
            if kept != lines:
                _write_atomic(cache, ("\n".join(kept) + "\n").encode("utf-8"))
        else:
            cache.unlink()
    except OSError as exc:
        logger.debug("could not update %s: %s", cache, exc)


def _remove_empty_folders(files: LauncherFiles, base: Path) -> None:
    """The icon folders install made, once empty (up to ``base/icons``; never ``base``)."""
    for icon in (files.icon_png, files.icon_svg):
        folder = icon.parent
        while folder != base and base in folder.parents:
            try:
                folder.rmdir()  # only succeeds when empty
            except OSError:
                break
            folder = folder.parent


def _refresh_caches(files: LauncherFiles) -> None:
    """Best effort: tell desktop environments about the new icons right away (no MIME cache:
    the launcher declares no MIME types)."""
    theme = files.icon_png.parents[2]
    jobs = []
    if (theme / "icon-theme.cache").exists():  # never create a cache: a stale one hides icons
        jobs.append(["gtk-update-icon-cache", "-q", "-t", "-f", str(theme)])
    for job in jobs:
        if shutil.which(job[0]):
            try:
                subprocess.run(job, check=False, timeout=20, capture_output=True)
            except (OSError, subprocess.SubprocessError) as exc:
                logger.debug("%s failed: %s", shlex.join(job), exc)
