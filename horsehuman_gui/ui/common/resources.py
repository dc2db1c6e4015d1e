"""Find what the app ships besides code (icon, launcher) from an installed wheel or a checkout.

pyproject.toml installs the top-level ``resources/`` folder as the package
``horsehuman_gui.resources``. A source checkout (or an editable install, whose finder does not
expose that data-only package) falls back to the repository's ``resources/`` folder.

Qt-free at module level: the launcher installer uses it without starting Qt.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

ICON_SVG = "horsehuman-gui.svg"
ICONS_DIR = "icons"  # the action icons shipped for desktops without an icon theme
ICON_PNG = "horsehuman-gui.png"
DESKTOP_FILE = "horsehuman-gui.desktop"

_CHECKOUT_DIR = Path(__file__).resolve().parents[3] / "resources"


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    """The folder holding the icon and launcher files; raises FileNotFoundError if none does."""
    try:
        from importlib.resources import files

        # A data-only folder is a namespace package: files() gives a MultiplexedPath whose
        # str() is not a path, but joining a name gives a real one.
        icon = files("horsehuman_gui.resources") / ICON_PNG
        if icon.is_file():
            return Path(str(icon)).parent
    except (ModuleNotFoundError, TypeError, ValueError):  # not installed as a wheel
        pass
    if (_CHECKOUT_DIR / ICON_PNG).is_file():
        return _CHECKOUT_DIR
    raise FileNotFoundError(
        f"the app's resources ({ICON_PNG}, {DESKTOP_FILE}) were not found in the installed "
        f"package horsehuman_gui.resources nor in {_CHECKOUT_DIR}")


def resource_path(name: str) -> Path:
    """Path of one shipped file, e.g. ``resource_path(ICON_SVG)``."""
    path = resources_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is missing from {resources_dir()}")
    return path


def app_icon():
    """The application icon as a QIcon (SVG for any size, PNG as a fallback); an empty icon
    rather than an exception if the files are missing, so the app still starts."""
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for name in (ICON_SVG, ICON_PNG):
        try:
            icon.addFile(str(resource_path(name)))
        except FileNotFoundError as exc:
            logger.warning("%s", exc)
    return icon


def action_icon(theme_name: str, file_name: str):
    """The desktop theme's icon ``theme_name`` when it has one, else the shipped
    ``icons/<file_name>`` (SVG): a minimal desktop has no theme and Qt's built-in stand-ins are
    blank pages. An empty icon if neither exists (the action still shows its text)."""
    from PySide6.QtGui import QIcon

    if theme_name and QIcon.hasThemeIcon(theme_name):
        return QIcon.fromTheme(theme_name)
    try:
        return QIcon(str(resource_path(f"{ICONS_DIR}/{file_name}")))
    except FileNotFoundError as exc:
        logger.warning("%s", exc)
        return QIcon()
