"""Where the app keeps what it writes for the user (trained models), per platform.

``HORSEHUMAN_DATA_DIR`` overrides the location (tests use it; so can a person).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable

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
