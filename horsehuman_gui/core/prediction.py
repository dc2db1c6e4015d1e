"""Batched prediction over files and folders, results streamed as they come."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator


@dataclass(frozen=True)
class Prediction:
    path: Path
    label: str | None  # None when error is set
    confidence: float | None
    scores: tuple[float, ...]  # one per class, same order as the bundle's class_names
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def collect_images(inputs: Iterable[str | Path], recursive: bool = False):
    """Expand files and folders into (image paths, skipped files with reasons)."""
    raise NotImplementedError


def predict_files(bundle, paths, batch_size: int = 32, threshold: float = 0.5,
                  should_stop: Callable[[], bool] | None = None) -> Iterator[Prediction]:
    """Yield one Prediction per path, in order, decoding ahead of the model in threads."""
    raise NotImplementedError
