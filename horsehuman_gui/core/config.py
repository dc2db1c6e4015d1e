"""Frozen dataclasses that cross the core/UI/CLI boundary for training.

They are built on the caller's thread and handed to workers; nothing here imports TensorFlow.
``defaults_for(model)`` gives each model's own sensible settings; the GUI form and the CLI both
start from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from horsehuman_gui.core.backbones import BACKBONES, DEFAULT_BACKBONE  # plain data, no TF

#: Model builders known to ``core.training.train``; the first is the default. "pretrained" is a
#: frozen ImageNet backbone with a small head, "classic" the course's CNN, "compact" a small CNN.
MODEL_NAMES = ("pretrained", "classic", "compact")

#: Augmentation presets (see ``core.augment``): random flips, rotations, zooms, shifts, contrast.
AUGMENT_PRESETS = ("off", "light", "strong")

#: "auto" weighs classes by their inverse frequency when the largest is > 1.5x the smallest.
CLASS_WEIGHT_MODES = ("auto", "on", "off")


_DEFAULTS = {
    # A frozen backbone: features are computed once, the head trains in seconds.
    "pretrained": {"image_size": BACKBONES[DEFAULT_BACKBONE].input_size, "learning_rate": 0.001, "epochs": 40, "batch_size": 32,
                   "augment": "off", "patience": 8, "reduce_lr": False,
                   "fine_tune_epochs": 0, "class_weights": "auto"},
    # Exactly the course's recipe.
    "classic": {"image_size": 300, "learning_rate": 0.001, "epochs": 15, "batch_size": 128,
                "augment": "off", "patience": 0, "reduce_lr": False,
                "fine_tune_epochs": 0, "class_weights": "off"},
    # Small images, batch norm, Adam and augmentation: learns real photos from a few hundred.
    "compact": {"image_size": 128, "learning_rate": 0.001, "epochs": 30, "batch_size": 32,
                "augment": "light", "patience": 8, "reduce_lr": True,
                "fine_tune_epochs": 0, "class_weights": "auto"},
}


#: ``TrainConfig.batch_size`` of 0: the model's own batch size, fitted to the dataset by ``train``
#: (``fitted_batch_size``). The GUI form and the CLI pass it unless a size is chosen.
AUTO_BATCH = 0

#: Training steps an epoch below which a network learnt from scratch barely moves in its epochs.
#: The course's recipe (batch 128) makes 7 on Horses or Humans' ~820 training renders; on
#: rock-paper-scissors' 192 training photos it makes 2 and stays near chance on new photos
#: (0.53 +- 0.17), where batch 32 (6 steps) reaches 0.85 (bench/accuracy.py, whole groups held out).
FEW_STEPS = 6

#: ``fitted_batch_size`` never goes below this.
MIN_FITTED_BATCH = 8


def fitted_batch_size(model: str, train_images: int) -> int:
    """``model``'s default batch size, halved (down to ``MIN_FITTED_BATCH``) while
    ``train_images`` would make fewer than ``FEW_STEPS`` full steps an epoch.

    Horses or Humans keeps the course's 128 for "classic"; 192 photos get 32."""
    batch = defaults_for(model)["batch_size"]
    while batch > MIN_FITTED_BATCH and train_images < FEW_STEPS * batch:
        batch //= 2
    return batch


def with_batch_size(config: "TrainConfig", train_images: int) -> "TrainConfig":
    """``config`` with an automatic batch size (``AUTO_BATCH``) made ``fitted_batch_size``'s;
    ``config`` itself when a size was chosen."""
    if config.batch_size != AUTO_BATCH:
        return config
    return replace(config, batch_size=fitted_batch_size(config.model, train_images))


def defaults_for(model: str) -> dict[str, Any]:
    """The settings ``model`` (one of ``MODEL_NAMES``) trains well with, as ``TrainConfig``
    keyword arguments: image_size, learning_rate, epochs, batch_size, augment, patience,
    reduce_lr, fine_tune_epochs, class_weights. A new dict each call."""
    _check(model in MODEL_NAMES,
           f"`model` must be one of {', '.join(MODEL_NAMES)}. Received: {model!r}")
    return dict(_DEFAULTS[model])


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the data; defaults are the default model's
    (``defaults_for(MODEL_NAMES[0])``). Choosing another model does not change the other
    fields: build it as ``TrainConfig(model=m, **defaults_for(m))``."""

    model: str = MODEL_NAMES[0]
    image_size: int = _DEFAULTS[MODEL_NAMES[0]]["image_size"]
    epochs: int = _DEFAULTS[MODEL_NAMES[0]]["epochs"]
    #: ``AUTO_BATCH`` (0): the model's own, made smaller by ``train`` for a small dataset
    batch_size: int = _DEFAULTS[MODEL_NAMES[0]]["batch_size"]
    learning_rate: float = _DEFAULTS[MODEL_NAMES[0]]["learning_rate"]
    validation_split: float = 0.2
    seed: int = 42
    #: decoded images are cached in RAM only when they fit this budget (MiB)
    cache_budget_mb: int = 1024
    #: "pretrained" only: the ImageNet network whose features the head learns from
    backbone: str = DEFAULT_BACKBONE
    #: "pretrained" only: epochs that also train the top of the backbone, after the head
    fine_tune_epochs: int = _DEFAULTS[MODEL_NAMES[0]]["fine_tune_epochs"]
    augment: str = _DEFAULTS[MODEL_NAMES[0]]["augment"]
    class_weights: str = _DEFAULTS[MODEL_NAMES[0]]["class_weights"]
    #: epochs without a better validation loss before stopping; the best epoch's weights are
    #: kept. 0 = no early stopping, the last epoch is kept (the course's way).
    patience: int = _DEFAULTS[MODEL_NAMES[0]]["patience"]
    #: divide the learning rate by 5 when the validation loss stops improving
    reduce_lr: bool = _DEFAULTS[MODEL_NAMES[0]]["reduce_lr"]

    def __post_init__(self) -> None:
        _check(self.model in MODEL_NAMES,
               f"`model` must be one of {', '.join(MODEL_NAMES)}. Received: {self.model!r}")
        _check(_whole(self.image_size, 16, 1024),
               f"`image_size` must be a whole number from 16 to 1024. Received: {self.image_size!r}")
        _check(_whole(self.epochs, 1, 10_000),
               f"`epochs` must be a whole number from 1 to 10000. Received: {self.epochs!r}")
        _check(_whole(self.batch_size, AUTO_BATCH, 4096),
               f"`batch_size` must be a whole number from 1 to 4096, or 0 (automatic). "
               f"Received: {self.batch_size!r}")
        _check(isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate <= 10,
               f"`learning_rate` must be a number above 0 and at most 10. "
               f"Received: {self.learning_rate!r}")
        _check(isinstance(self.validation_split, (int, float)) and 0 < self.validation_split < 1,
               f"`validation_split` must be between 0 and 1 (exclusive). "
               f"Received: {self.validation_split!r}")
        _check(_whole(self.seed, 0, 2**31 - 1),
               f"`seed` must be a whole number from 0 to 2147483647. Received: {self.seed!r}")
        _check(_whole(self.cache_budget_mb, 0, 2**40),
               f"`cache_budget_mb` must be a whole number >= 0. Received: {self.cache_budget_mb!r}")
        self._check_training_options()

    def _check_training_options(self) -> None:
        _check(self.backbone in BACKBONES,
               f"`backbone` must be one of {', '.join(BACKBONES)}. Received: {self.backbone!r}")
        _check(_whole(self.fine_tune_epochs, 0, 10_000),
               f"`fine_tune_epochs` must be a whole number from 0 to 10000. "
               f"Received: {self.fine_tune_epochs!r}")
        _check(self.augment in AUGMENT_PRESETS,
               f"`augment` must be one of {', '.join(AUGMENT_PRESETS)}. Received: {self.augment!r}")
        _check(self.class_weights in CLASS_WEIGHT_MODES,
               f"`class_weights` must be one of {', '.join(CLASS_WEIGHT_MODES)}. "
               f"Received: {self.class_weights!r}")
        _check(_whole(self.patience, 0, 10_000),
               f"`patience` must be a whole number from 0 to 10000. Received: {self.patience!r}")
        _check(isinstance(self.reduce_lr, bool),
               f"`reduce_lr` must be True or False. Received: {self.reduce_lr!r}")


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
class StageProgress:
    """Work before the first epoch, throttled at the source (~10 a second, always the last).

    ``stage`` is "backbone" (getting the pretrained network ready; ``done``/``total`` as its
    loader reports them, e.g. bytes) or "features" (images passed through the backbone, cached
    ones included; augmented copies count as images).
    """

    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class TrainResult:
    """What ``core.training.train`` returns.

    ``model`` is an uncompiled ``keras.Model`` holding only what predicting needs (no optimizer
    state): raw 0-255 RGB pixels in, class scores out. With early stopping (``patience`` > 0)
    its weights are the best epoch's, ``best_epoch`` (1-based; None when no epoch finished).
    """

    model: Any = field(repr=False)
    class_names: tuple[str, ...]
    image_size: int
    history: tuple[EpochMetrics, ...]
    stopped: bool
    config: TrainConfig
    best_epoch: int | None = None
    #: ``core.evaluation.Evaluation`` of the validation part, when the caller evaluated it
    evaluation: Any = field(default=None, repr=False)
    #: (path, reason) of each file that could not be read during training (damaged past its
    #: header, changed or gone since the scan): it was left out of the run
    skipped: tuple = ()

    @property
    def best(self) -> EpochMetrics | None:
        """The finished epoch whose weights ``model`` holds (the last one without early stopping)."""
        if not self.history:
            return None
        chosen = [m for m in self.history if m.epoch == self.best_epoch]
        return chosen[0] if chosen else self.history[-1]

    @property
    def final_val_accuracy(self) -> float | None:
        """Validation accuracy of the weights ``model`` holds."""
        best = self.best
        return best.val_accuracy if best else None
