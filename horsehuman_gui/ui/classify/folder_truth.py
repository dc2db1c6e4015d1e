"""What folder names say about the pictures, for checking and correcting results (no Qt).

A picture inside a folder named like one of the model's classes (``horses/...``, at any depth
below the folder listed, or that folder itself) is taken to be of that class: the Classify
pane then counts how often the model agrees. Corrections go into the open dataset's class
folders (``training_folder``), as copies, so the next training includes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from horsehuman_gui.core.dataset import TRAIN_NAMES


def truth_of(path: Path, folder: Path | None, class_names: Sequence[str]) -> str | None:
    """The class named by the nearest folder holding ``path``, up to and including ``folder``
    (only the picture's own folder when ``folder`` is None); None when none is."""
    by_name = {name.casefold(): name for name in class_names}
    for parent in Path(path).parents:
        name = by_name.get(parent.name.casefold())
        if name is not None:
            return name
        if folder is None or parent == folder or not parent.is_relative_to(folder):
            return None
    return None


def truths(items: Iterable, folder: Path | None, class_names: Sequence[str]) -> dict[str, str]:
    """str(path) -> class name, for the items whose folders name a class.

    Each folder is looked up once: a picture's truth depends only on its folder, and a list
    holds thousands of pictures in a few folders (looking up every picture held the GUI thread
    ~30 ms per 1,000 when a new model came)."""
    found: dict[str, str] = {}
    if not class_names:  # no model yet: no folder can name a class
        return found
    by_folder: dict[str, str | None] = {}
    for item in items:
        path = str(item.path)
        parent = os.path.dirname(path)
        if parent not in by_folder:
            by_folder[parent] = truth_of(item.path, folder, class_names)
        truth = by_folder[parent]
        if truth is not None:
            found[path] = truth
    return found


@dataclass(frozen=True)
class FolderScore:
    """How many classified pictures with a class folder the model got right."""

    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def text(self) -> str:
        return (f"Accuracy against the folder names: {self.accuracy:.1%} "
                f"({self.correct:,} of {self.total:,})")


def folder_score(items: Iterable, truth: dict[str, str]) -> FolderScore | None:
    """The score over the classified items that have a truth; None when there are none."""
    correct = total = 0
    for item in items:
        if item.prediction is None:  # most of a list being classified: no lookup
            continue
        expected = truth.get(str(item.path))
        if expected is not None and item.classified:
            total += 1
            correct += item.prediction.label == expected
    return FolderScore(correct, total) if total else None


def is_mistake(item, truth: dict[str, str]) -> bool:
    expected = truth.get(str(item.path))
    return expected is not None and item.classified and item.prediction.label != expected


def training_folder(report) -> Path:
    """Where a dataset's training pictures live, one sub-folder per class: its ``train/`` part
    in the train/validation layout, else the dataset folder itself."""
    root = Path(report.root)
    if report.layout == "split":
        for child in sorted(root.iterdir()):
            if child.is_dir() and child.name.casefold() in TRAIN_NAMES:
                return child
    return root
