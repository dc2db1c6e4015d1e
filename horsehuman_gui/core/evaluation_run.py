"""Evaluate a model on labelled images: predict them (``core.prediction``) and score the result
(``core.evaluation``).

``labelled_items(folder, class_names)`` finds the images of a folder whose sub-folders are named
like the model's classes; ``evaluate_items(bundle, items)`` predicts them and returns the
``Scores`` to read figures from (``.evaluate(threshold)``). Files that cannot be read are left
out of the scores and listed in ``EvaluatedScores.failed``.

A dataset root in the course's layout (``train/`` and ``validation/``) is evaluated on its
validation part only: the training images are what the model learnt from, and accuracy on them
says little about new pictures.

No TensorFlow at import time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from horsehuman_gui.core.dataset import (TRAIN_NAMES, VALIDATION_NAMES, LabeledImage,
                                         SkippedFile)
from horsehuman_gui.core.errors import DatasetError, HorsehumanError
from horsehuman_gui.core.evaluation import Scores
from horsehuman_gui.core.files import is_hidden, walk_images

__all__ = ["EvaluatedScores", "EvaluationCancelled", "evaluate_items", "labelled_items"]

PROGRESS_INTERVAL = 0.1  # seconds between progress calls (the last one is always made)


class EvaluationCancelled(HorsehumanError):
    """``should_stop()`` returned True before any image was scored."""

    def __init__(self) -> None:
        super().__init__("evaluation cancelled")


@dataclass(frozen=True, eq=False)
class EvaluatedScores(Scores):
    """``Scores`` of the images that could be read, plus what was left out."""

    #: files that could not be read, with the reason (not in the scores)
    failed: tuple[SkippedFile, ...] = ()
    #: True when ``should_stop`` ended the run early: the scores cover the first images only
    stopped: bool = False


def evaluate_items(bundle, items: Sequence[LabeledImage], *, threshold: float = 0.5,
                   should_stop: Callable[[], bool] | None = None,
                   on_progress: Callable[[int, int], None] | None = None,
                   batch_size: int = 32) -> EvaluatedScores:
    """Predict every item's image with ``bundle`` (a ``ModelBundle``) and return its scores.

    ``item.label`` indexes ``bundle.class_names``. ``threshold`` only labels the prediction
    rows (``Scores.evaluate(threshold)`` picks the figures' threshold). ``on_progress(done,
    total)`` comes about 10 times a second and after the last image; ``should_stop()`` is
    checked between batches: the scores then cover the images done (``stopped`` True), and
    ``EvaluationCancelled`` when none were. ``DatasetError`` when no image could be read.
    """
    from horsehuman_gui.core.prediction import predict_files

    items = list(items)
    if not items:
        raise DatasetError("no images to evaluate")
    report = _throttled(on_progress, len(items))
    labels, scores, paths, failed = [], [], [], []
    done = 0
    for item, row in zip(items, predict_files(bundle, [i.path for i in items], batch_size,
                                              threshold, should_stop)):
        done += 1
        if row.ok:
            labels.append(item.label)
            scores.append(row.scores)
            paths.append(item.path)
        else:
            failed.append(SkippedFile(item.path, row.error))
        report(done)
    stopped = done < len(items)
    if not labels:
        if stopped:
            raise EvaluationCancelled()
        raise DatasetError(f"none of the {len(items)} images could be read")
    return EvaluatedScores(labels, scores, tuple(bundle.class_names), tuple(paths),
                           failed=tuple(failed), stopped=stopped)


def _throttled(on_progress, total: int) -> Callable[[int], None]:
    last = -PROGRESS_INTERVAL

    def report(done: int) -> None:
        nonlocal last
        now = time.monotonic()
        if on_progress is not None and (done == total or now - last >= PROGRESS_INTERVAL):
            last = now
            on_progress(done, total)
    return report


def labelled_items(folder: str | Path, class_names: Sequence[str]
                   ) -> tuple[list[LabeledImage], list[SkippedFile]]:
    """(images labelled by their class folder, what was left out and why) under ``folder``.

    ``folder``'s sub-folders are the classes, matched to ``class_names`` by name (exactly,
    else ignoring case); images are found at any depth inside them. A folder holding both a
    training and a validation part (``train/`` and ``validation/``...) uses the validation
    part only. Sub-folders named like no class are skipped with a reason. ``DatasetError``
    when the folder is missing or no sub-folder names a class.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"not a folder: {root}" if root.exists() else
                           f"folder not found: {root}")
    root = _validation_part(root)
    items: list[LabeledImage] = []
    skipped: list[SkippedFile] = []
    matched = 0
    loose, bad = walk_images(root, recursive=False)
    skipped += bad + [SkippedFile(p, "not inside a class folder") for p in loose]
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not is_hidden(p.name)):
        label = _label_of(sub.name, class_names)
        if label is None:
            skipped.append(SkippedFile(sub, "folder not named like any of the model's classes "
                                            f"({', '.join(class_names)})"))
            continue
        matched += 1
        images, bad = walk_images(sub, recursive=True)
        items += [LabeledImage(path, label) for path in images]
        skipped += bad
    if not matched:
        raise DatasetError(f"no sub-folder of {root} is named like the model's classes "
                           f"({', '.join(class_names)})")
    return items, skipped


def _validation_part(root: Path) -> Path:
    folders = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    if any(n in folders for n in TRAIN_NAMES):
        for name in VALIDATION_NAMES:
            if name in folders:
                return folders[name]
    return root


def _label_of(name: str, class_names: Sequence[str]) -> int | None:
    if name in class_names:
        return list(class_names).index(name)
    folded = [c.casefold() for c in class_names]
    return folded.index(name.casefold()) if name.casefold() in folded else None
