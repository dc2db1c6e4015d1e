"""Frozen dataclasses that cross the core/UI/CLI boundary for training.

They are built on the caller's thread and handed to workers; nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Model builders known to ``core.models.build_model``; "classic" is the course's CNN.
MODEL_NAMES = ("classic", "compact")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the data; defaults are the course's recipe."""

    model: str = "classic"
    image_size: int = 300
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 0.001
    validation_split: float = 0.2
    seed: int = 42
    #: decoded images are cached in RAM only when they fit this budget (MiB)
    cache_budget_mb: int = 1024

    def __post_init__(self) -> None:
        _check(self.model in MODEL_NAMES,
               f"`model` must be one of {', '.join(MODEL_NAMES)}. Received: {self.model!r}")
        _check(isinstance(self.image_size, int) and 16 <= self.image_size <= 1024,
               f"`image_size` must be a whole number from 16 to 1024. Received: {self.image_size!r}")
        _check(isinstance(self.epochs, int) and 1 <= self.epochs <= 10_000,
               f"`epochs` must be a whole number from 1 to 10000. Received: {self.epochs!r}")
        _check(isinstance(self.batch_size, int) and 1 <= self.batch_size <= 4096,
               f"`batch_size` must be a whole number from 1 to 4096. Received: {self.batch_size!r}")
        _check(isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate <= 10,
               f"`learning_rate` must be a number above 0 and at most 10. "
               f"Received: {self.learning_rate!r}")
        _check(isinstance(self.validation_split, (int, float)) and 0 < self.validation_split < 1,
               f"`validation_split` must be between 0 and 1 (exclusive). "
               f"Received: {self.validation_split!r}")
        _check(isinstance(self.seed, int) and 0 <= self.seed < 2**31,
               f"`seed` must be a whole number from 0 to 2147483647. Received: {self.seed!r}")
        _check(isinstance(self.cache_budget_mb, int) and self.cache_budget_mb >= 0,
               f"`cache_budget_mb` must be a whole number >= 0. Received: {self.cache_budget_mb!r}")


@dataclass(frozen=True)
class EpochMetrics:
    """One finished epoch. ``epoch`` counts from 1. Validation values are None without data."""

    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float


@dataclass(frozen=True)
class BatchProgress:
    """Progress inside an epoch (throttled at the source). ``epoch`` and ``batch`` count from 1."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    accuracy: float
    #: seconds since training started
    elapsed: float

    @property
    def position(self) -> float:
        """Epochs done as a float (x axis of the live plot): epoch 2, half way -> 1.5."""
        return self.epoch - 1 + self.batch / max(self.batches, 1)


@dataclass(frozen=True)
class TrainResult:
    """What ``core.training.train`` returns. ``model`` is a compiled ``keras.Model``."""

    model: Any = field(repr=False)
    class_names: tuple[str, ...]
    image_size: int
    history: tuple[EpochMetrics, ...]
    stopped: bool
    config: TrainConfig

    @property
    def final_val_accuracy(self) -> float | None:
        return self.history[-1].val_accuracy if self.history else None
