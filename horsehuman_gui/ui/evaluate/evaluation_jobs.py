"""The Evaluate tab's background work and the sentences that report it.

What to evaluate on is an ``EvaluationSource``: a folder of class folders (found by
``core.evaluation_run.labelled_items`` in the worker) or the labelled images of the dataset
open (its validation part). Workers get plain values and never touch widgets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from horsehuman_gui.core.dataset import LabeledImage, SkippedFile
    from horsehuman_gui.core.evaluation_run import EvaluatedScores

STORED_NOTE = "Evaluate again to see the pictures behind each cell."


@dataclass(frozen=True)
class EvaluationSource:
    """A folder of class folders, or ready labelled images (``items``, labels index the
    model's classes)."""

    description: str
    folder: Path | None = None
    items: tuple[LabeledImage, ...] = ()

    def __post_init__(self):
        if self.folder is None and not self.items:
            raise ValueError("an EvaluationSource needs `folder` or `items`. Received neither")


@dataclass(frozen=True)
class EvaluationRun:
    """What one evaluation found: the scores, and the files left out before predicting."""

    scores: EvaluatedScores
    skipped: tuple[SkippedFile, ...]
    source: EvaluationSource


def evaluate_job(bundle, source: EvaluationSource):
    """Task fn: reports (done, total); returns an EvaluationRun, or None when stopped before
    any image was scored. ``DatasetError`` (no class folder, nothing readable) fails the task."""
    def run(should_stop, report):
        from horsehuman_gui.core.evaluation_run import (EvaluationCancelled, evaluate_items,
                                                        labelled_items)
        from horsehuman_gui.core.memory import collect_dropped_models

        collect_dropped_models()  # a model just replaced: its memory first, not beside ours
        items, skipped = list(source.items), []
        if source.folder is not None:
            items, skipped = labelled_items(source.folder, bundle.class_names)
        try:
            scores = evaluate_items(bundle, items, should_stop=should_stop,
                                    on_progress=lambda done, total: report((done, total)))
        except EvaluationCancelled:
            return None
        return EvaluationRun(scores, tuple(skipped), source)
    return run


def dataset_name(root) -> str:
    """horse-or-human for .../horse-or-human/train (``core.runs.dataset_name``)."""
    from horsehuman_gui.core.runs import dataset_name as name

    return name(root)


def validation_source(report, class_names) -> EvaluationSource | None:
    """The validation part of ``report`` (a ScanReport) when its classes are the model's."""
    if report is None or not report.validation or tuple(report.classes) != tuple(class_names):
        return None
    return EvaluationSource(f"the validation part of {dataset_name(report.root)}",
                            items=tuple(report.validation))


def default_source(bundle, report) -> EvaluationSource | None:
    """Where a model is evaluated unless the person picks a folder: the dataset open when the
    model was trained on it, else the training folder named in the model file when it has a
    separate validation folder (then only that part is used)."""
    if bundle is None:
        return None
    trained_on = (bundle.dataset or {}).get("root")
    if report is not None and trained_on and Path(trained_on) == Path(os.path.abspath(report.root)):
        return validation_source(report, bundle.class_names)
    if trained_on and (bundle.dataset or {}).get("layout") == "split" and Path(trained_on).is_dir():
        return EvaluationSource(f"the validation part of {dataset_name(trained_on)}",
                                folder=Path(trained_on))
    return None


def progress_text(done: int, total: int) -> str:
    return f"Evaluating: {done:,} of {total:,} images\u2026"


def finished_text(run: EvaluationRun) -> str:
    """'Evaluated 200 images of ...' with what was left out, if anything (the accuracy is in
    the headline above it, which follows the threshold)."""
    scores = run.scores
    text = f"Evaluated {len(scores.labels):,} images of {run.source.description}"
    left_out = len(scores.failed) + len(run.skipped)
    if left_out:
        text += f"; {left_out:,} file(s) left out"
    if scores.stopped:
        text += " (stopped early: the figures cover the images done)"
    return text + "."
