"""Model builders: the course's classic CNN and a small fast one.

Every model takes raw 0-255 RGB pixels (``Rescaling(1/255)`` is its first layer), so a saved model
needs no preprocessing from whoever loads it. Two classes -> one sigmoid unit and binary
cross-entropy; N > 2 classes -> N-way softmax and categorical cross-entropy on one-hot labels.
"""

from __future__ import annotations

from horsehuman_gui.core.config import MODEL_NAMES
from horsehuman_gui.core.tfsetup import load_tensorflow

keras = load_tensorflow()
layers = keras.layers


def build_model(name: str, image_size: int, num_classes: int,
                learning_rate: float = 0.001) -> keras.Model:
    """Return a compiled model ``name`` (one of ``MODEL_NAMES``) for ``image_size`` square RGB
    images and ``num_classes`` (>= 2) classes, optimised by RMSprop at ``learning_rate``."""
    if name not in MODEL_NAMES:
        raise ValueError(f"`name` must be one of {', '.join(MODEL_NAMES)}. Received: {name!r}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"`num_classes` must be a whole number >= 2. Received: {num_classes!r}")
    body = _classic_body() if name == "classic" else _compact_body()
    model = keras.Sequential(
        [keras.Input(shape=(image_size, image_size, 3), name="image"),
         layers.Rescaling(1.0 / 255, name="rescaling"),
         *body,
         _head(num_classes)],
        name=name,
    )
    binary = num_classes == 2
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
        loss="binary_crossentropy" if binary else "categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def output_classes(model) -> int:
    """Number of classes a model's output stands for: 1 sigmoid unit means 2 classes."""
    units = int(model.outputs[0].shape[-1])
    return 2 if units == 1 else units


def _classic_body() -> list:
    # Exactly the course's network: three conv/pool blocks, flatten, a 512-unit dense layer.
    return [
        layers.Conv2D(16, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
    ]


def _compact_body() -> list:
    # Global average pooling instead of flatten + 512 dense: ~25k parameters instead of 40M,
    # and the same size whatever the image size. For quick runs and the tests.
    return [
        layers.Conv2D(16, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(64, activation="relu"),
    ]


def _head(num_classes: int):
    if num_classes == 2:
        return layers.Dense(1, activation="sigmoid", name="output")
    return layers.Dense(num_classes, activation="softmax", name="output")
