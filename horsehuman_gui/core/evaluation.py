"""Evaluate a classifier from its scores: accuracy, per-class figures, confusion, ROC, cells.

Pure numpy on predictions someone else has made (``core.prediction``): ``Scores`` holds the true
labels, the class scores and the files; ``Scores.evaluate(threshold)`` gives an ``Evaluation``,
a small frozen record (stored in a model file through ``to_json``/``from_json``).
``Scores.cell(i, j)`` lists the images of one confusion-matrix cell and
``Scores.least_confident_correct()`` the right answers the model nearly got wrong.

Two classes follow ``prediction.label_for``: class 1 when its score >= threshold. More classes:
the highest score (the threshold is not used). Precision, recall and F1 of a class that was
never predicted (or never present) are 0, as scikit-learn's ``zero_division=0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

JSON_FORMAT = 1


@dataclass(frozen=True)
class ClassFigures:
    """One class's precision, recall, F1 and support (its number of true images)."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """The figures a person reads; ``confusion[i][j]`` counts images of class i predicted j."""

    class_names: tuple[str, ...]
    accuracy: float
    confusion: tuple[tuple[int, ...], ...]
    per_class: tuple[ClassFigures, ...]
    n_images: int
    threshold: float | None = None  # two classes only
    auc: float | None = None  # two classes, both present

    def __post_init__(self) -> None:
        n = len(self.class_names)
        if n < 2 or len(self.confusion) != n or any(len(row) != n for row in self.confusion):
            raise ValueError(f"`confusion` must be {n} x {n} for {n} classes (at least 2). "
                             f"Received: {self.confusion!r}")
        if sum(map(sum, self.confusion)) != self.n_images:
            raise ValueError(f"`confusion` must count `n_images` ({self.n_images}) images. "
                             f"Received: {sum(map(sum, self.confusion))}")

    @property
    def macro_f1(self) -> float:
        return float(np.mean([c.f1 for c in self.per_class]))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types: format, class_names, accuracy, n_images, threshold, auc, confusion
        (rows: true class), per_class ({name, precision, recall, f1, support})."""
        return {"format": JSON_FORMAT, "class_names": list(self.class_names),
                "accuracy": self.accuracy, "n_images": self.n_images,
                "threshold": self.threshold, "auc": self.auc,
                "confusion": [list(row) for row in self.confusion],
                "per_class": [{"name": c.name, "precision": c.precision, "recall": c.recall,
                               "f1": c.f1, "support": c.support} for c in self.per_class]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evaluation:
        """The inverse of ``to_json``; raises ValueError for anything else."""
        try:
            if data["format"] != JSON_FORMAT:
                raise ValueError(f"unknown evaluation format {data['format']!r}")
            return cls(class_names=tuple(map(str, data["class_names"])),
                       accuracy=float(data["accuracy"]), n_images=int(data["n_images"]),
                       threshold=_optional_float(data.get("threshold")),
                       auc=_optional_float(data.get("auc")),
                       confusion=tuple(tuple(int(v) for v in row) for row in data["confusion"]),
                       per_class=tuple(ClassFigures(str(c["name"]), float(c["precision"]),
                                                    float(c["recall"]), float(c["f1"]),
                                                    int(c["support"]))
                                       for c in data["per_class"]))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not an evaluation record: {exc!r}") from None


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class CellItem:
    """One image of a confusion cell: its file, true and predicted class, and confidence."""

    path: Path | None
    true: int
    predicted: int
    confidence: float  # the predicted class's score
    index: int  # row in the scores given


@dataclass(frozen=True)
class RocCurve:
    """False and true positive rates (class 1 positive) at each distinct threshold, descending;
    the first point is (0, 0) at threshold +inf."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float


@dataclass(frozen=True, eq=False)
class Scores:
    """True labels (N,), class scores (N, C) and optional files (N,) of one evaluated set.

    A single column (or a 1-D array) is a two-class sigmoid output: the score of class 1.
    """

    labels: np.ndarray
    scores: np.ndarray
    class_names: tuple[str, ...]
    paths: tuple[Path, ...] | None = None

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels, dtype=np.int64).ravel()
        scores = np.asarray(self.scores, dtype=np.float64)
        names = tuple(self.class_names)
        if scores.ndim == 1 or (scores.ndim == 2 and scores.shape[1] == 1):
            p = scores.reshape(-1)
            scores = np.stack([1.0 - p, p], axis=1)
        if len(names) < 2 or scores.ndim != 2 or scores.shape != (len(labels), len(names)):
            raise ValueError(f"`scores` must be (N, {len(names)}) (or (N, 1) for two classes) "
                             f"for {len(labels)} labels and at least 2 classes. "
                             f"Received: {np.shape(self.scores)}")
        if len(labels) == 0:
            raise ValueError("no images to evaluate. Received: 0 labels")
        if labels.min() < 0 or labels.max() >= len(names):
            raise ValueError(f"`labels` must be class indices 0..{len(names) - 1}. "
                             f"Received: {labels.min()}..{labels.max()}")
        paths = None if self.paths is None else tuple(Path(p) for p in self.paths)
        if paths is not None and len(paths) != len(labels):
            raise ValueError(f"`paths` must have one file per label ({len(labels)}). "
                             f"Received: {len(paths)}")
        for name, value in (("labels", labels), ("scores", scores), ("class_names", names),
                            ("paths", paths)):
            object.__setattr__(self, name, value)

    @property
    def binary(self) -> bool:
        return len(self.class_names) == 2

    def predicted(self, threshold: float = 0.5) -> np.ndarray:
        """Predicted class per image."""
        if self.binary:
            return (self.scores[:, 1] >= threshold).astype(np.int64)
        return np.argmax(self.scores, axis=1)

    def confidence(self, threshold: float = 0.5) -> np.ndarray:
        """The predicted class's score per image."""
        predicted = self.predicted(threshold)
        return self.scores[np.arange(len(predicted)), predicted]

    def confusion(self, threshold: float = 0.5) -> np.ndarray:
        """(C, C) counts, rows the true class, columns the predicted one."""
        n = len(self.class_names)
        matrix = np.zeros((n, n), dtype=np.int64)
        np.add.at(matrix, (self.labels, self.predicted(threshold)), 1)
        return matrix

    def evaluate(self, threshold: float = 0.5) -> Evaluation:
        """Every figure at ``threshold`` (two classes; ignored for more)."""
        matrix = self.confusion(threshold)
        return Evaluation(
            class_names=self.class_names, accuracy=float(np.trace(matrix) / matrix.sum()),
            confusion=tuple(tuple(int(v) for v in row) for row in matrix),
            per_class=_per_class(matrix, self.class_names), n_images=int(matrix.sum()),
            threshold=float(threshold) if self.binary else None,
            auc=self.roc().auc if self.binary and len(set(self.labels.tolist())) == 2 else None)

    at_threshold = evaluate  # the name the threshold slider reads best with

    def roc(self) -> RocCurve:
        """The ROC curve of class 1's score (two classes only) and its area (NaN when one
        class is absent)."""
        if not self.binary:
            raise ValueError(f"a ROC curve needs two classes. Received: {len(self.class_names)}")
        score = self.scores[:, 1]
        order = np.argsort(-score, kind="stable")
        score, positive = score[order], self.labels[order] == 1
        last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]  # end of each tie run
        tp, fp = np.cumsum(positive)[last], np.cumsum(~positive)[last]
        tpr = np.r_[0.0, tp / tp[-1]] if tp[-1] else np.r_[0.0, tp * np.nan]
        fpr = np.r_[0.0, fp / fp[-1]] if fp[-1] else np.r_[0.0, fp * np.nan]
        auc = float(np.trapezoid(tpr, fpr)) if tp[-1] and fp[-1] else math.nan
        return RocCurve(fpr, tpr, np.r_[np.inf, score[last]], auc)

    def cell(self, true: int, predicted: int, threshold: float = 0.5) -> list[CellItem]:
        """The images of class ``true`` predicted ``predicted``, most confident first."""
        chosen = self.predicted(threshold)
        rows = np.flatnonzero((self.labels == true) & (chosen == predicted))
        return self._items(rows, chosen, threshold, descending=True)

    def least_confident_correct(self, count: int | None = None, threshold: float = 0.5
                                ) -> list[CellItem]:
        """Right answers, least confident first (the first ``count`` when given)."""
        chosen = self.predicted(threshold)
        rows = np.flatnonzero(self.labels == chosen)
        return self._items(rows, chosen, threshold, descending=False)[:count]

    def _items(self, rows, chosen, threshold, descending: bool) -> list[CellItem]:
        confidence = self.confidence(threshold)
        key = -confidence[rows] if descending else confidence[rows]
        rows = rows[np.argsort(key, kind="stable")]
        return [CellItem(None if self.paths is None else self.paths[i], int(self.labels[i]),
                         int(chosen[i]), float(confidence[i]), int(i)) for i in rows]


def _per_class(matrix: np.ndarray, names: Sequence[str]) -> tuple[ClassFigures, ...]:
    figures = []
    for i, name in enumerate(names):
        tp, predicted, support = matrix[i, i], matrix[:, i].sum(), matrix[i].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        figures.append(ClassFigures(name, float(precision), float(recall), float(f1),
                                    int(support)))
    return tuple(figures)


def evaluate(labels, scores, class_names: Sequence[str], paths: Sequence | None = None,
             threshold: float = 0.5) -> Evaluation:
    """Shortcut: ``Scores(labels, scores, class_names, paths).evaluate(threshold)``."""
    return Scores(labels, scores, tuple(class_names),
                  None if paths is None else tuple(paths)).evaluate(threshold)
