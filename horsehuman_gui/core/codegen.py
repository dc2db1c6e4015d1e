"""The code behind a run: a standalone Keras script that trains the same model the same way.

``script_for(config, data_dir)`` returns the text of a Python script for today's Keras (3.x)
that a learner can read top to bottom and run: the same data folder, image size, batch size,
seed, model (layer by layer), optimizer and loss, augmentation, class weights, early stopping
and learning-rate reduction as ``core.training.train`` with that ``TrainConfig``. It uses
``keras.utils.image_dataset_from_directory`` (what the course teaches today), not the app's own
pipeline, so the data differs in small ways the script's comments name.

No TensorFlow at import time; only a run with augmentation reads its factors from
``core.augment`` (which loads TensorFlow), so the script and the app never disagree.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from horsehuman_gui import __version__
from horsehuman_gui.core.config import TrainConfig
from horsehuman_gui.core.dataset import IMBALANCE_RATIO, TRAIN_NAMES, VALIDATION_NAMES

#: Keras Applications builders for the downloaded backbones (SqueezeNet is not in Keras).
_APPLICATIONS = {"mobilenetv3": "MobileNetV3Large", "efficientnetv2b0": "EfficientNetV2B0"}
#: Fine-tuning: top share of the backbone's weighted layers unfrozen, and its learning rate
#: as a share of the head's (the values of ``core.transfer``, read there when it loads).
_FINE_TUNE = (0.3, 0.05)
#: The arguments each augmentation layer is written with (the others keep Keras's defaults).
_AUGMENT_ARGS = {"RandomFlip": ("mode",), "RandomRotation": ("factor", "fill_mode"),
                 "RandomZoom": ("height_factor", "fill_mode"),
                 "RandomTranslation": ("height_factor", "width_factor", "fill_mode"),
                 "RandomContrast": ("factor", "value_range")}


def config_from(value: TrainConfig | Mapping[str, Any]) -> TrainConfig:
    """A ``TrainConfig`` from itself or a mapping of its fields (other keys are ignored, so a
    checkpoint's or a model file's stored settings work as they are)."""
    if isinstance(value, TrainConfig):
        return value
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in dict(value).items() if k in names})


def script_for(config: TrainConfig | Mapping[str, Any], data_dir: str | Path,
               class_names: tuple[str, ...] | None = None, script_name: str = "train.py") -> str:
    """The text of a standalone training script reproducing a run of ``config`` on
    ``data_dir``. ``class_names`` (optional) are listed in a comment for the reader;
    ``script_name`` is the file name its usage line shows."""
    config = config_from(config)
    sections = [_header(config, data_dir, class_names, script_name), _imports(config),
                _settings(config, data_dir), _data(config), _augmentation(config),
                _model(config), _callbacks(config), _class_weights(config), _fit(config),
                _save()]
    text = "\n\n".join(section.strip("\n") for section in sections if section) + "\n"
    return "\n".join(_ruled(line) for line in text.split("\n"))


def _ruled(line: str, width: int = 88) -> str:
    """Section headings ("# ---- Data ---") drawn to one width."""
    if not line.startswith("# ---- "):
        return line
    title = line[len("# ---- "):].rstrip("- ")
    return f"# ---- {title} ".ljust(width, "-")


def write_script(config: TrainConfig | Mapping[str, Any], data_dir: str | Path,
                 out: str | Path, *, overwrite: bool = False,
                 class_names: tuple[str, ...] | None = None) -> Path:
    """Write ``script_for(...)`` to ``out`` (UTF-8); ``FileExistsError`` when ``out`` exists
    and not ``overwrite``. Returns ``out``."""
    out = Path(out)
    text = script_for(config, data_dir, class_names, out.name)
    with open(out, "w" if overwrite else "x", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return out


def _header(config: TrainConfig, data_dir, class_names, script_name: str) -> str:
    classes = f"\nClasses (in the order of the model's outputs): {', '.join(class_names)}." \
        if class_names else ""
    name, need = Path(data_dir).name or str(data_dir), _extra_need(config)
    docstring = f'''Train the "{config.model}" image classifier on {name}.

Written by horsehuman-gui {__version__} on {datetime.now():%Y-%m-%d %H:%M} from the settings of
one of its training runs. It needs TensorFlow (pip install tensorflow){need}.{classes}

Run it as it is, or change the settings below:
    python {script_name} [--data FOLDER] [--epochs N] [--out model.keras]
The data folder holds one sub-folder per class (the course's train/ + validation/ layout, or
just the class folders, in which case {config.validation_split:.0%} is held out for validation).
'''
    # No folder or class name can end the docstring early or start an escape sequence.
    docstring = docstring.replace('"', "'").replace("\\", "/")
    return f'#!/usr/bin/env python3\n"""{docstring}"""'


def _extra_need(config: TrainConfig) -> str:
    if config.model == "pretrained" and config.backbone not in _APPLICATIONS:
        return " and horsehuman-gui, for the SqueezeNet weights it ships"
    return ""


def _imports(config: TrainConfig) -> str:
    lines = ["import argparse", "from pathlib import Path", "", "import numpy as np",
             "import keras", "from keras import layers"]
    if config.model == "pretrained" and config.backbone not in _APPLICATIONS:
        lines.append("from horsehuman_gui.core.squeezenet import build_squeezenet")
    return "\n".join(lines)


def _settings(config: TrainConfig, data_dir) -> str:
    return f'''# ---- Settings: the run's own values ---
DATA_DIR = {str(Path(os.path.abspath(data_dir)))!r}
IMAGE_SIZE = {config.image_size}  # images are resized to IMAGE_SIZE x IMAGE_SIZE pixels
BATCH_SIZE = {config.batch_size}
EPOCHS = {config.epochs}
LEARNING_RATE = {config.learning_rate!r}
VALIDATION_SPLIT = {config.validation_split!r}  # used only when there is no validation folder
SEED = {config.seed}  # the same seed gives the same weights at the start and the same shuffles

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default=DATA_DIR, help="the dataset folder")
parser.add_argument("--epochs", type=int, default=EPOCHS)
parser.add_argument("--out", default="model.keras", help="where the trained model is saved")
args = parser.parse_args()

# One call seeds Python, NumPy and the backend, so two runs start from the same weights.
keras.utils.set_random_seed(SEED)'''


def _data(config: TrainConfig) -> str:
    return f'''# ---- Data ---
# image_dataset_from_directory gives batches of (images, labels): images are float32 pixels
# 0-255 (the model scales them itself), labels 0/1 for two classes ("binary"), one-hot rows
# for more ("categorical"). Class names are the sub-folders' names in sorted order.
# (The app decodes with Pillow, which also reads WebP/TIFF and turns phone photos upright,
# and splits each class separately; this script uses Keras's own loader.)
TRAIN_NAMES = {TRAIN_NAMES!r}
VALIDATION_NAMES = {VALIDATION_NAMES!r}


def find_part(root, names):
    for name in names:
        if (root / name).is_dir():
            return root / name
    return None


root = Path(args.data)
train_dir, val_dir = find_part(root, TRAIN_NAMES), find_part(root, VALIDATION_NAMES)
class_count = len([p for p in (train_dir or root).iterdir() if p.is_dir()])
label_mode = "binary" if class_count == 2 else "categorical"
load = dict(image_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=BATCH_SIZE,
            label_mode=label_mode, seed=SEED)
if train_dir is not None and val_dir is not None:
    # The course's layout: train/ and validation/ folders with the same class folders.
    train_ds = keras.utils.image_dataset_from_directory(train_dir, shuffle=True, **load)
    class_names = train_ds.class_names
    val_ds = keras.utils.image_dataset_from_directory(val_dir, shuffle=False,
                                                      class_names=class_names, **load)
else:
    # Only class folders: hold out VALIDATION_SPLIT of the images, chosen by SEED.
    train_ds, val_ds = keras.utils.image_dataset_from_directory(
        root, validation_split=VALIDATION_SPLIT, subset="both", **load)
    class_names = train_ds.class_names
print("Classes:", ", ".join(class_names))
num_classes = len(class_names)'''


def _augmentation(config: TrainConfig) -> str:
    if config.augment == "off":
        return '''# ---- Augmentation: off in this run ---
augmentation = []'''
    from horsehuman_gui.core.augment import augmentation_layers  # loads TensorFlow

    lines = []
    for number, layer in enumerate(augmentation_layers(config.augment, config.seed)):
        settings = layer.get_config()
        args = [f"{key}={settings[key]!r}" for key in _AUGMENT_ARGS.get(type(layer).__name__, ())
                if key in settings]
        lines.append(f"    layers.{type(layer).__name__}({', '.join(args)}, "
                     f"seed=SEED + {number}),")
    body = "\n".join(lines)
    return f'''# ---- Augmentation: the "{config.augment}" preset ---
# Random changes to each training image, a new one every epoch, so the model sees more
# variety than the folder holds. Inside the model, Keras applies them only while training:
# predicting, they do nothing.
augmentation = [
{body}
]'''


def _model(config: TrainConfig) -> str:
    if config.model == "pretrained":
        return _pretrained_model(config)
    if config.model == "classic":
        body = '''    # The course's network: three convolution + max-pooling blocks, then a big
    # dense layer.
    layers.Conv2D(16, (3, 3), activation="relu"),
    layers.MaxPooling2D(2, 2),
    layers.Conv2D(32, (3, 3), activation="relu"),
    layers.MaxPooling2D(2, 2),
    layers.Conv2D(64, (3, 3), activation="relu"),
    layers.MaxPooling2D(2, 2),
    layers.Flatten(),
    layers.Dense(512, activation="relu"),'''
        optimizer = "keras.optimizers.RMSprop(learning_rate=LEARNING_RATE)"
    else:
        blocks = []
        for filters in (32, 64, 128, 128):
            blocks += [f"    layers.Conv2D({filters}, (3, 3), padding=\"same\", use_bias=False),",
                       "    layers.BatchNormalization(momentum=0.9),",
                       "    layers.Activation(\"relu\"),", "    layers.MaxPooling2D(2, 2),"]
        body = "\n".join(["    # Four convolution blocks with batch normalisation, then an "
                          "average over the image.", *blocks[:-1],
                          "    layers.GlobalAveragePooling2D(),", "    layers.Dropout(0.3),"])
        optimizer = "keras.optimizers.Adam(learning_rate=LEARNING_RATE)"
    return f'''# ---- Model ---
# It takes plain 0-255 pixels: the scaling to 0-1 is its own first layer, so whoever uses
# the saved model needs no preprocessing. Two classes: one sigmoid unit (the probability of
# the second class); more: one softmax unit per class.
output = (layers.Dense(1, activation="sigmoid", name="output") if num_classes == 2
          else layers.Dense(num_classes, activation="softmax", name="output"))
model = keras.Sequential([
    keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), name="image"),
    *augmentation,
    layers.Rescaling(1.0 / 255, name="rescaling"),
{body}
    output,
], name={config.model!r})
model.compile(optimizer={optimizer},
              loss="binary_crossentropy" if num_classes == 2 else "categorical_crossentropy",
              metrics=["accuracy"])
model.summary()'''


def _backbone_code(config: TrainConfig) -> str:
    if config.backbone in _APPLICATIONS:
        return f'''# An ImageNet network from Keras Applications without its classifier
# ("include_top=False"), its preprocessing inside; the weights are downloaded once into
# ~/.keras.
backbone = keras.applications.{_APPLICATIONS[config.backbone]}(
    input_shape=(224, 224, 3), include_top=False, weights="imagenet", pooling="avg")'''
    return '''# SqueezeNet 1.1 with ImageNet weights (not in Keras Applications; horsehuman-gui
# builds it from standard Keras layers, the mean subtraction inside).
backbone = build_squeezenet()'''


def _pretrained_model(config: TrainConfig) -> str:
    return f'''# ---- Model: a pretrained network and a small new head ---
{_backbone_code(config)}
backbone.trainable = False  # frozen: only the head learns at first

inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
x = inputs
for layer in augmentation:
    x = layer(x)
size = backbone.inputs[0].shape[1]
if size != IMAGE_SIZE:
    x = layers.Resizing(size, size, name="resize_for_backbone")(x)
features = backbone(x, training=False)  # one feature vector per image
x = layers.Dropout(0.2, name="head_dropout")(features)
output = (layers.Dense(1, activation="sigmoid", name="output") if num_classes == 2
          else layers.Dense(num_classes, activation="softmax", name="output"))
model = keras.Model(inputs, output(x), name="pretrained")
# (The app passes each image through the frozen network once and trains the head on the
# stored features, plus a few augmented copies of each: much faster, the same model.)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
              loss="binary_crossentropy" if num_classes == 2 else "categorical_crossentropy",
              metrics=["accuracy"])'''


def _callbacks(config: TrainConfig) -> str:
    lines = ["# ---- Callbacks ---", "callbacks = []"]
    if config.patience:
        lines += ["# Stop when the validation loss has not improved for a while, and keep the "
                  "best epoch's weights.",
                  "callbacks.append(keras.callbacks.EarlyStopping(",
                  f"    monitor=\"val_loss\", patience={config.patience}, "
                  "restore_best_weights=True))"]
    if config.reduce_lr:
        patience = max(2, config.patience // 2) if config.patience else 3
        lines += ["# Divide the learning rate by 5 when the validation loss stops improving.",
                  "callbacks.append(keras.callbacks.ReduceLROnPlateau(",
                  f"    monitor=\"val_loss\", factor=0.2, patience={patience}, min_lr=1e-6))"]
    if len(lines) == 2:
        lines.insert(1, "# None in this run: every epoch runs and the last one's weights are "
                        "kept (the course's way).")
    return "\n".join(lines)


def _class_weights(config: TrainConfig) -> str:
    if config.class_weights == "off":
        return "class_weight = None  # classes count equally per image (class weights off)"
    condition = "True" if config.class_weights == "on" else \
        f"counts.max() > {IMBALANCE_RATIO} * counts.min()"
    return f'''# ---- Class weights ("{config.class_weights}") ---
# A class with fewer images counts more per image, so the model cannot just favour the big
# one. Counting the labels takes one pass over the training images.
labels = np.concatenate([np.asarray(y) for _, y in train_ds])
labels = labels[:, 0].astype(int) if num_classes == 2 else labels.argmax(axis=1)
counts = np.bincount(labels, minlength=num_classes)
class_weight = None
if {condition}:
    class_weight = {{c: float(counts.sum() / (num_classes * n)) if n else 1.0
                    for c, n in enumerate(counts)}}
print("Class weights:", class_weight)'''


def _fit(config: TrainConfig) -> str:
    text = '''# ---- Training ---
history = model.fit(train_ds, validation_data=val_ds, epochs=args.epochs,
                    callbacks=callbacks, class_weight=class_weight)'''
    if config.model == "pretrained" and config.fine_tune_epochs:
        share, rate = _fine_tune_values()
        text += f'''

# ---- Fine-tuning: the top of the pretrained network learns too, slowly ---
FINE_TUNE_EPOCHS = {config.fine_tune_epochs}


def leaf_layers(network):
    found = []
    for layer in network.layers:
        found += leaf_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return found


# Unfreeze the top {share:.0%} of the network's layers that have weights.
weighted = [layer for layer in leaf_layers(backbone) if layer.weights]
cut = len(weighted) - max(1, int(len(weighted) * {share}))
backbone.trainable = True
for layer in leaf_layers(backbone):
    layer.trainable = not layer.weights
for number, layer in enumerate(weighted):
    # Batch normalisation stays frozen: its statistics would drift on a small dataset.
    layer.trainable = number >= cut and not isinstance(layer, layers.BatchNormalization)
# A much lower learning rate: big steps would undo what the pretrained network knows.
model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE * {rate}),
              loss="binary_crossentropy" if num_classes == 2 else "categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(train_ds, validation_data=val_ds, epochs=args.epochs + FINE_TUNE_EPOCHS,
          initial_epoch=args.epochs, callbacks=callbacks, class_weight=class_weight)'''
    return text


def _fine_tune_values() -> tuple[float, float]:
    try:
        from horsehuman_gui.core import transfer  # loads TensorFlow

        return transfer.FINE_TUNE_SHARE, transfer.FINE_TUNE_RATE
    except (ImportError, AttributeError):
        return _FINE_TUNE


def _save() -> str:
    return '''# ---- Save ---
model.save(args.out)
print(f"Saved the model to {args.out} after epoch {history.epoch[-1] + 1}")
if val_ds is not None and history.history.get("val_accuracy"):
    print(f"Last validation accuracy: {history.history['val_accuracy'][-1]:.3f}")'''
