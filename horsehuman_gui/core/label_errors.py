"""Suspected label errors: pictures that a model trained without them confidently puts in
another class than their folder's.

The dataset is cut into folds; for each fold a fast linear head (multinomial logistic
regression with L2, in numpy) learns from the other folds' backbone features and predicts the
fold's pictures. A picture whose out-of-fold prediction is another class with high confidence
is a suspect: mislabelled, ambiguous, or not a picture of any class. Near-duplicates
(``LabeledImage.group``) stay in one fold, so a copy cannot vouch for its own label.

``suspected_label_errors`` works on any feature matrix; ``find_label_errors`` gets the
features of a scanned dataset through the feature cache (a second look, or one after training
a pretrained model, computes nothing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["Suspect", "find_label_errors", "out_of_fold_probabilities",
           "suspected_label_errors"]

#: Gradient steps of the linear head, and its L2 penalty (on standardised features).
STEPS, L2 = 300, 1e-2


@dataclass(frozen=True)
class Suspect:
    """A picture filed as ``given`` that a model which never saw it calls ``predicted`` with
    probability ``confidence``."""

    path: Path
    given: str
    predicted: str
    confidence: float


def suspected_label_errors(features: np.ndarray, labels: np.ndarray,
                           class_names: Sequence[str], paths: Sequence[str | Path], *,
                           folds: int = 5, seed: int = 0, confidence: float = 0.8,
                           groups: np.ndarray | None = None) -> list[Suspect]:
    """``features`` (N, D) with their class indices ``labels`` (N,) -> the pictures whose
    out-of-fold prediction is another class with probability >= ``confidence``, most confident
    first. ``groups`` (N,): pictures sharing a value >= 0 are kept in one fold."""
    features, labels = np.asarray(features, np.float64), np.asarray(labels, int)
    if len(features) != len(labels) or len(labels) != len(paths):
        raise ValueError(f"`features`, `labels` and `paths` must have one row per picture. "
                         f"Received: {len(features)}, {len(labels)}, {len(paths)}")
    probabilities = out_of_fold_probabilities(features, labels, len(class_names), folds=folds,
                                              seed=seed, groups=groups)
    predicted = probabilities.argmax(axis=1)
    best = probabilities.max(axis=1)
    chosen = np.flatnonzero((predicted != labels) & (best >= confidence))
    chosen = chosen[np.argsort(-best[chosen], kind="stable")]
    return [Suspect(Path(paths[i]), class_names[labels[i]], class_names[predicted[i]],
                    float(best[i])) for i in chosen]


def out_of_fold_probabilities(features: np.ndarray, labels: np.ndarray, num_classes: int, *,
                              folds: int = 5, seed: int = 0,
                              groups: np.ndarray | None = None) -> np.ndarray:
    """(N, num_classes) class probabilities, each row from a head trained on the other folds."""
    fold_of = _folds(labels, min(folds, len(labels)), seed, groups)
    probabilities = np.zeros((len(labels), num_classes))
    for fold in np.unique(fold_of):
        held = fold_of == fold
        if held.all():  # a single group: nothing to learn from
            probabilities[held] = 1 / num_classes
            continue
        x, mean, scale = _standardised(features[~held])
        weights, bias = _fit(x, labels[~held], num_classes)
        probabilities[held] = _softmax((features[held] - mean) / scale @ weights + bias)
    return probabilities


def _folds(labels: np.ndarray, folds: int, seed: int, groups: np.ndarray | None) -> np.ndarray:
    """A fold per picture: groups dealt out class by class in a seeded order (stratified)."""
    rng = np.random.default_rng(seed)
    unit = np.arange(len(labels)) if groups is None else np.asarray(groups).copy()
    singles = unit < 0
    unit[singles] = unit.max(initial=0) + 1 + np.flatnonzero(singles)  # each its own unit
    fold_of = np.full(len(labels), -1)
    position = 0
    for label in np.unique(labels):
        for u in rng.permutation(np.unique(unit[labels == label])):
            members = unit == u
            if (fold_of[members] < 0).all():  # not dealt yet with another class
                fold_of[members] = position % max(folds, 1)
                position += 1
    return fold_of


def _standardised(x: np.ndarray):
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-8] = 1.0
    return (x - mean) / scale, mean, scale


def _fit(x: np.ndarray, labels: np.ndarray, num_classes: int):
    """Multinomial logistic regression with L2 by Nesterov's accelerated gradient, with the
    step from the loss's Lipschitz constant (always converges, no rate to tune)."""
    n, d = x.shape
    targets = np.eye(num_classes)[labels]
    lipschitz = 0.5 * (np.linalg.norm(x, 2) ** 2 + n) / n + L2
    step = 1.0 / lipschitz
    params = np.zeros((d + 1, num_classes))
    previous = params
    x1 = np.hstack([x, np.ones((n, 1))])
    for t in range(1, STEPS + 1):
        ahead = params + (t - 1) / (t + 2) * (params - previous)
        gradient = x1.T @ (_softmax(x1 @ ahead) - targets) / n
        gradient[:-1] += L2 * ahead[:-1]
        previous, params = params, ahead - step * gradient
    return params[:-1], params[-1]


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def find_label_errors(report, *, backbone: str | None = None,
                      should_stop: Callable[[], bool] | None = None,
                      on_progress: Callable[[int, int], None] | None = None,
                      **options) -> list[Suspect]:
    """``suspected_label_errors`` over every picture of a ``ScanReport`` (training and
    validation parts), on the features of ``backbone`` (default: the offline one) from the
    feature cache. ``on_progress(done, total)`` counts pictures; ``should_stop`` is checked
    between batches (``features.ExtractionCancelled``). Unreadable pictures are left out
    (logged). ``options`` go to ``suspected_label_errors``. Loads TensorFlow."""
    from horsehuman_gui.core.backbones import DEFAULT_BACKBONE, backbone_spec
    from horsehuman_gui.core.feature_cache import FeatureCache, FeatureKey
    from horsehuman_gui.core.features import extract_features
    from horsehuman_gui.core.models import feature_extractor
    from horsehuman_gui.core.transfer import load_backbone

    spec = backbone_spec(backbone or DEFAULT_BACKBONE)
    items = (*report.train, *report.validation)
    extractor = feature_extractor(load_backbone(spec.name, should_stop=should_stop),
                                  spec.input_size)
    cache = FeatureCache()
    try:
        found = extract_features([item.path for item in items], extractor,
                                 FeatureKey(spec.name, spec.input_size), cache=cache,
                                 on_progress=on_progress, should_stop=should_stop)
    finally:
        cache.close()
    kept = [item for item, ok in zip(items, found.ok) if ok]
    logger.info("Looking for label errors among %d pictures (%d unreadable)", len(kept),
                len(items) - len(kept))
    return suspected_label_errors(found.vectors[0][found.ok],
                                  np.array([item.label for item in kept], int),
                                  report.classes, [item.path for item in kept],
                                  groups=np.array([item.group for item in kept], int),
                                  **options)
