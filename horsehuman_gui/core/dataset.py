"""Scan a dataset folder: layout, classes, images per part, skipped files with reasons.

Two layouts are detected automatically:

* ``"split"``: the course's layout, a root holding ``train/`` (or ``training/``) and
  ``validation/`` (or ``val/``, ``test/``), each with the same class sub-folders;
* ``"classes"``: a root whose sub-folders are the classes; a stratified, seeded validation part
  is held out (every class in both parts, same proportions).

No TensorFlow here: scanning is PIL only, so the GUI can scan before TF has loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class SkippedFile:
    """A file that was found but not used, with a short reason a person understands."""

    path: Path
    reason: str


@dataclass(frozen=True)
class LabeledImage:
    path: Path
    label: int  # index into ScanReport.classes


@dataclass(frozen=True)
class ScanReport:
    root: Path
    layout: str  # "split" or "classes"
    classes: tuple[str, ...]
    train: tuple[LabeledImage, ...]
    validation: tuple[LabeledImage, ...]
    skipped: tuple[SkippedFile, ...]
    warnings: tuple[str, ...]
    #: fraction held out for the "classes" layout (None for "split")
    validation_split: float | None
    seed: int

    def counts(self, part: str) -> dict[str, int]:
        """Images per class name in ``part`` ("train" or "validation"), every class present."""
        items = self.train if part == "train" else self.validation
        counts = {name: 0 for name in self.classes}
        for item in items:
            counts[self.classes[item.label]] += 1
        return counts


ProgressFn = Callable[[int, int], None]  # (files checked, files found)


def scan_dataset(
    root: str | Path,
    validation_split: float = 0.2,
    seed: int = 42,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ScanReport:
    """Scan ``root``; raise ``DatasetError`` (message says what was found) when unusable."""
    raise NotImplementedError
