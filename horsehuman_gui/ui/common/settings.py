"""A small typed wrapper over QSettings: one table of (key, type, default), slash-grouped keys.

Tests point QSettings at a temporary folder (see tests/ui/conftest.py), never the person's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from horsehuman_gui.core.backbones import DEFAULT_BACKBONE
from horsehuman_gui.core.config import AUTO_BATCH, MODEL_NAMES, defaults_for

ORGANIZATION = "horsehuman-gui"
APPLICATION = "horsehuman-gui"
RECENT_LIMIT = 8
_TRAINING = defaults_for(MODEL_NAMES[0])

#: key -> (type, default)
KEYS: dict[str, tuple[type, Any]] = {
    "window/geometry": (QByteArray, QByteArray()),
    "window/state": (QByteArray, QByteArray()),
    "paths/last_dataset": (str, ""),
    "paths/last_model": (str, ""),
    "paths/last_images": (str, ""),
    "paths/last_export": (str, ""),  # the folder of the last CSV written
    "paths/last_copy": (str, ""),  # the last folder copied into class folders under
    "recent/datasets": (list, []),
    "recent/models": (list, []),
    # The training form starts from the default model's own settings.
    "training/model": (str, MODEL_NAMES[0]),
    "training/backbone": (str, DEFAULT_BACKBONE),
    "training/image_size": (int, _TRAINING["image_size"]),
    "training/epochs": (int, _TRAINING["epochs"]),
    "training/batch_size": (int, AUTO_BATCH),  # the model's own, fitted to the dataset
    "training/learning_rate": (float, _TRAINING["learning_rate"]),
    "training/augment": (str, _TRAINING["augment"]),
    "training/class_weights": (str, _TRAINING["class_weights"]),
    "training/patience": (int, _TRAINING["patience"]),
    "training/reduce_lr": (bool, _TRAINING["reduce_lr"]),
    "training/fine_tune_epochs": (int, _TRAINING["fine_tune_epochs"]),
    "training/tensorboard": (bool, False),
    "network/weights_url": (str, ""),  # a mirror of the pretrained weights ("" = published)
    "training/validation_split": (float, 0.2),
    "training/seed": (int, 42),
    "prediction/threshold": (float, 0.5),
    "prediction/recursive": (bool, False),
    "window/tab": (int, 0),
    "paths/last_saved_model": (str, ""),
    "paths/last_model_export": (str, ""),  # the folder an exported model folder was put in
    "paths/last_report": (str, ""),
    "paths/last_script": (str, ""),
    "paths/last_download": (str, ""),  # the folder a sample dataset was downloaded into
}


class Settings:
    """Typed access: ``get`` always returns the table's type (QSettings returns strings on some
    platforms and formats)."""

    def __init__(self, qsettings: QSettings | None = None):
        self._q = qsettings or QSettings(ORGANIZATION, APPLICATION)

    def get(self, key: str) -> Any:
        kind, default = KEYS[key]
        value = self._q.value(key, default)
        if value is None:
            return default
        try:
            return _coerce(kind, value)
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        kind, _ = KEYS[key]
        self._q.setValue(key, _coerce(kind, value))

    def add_recent(self, key: str, path: str | Path) -> list[str]:
        """Put ``path`` first in the recent list ``key`` (no duplicates, at most RECENT_LIMIT)."""
        path = str(path)
        items = [p for p in self.get(key) if p != path]
        items.insert(0, path)
        del items[RECENT_LIMIT:]
        self.set(key, items)
        return items

    def sync(self) -> None:
        self._q.sync()

    def location(self) -> str:
        """Where the settings are kept (a file, or a registry path on Windows)."""
        return self._q.fileName()


def _coerce(kind: type, value: Any) -> Any:
    if kind is bool:
        return value.lower() in ("true", "1", "yes") if isinstance(value, str) else bool(value)
    if kind is list:
        if isinstance(value, str):
            return [value] if value else []
        return [str(v) for v in value]
    if kind is QByteArray:
        return value if isinstance(value, QByteArray) else QByteArray(value)
    return kind(value)
