"""Teachable Machine's "Keras" export (``keras_model.h5`` + ``labels.txt``), opened on Keras 3.

Accepted as the ``.h5`` file, the folder holding both files, or the ``converted_keras.zip``
Teachable Machine downloads (read through ``core.safe_zip`` into a temporary folder).

Teachable Machine saves with tf.keras 2, whose ``DepthwiseConv2D`` config carries
``"groups": 1``; Keras 3's ``DepthwiseConv2D`` rejects that argument, so ``load_model`` fails.
Here the file is loaded with a ``DepthwiseConv2D`` that drops ``groups`` when it is 1 (the only
value a depthwise convolution can have), passed as ``custom_objects`` for this one load only.
Keras safe mode stays on: a Lambda layer in the file is refused.

Teachable Machine's own code feeds 224x224 RGB scaled to [-1, 1]. The model returned here has
that scaling inside (``Rescaling(1/127.5, offset=-1)``), so it takes plain 0-255 pixels like
every other model in the app; images are resized to its input size as they load.

No TensorFlow at import time.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import tempfile
import zipfile
from pathlib import Path

from horsehuman_gui.core.bundle_metadata import ModelBundle
from horsehuman_gui.core.errors import ModelFileError

logger = logging.getLogger(__name__)

MODEL_FILE = "keras_model.h5"
LABELS_FILE = "labels.txt"
APP_VERSION = "Teachable Machine"
_NUMBERED = re.compile(r"^(\d+)\s+(.+)$")


def _files(path: str | Path) -> tuple[Path, Path]:
    """(model .h5, labels.txt) for a path to the .h5 or to the folder holding both."""
    path = Path(path)
    model = path / MODEL_FILE if path.is_dir() else path
    return model, model.parent / LABELS_FILE


def _zip_members(path: Path) -> tuple[str, str] | None:
    """The (model, labels) member names of a Teachable Machine zip, or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.startswith("__MACOSX/")]
    except (zipfile.BadZipFile, OSError):
        return None
    for name in names:
        if name.rsplit("/", 1)[-1] == MODEL_FILE:
            labels = name[:-len(MODEL_FILE)] + LABELS_FILE
            if labels in names:
                return name, labels
    return None


def is_teachable_machine(path: str | Path) -> bool:
    """True when ``path`` (an ``.h5`` file, or a folder holding ``keras_model.h5``) is a Keras
    HDF5 model with a ``labels.txt`` beside it, or a zip holding both, as Teachable Machine
    exports. Never raises."""
    path = Path(path)
    if path.suffix.lower() == ".zip" and path.is_file():
        return _zip_members(path) is not None
    model, labels = _files(path)
    if model.suffix.lower() not in (".h5", ".hdf5") or not model.is_file() \
            or not labels.is_file():
        return False
    try:
        import h5py

        with h5py.File(model, "r") as handle:
            return "model_config" in handle.attrs
    except Exception:  # not HDF5, unreadable: not ours to open
        return False


def read_labels(path: str | Path) -> tuple[str, ...]:
    """Class names from a Teachable Machine ``labels.txt``: lines ``"0 Horses"``, ``"1 Humans"``
    (the numbers, when every line has them in order 0, 1, 2..., are dropped)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"Cannot read the class names in {path}: {exc}") from exc
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    matches = [_NUMBERED.match(line) for line in lines]
    if lines and all(m and int(m.group(1)) == i for i, m in enumerate(matches)):
        return tuple(m.group(2).strip() for m in matches)
    return tuple(lines)


def _depthwise_without_groups(keras):
    class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
        """Keras 3's layer, accepting tf.keras 2's ``groups=1`` (always 1 for depthwise)."""

        def __init__(self, *args, groups=1, **kwargs):
            if groups != 1:
                raise ValueError(f"A depthwise convolution has groups=1. Received: {groups!r}")
            super().__init__(*args, **kwargs)

    return DepthwiseConv2D


def _load_h5(model_path: Path):
    from horsehuman_gui.core.tfsetup import load_tensorflow

    keras = load_tensorflow()
    custom = {"DepthwiseConv2D": _depthwise_without_groups(keras)}
    try:
        return keras.models.load_model(model_path, custom_objects=custom, compile=False,
                                       safe_mode=True)
    except Exception as exc:
        text = str(exc)
        if "safe_mode" in text or "lambda" in text.lower():
            raise ModelFileError(f"{model_path.name} contains Python code (a Lambda layer), "
                                 "which is not loaded for safety.") from exc
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise ModelFileError(f"{model_path.name} could not be loaded as a Teachable Machine "
                             f"model: {first}") from exc


def _with_preprocessing(inner, image_size: int):
    """A model taking 0-255 RGB: Teachable Machine's [-1, 1] scaling, then ``inner``."""
    from horsehuman_gui.core.tfsetup import load_tensorflow

    keras = load_tensorflow()
    inputs = keras.Input((image_size, image_size, 3), name="image")
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="teachable_machine_scaling")
    return keras.Model(inputs, inner(scaled(inputs)), name="teachable_machine")


def load_teachable_machine(path: str | Path) -> ModelBundle:
    """Load a Teachable Machine Keras export as a ``ModelBundle`` ready to predict.

    ``path`` is ``keras_model.h5`` (any ``.h5`` name), the folder holding it, or Teachable
    Machine's zip; class names come from ``labels.txt`` beside it. The bundle's model takes
    0-255 RGB at its input size (224 for Teachable Machine image models). Raises
    ``ModelFileError`` with a plain message.
    """
    path = Path(path)
    if path.suffix.lower() == ".zip":
        return _load_zip(path)
    model_path, labels_path = _files(path)
    if not model_path.is_file():
        raise ModelFileError(f"No model file at {model_path}.")
    if not labels_path.is_file():
        raise ModelFileError(f"{model_path.name} has no {LABELS_FILE} beside it: Teachable "
                             "Machine exports the two files together.")
    names = read_labels(labels_path)
    inner = _load_h5(model_path)
    image_size = _input_size(inner, model_path)
    units = int(inner.outputs[0].shape[-1])
    outputs = 2 if units == 1 else units
    if len(names) != outputs:
        raise ModelFileError(f"{model_path.name} predicts {outputs} classes, but {LABELS_FILE} "
                             f"names {len(names)} ({', '.join(names)}).")
    logger.info("Loaded Teachable Machine model %s (%d classes, %d px)", model_path,
                len(names), image_size)
    return ModelBundle(model=_with_preprocessing(inner, image_size), class_names=names,
                       image_size=image_size, app_version=APP_VERSION, path=model_path)


def _input_size(model, path: Path) -> int:
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[3] != 3 or shape[1] is None or shape[1] != shape[2]:
        raise ModelFileError(f"{path.name} does not take square RGB images of a fixed size "
                             f"(its input shape is {shape}).")
    return int(shape[1])


def _load_zip(path: Path) -> ModelBundle:
    from horsehuman_gui.core.safe_zip import UnsafeArchiveError, check_members, safe_extract

    wanted = _zip_members(path) if path.is_file() else None
    if wanted is None:
        raise ModelFileError(f"{path.name} does not hold a Teachable Machine Keras model "
                             f"({MODEL_FILE} and {LABELS_FILE}).")
    with tempfile.TemporaryDirectory(prefix="horsehuman-tm-") as folder:
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in check_members(archive) if m.info.filename in wanted]
                if len(members) != 2:
                    raise UnsafeArchiveError(f"{MODEL_FILE} or {LABELS_FILE} is not a file")
                # Both sit in one folder of the zip: extracted without it, side by side.
                safe_extract(archive, folder, members, strip=len(members[0].parts) - 1)
        except (UnsafeArchiveError, zipfile.BadZipFile, OSError) as exc:
            raise ModelFileError(f"{path.name} cannot be opened: {exc}") from exc
        bundle = load_teachable_machine(Path(folder) / MODEL_FILE)  # read whole into memory
    return dataclasses.replace(bundle, path=path)
