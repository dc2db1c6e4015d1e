"""Model builders: the course's classic CNN, a small fast one, and a head on a pretrained backbone.

Every model takes raw 0-255 RGB pixels (scaling is inside the model: ``Rescaling(1/255)`` for
the CNNs, the backbone's own preprocessing for "pretrained"), so a saved model needs no
preprocessing from whoever loads it. Two classes -> one sigmoid unit and binary cross-entropy;
N > 2 classes -> N-way softmax and categorical cross-entropy on one-hot labels. Augmentation
layers, when asked for, come first and act only in training.
"""

from __future__ import annotations

from horsehuman_gui.core.augment import augmentation_layers
from horsehuman_gui.core.tfsetup import load_tensorflow

keras = load_tensorflow()
layers = keras.layers

#: Models ``build_model`` makes from scratch ("pretrained" is ``build_pretrained``).
CNN_NAMES = ("classic", "compact")


def build_model(name: str, image_size: int, num_classes: int,
                learning_rate: float = 0.001, augment: str = "off",
                seed: int | None = None) -> keras.Model:
    """Return a compiled model ``name`` (one of ``CNN_NAMES``) for ``image_size`` square RGB
    images and ``num_classes`` (>= 2) classes. "classic" is optimised by RMSprop (the course's),
    "compact" by Adam, at ``learning_rate``. ``augment`` is a preset of ``core.augment``."""
    if name not in CNN_NAMES:
        raise ValueError(f"`name` must be one of {', '.join(CNN_NAMES)}. Received: {name!r}")
    _check_classes(num_classes)
    body = _classic_body() if name == "classic" else _compact_body()
    model = keras.Sequential(
        [keras.Input(shape=(image_size, image_size, 3), name="image"),
         *augmentation_layers(augment, seed),
         layers.Rescaling(1.0 / 255, name="rescaling"),
         *body,
         _output(num_classes)],
        name=name,
    )
    optimizer = (keras.optimizers.RMSprop if name == "classic" else keras.optimizers.Adam)
    return compile_model(model, num_classes, optimizer(learning_rate=learning_rate))


def build_head(feature_dim: int, num_classes: int, learning_rate: float = 0.001) -> keras.Model:
    """A compiled classifier over ``feature_dim`` pooled backbone features (dropout, one dense
    layer), optimised by Adam at ``learning_rate``."""
    _check_classes(num_classes)
    head = keras.Sequential([keras.Input(shape=(feature_dim,), name="features"),
                             layers.Dropout(0.2, name="head_dropout"),
                             _output(num_classes)], name="head")
    return compile_model(head, num_classes, keras.optimizers.Adam(learning_rate=learning_rate))


def feature_extractor(backbone, image_size: int) -> keras.Model:
    """``backbone`` behind an input of ``image_size`` pixels, resized to the backbone's own
    input size when they differ."""
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = inputs
    size = int(backbone.inputs[0].shape[1])
    if size != image_size:
        x = layers.Resizing(size, size, name="resize_for_backbone")(x)
    return keras.Model(inputs, backbone(x), name="feature_extractor")


def build_pretrained(backbone, head, image_size: int, augment: str = "off",
                     seed: int | None = None) -> keras.Model:
    """One model, raw pixels to scores: [augmentation] -> [resize] -> ``backbone`` -> ``head``.

    Not compiled. The backbone and head are the same layer objects (weights shared)."""
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = inputs
    for layer in augmentation_layers(augment, seed):
        x = layer(x)
    size = int(backbone.inputs[0].shape[1])
    if size != image_size:
        x = layers.Resizing(size, size, name="resize_for_backbone")(x)
    return keras.Model(inputs, head(backbone(x)), name="pretrained")


def compile_model(model, num_classes: int, optimizer) -> keras.Model:
    model.compile(optimizer=optimizer,
                  loss="binary_crossentropy" if num_classes == 2 else "categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def output_classes(model) -> int:
    """Number of classes a model's output stands for: 1 sigmoid unit means 2 classes."""
    units = int(model.outputs[0].shape[-1])
    return 2 if units == 1 else units


def _check_classes(num_classes) -> None:
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"`num_classes` must be a whole number >= 2. Received: {num_classes!r}")


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
    # Four conv blocks with batch norm, then global average pooling instead of flatten + 512
    # dense: ~0.25M parameters instead of 40M, the same size whatever the image size. Batch
    # norm (momentum 0.9: a few hundred steps are enough for its statistics) is what lets it
    # learn real photos at Adam's usual rate; without it the loss stayed near 1.0 on
    # rock-paper-scissors.
    blocks = []
    for filters in (32, 64, 128, 128):
        blocks += [layers.Conv2D(filters, (3, 3), padding="same", use_bias=False),
                   layers.BatchNormalization(momentum=0.9),
                   layers.Activation("relu"),
                   layers.MaxPooling2D(2, 2)]
    return [*blocks[:-1], layers.GlobalAveragePooling2D(), layers.Dropout(0.3)]


def _output(num_classes: int):
    if num_classes == 2:
        return layers.Dense(1, activation="sigmoid", name="output")
    return layers.Dense(num_classes, activation="softmax", name="output")
