"""Where the app keeps what it writes for the user (trained models), per platform.

``HORSEHUMAN_DATA_DIR`` overrides the location (tests use it; so can a person).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
