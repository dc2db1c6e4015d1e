"""The model file: one ``.keras`` file a user can move, carrying class names, input size and the
app version; loads back ready to predict. Keras safe mode stays on when loading."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelBundle:
    model: Any = field(repr=False)  # keras.Model taking raw 0-255 RGB pixels
    class_names: tuple[str, ...]
    image_size: int
    app_version: str
    path: Path | None = None
    warnings: tuple[str, ...] = ()

    @property
    def binary(self) -> bool:
        return len(self.class_names) == 2


def save_bundle(bundle: ModelBundle, path: str | Path) -> Path:
    """Write atomically (temp file beside ``path``, then rename); return the path written."""
    raise NotImplementedError


def load_bundle(path: str | Path, class_names: tuple[str, ...] | None = None) -> ModelBundle:
    """Load a model file; raise ``ModelFileError`` with a plain message when it cannot be used."""
    raise NotImplementedError
