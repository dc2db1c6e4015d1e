"""Export a trained model for other runtimes: TensorFlow SavedModel, TFLite, ONNX.

Every export is a new folder holding the model, ``labels.txt`` (one class per line, in the order
of the model's outputs) and ``model_info.json`` (input size, pixel range, output meaning), the
layout Teachable Machine and the TFLite task libraries expect beside a model.

What runs in the other runtime is the same function for every format: float32 ``(B, S, S, 3)``
RGB pixels from 0 to 255 in, one score per label out. A two-class model has one sigmoid unit;
its export gives both scores, ``[1 - p, p]``, so ``labels.txt`` lines up with the outputs.

The folder is written beside its final name and renamed when complete: a failed export leaves
nothing behind. No TensorFlow at import time; ONNX needs the optional ``tf2onnx`` package.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from horsehuman_gui import __version__
from horsehuman_gui.core.bundle import with_model
from horsehuman_gui.core.errors import HorsehumanError

logger = logging.getLogger(__name__)

FORMATS = ("savedmodel", "tflite", "onnx")
LABELS_FILE = "labels.txt"
INFO_FILE = "model_info.json"
MODEL_FILES = {"tflite": "model.tflite", "onnx": "model.onnx"}
#: The ONNX operator set written: supported by every onnxruntime since 1.12 (2022).
ONNX_OPSET = 17
ONNX_HINT = ("ONNX export needs the optional packages tf2onnx and onnxruntime: "
             "pip install 'horsehuman-gui[onnx]' (or: pip install tf2onnx onnxruntime).")


class ExportError(HorsehumanError):
    """The model cannot be exported as asked (unknown format, missing package, failure)."""


@dataclass(frozen=True)
class ExportResult:
    folder: Path  # the export folder (for "savedmodel", the SavedModel itself)
    model: Path  # the file another program loads (the folder for "savedmodel")
    labels: Path
    info: Path
    format: str
    quantized: bool


def onnx_missing() -> str | None:
    """None when ONNX export can run here, else a sentence saying how to get it."""
    import importlib.util

    if importlib.util.find_spec("tf2onnx") is None:
        return ONNX_HINT
    return None


def export_model(bundle, out: str | Path, format: str, *, quantize: bool = False,
                 overwrite: bool = False) -> ExportResult:
    """Export ``bundle`` (a ``ModelBundle``) as ``format`` into the new folder ``out``.

    ``format`` is one of ``FORMATS``. ``quantize`` (TFLite only) stores the weights as 8-bit
    integers (dynamic-range quantisation: ~4x smaller, slightly different scores). ``out``
    must not exist unless ``overwrite``; it is replaced only once the new export is complete.
    Raises ``ExportError`` with a plain message; ``FileExistsError`` when ``out`` exists.
    """
    out = Path(out)
    if format not in FORMATS:
        raise ExportError(f"`format` must be one of {', '.join(FORMATS)}. Received: {format!r}")
    if quantize and format != "tflite":
        raise ExportError("Quantisation is available for TFLite exports only.")
    if format == "onnx" and onnx_missing():
        raise ExportError(onnx_missing())
    if os.path.lexists(out) and not overwrite:
        raise FileExistsError(f"{out} already exists; choose another name or allow overwriting")
    if not out.parent.is_dir():
        raise ExportError(f"Cannot export: folder {out.parent} does not exist.")
    temp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    try:
        temp.mkdir()
        bundle = with_model(bundle)  # read again from its file if it was set aside
        model_path = _write(bundle, temp, format, quantize)
        _write_labels(temp / LABELS_FILE, bundle.class_names)
        _write_info(temp / INFO_FILE, bundle, format, quantize, model_path)
        _replace(temp, out)
    except Exception as exc:
        shutil.rmtree(temp, ignore_errors=True)
        if isinstance(exc, (ExportError, FileExistsError)):
            raise
        raise ExportError(f"Could not export the model to {out}: {_reason(exc)}") from exc
    logger.info("Exported %s model to %s", format, out)
    model_file = out if format == "savedmodel" else out / MODEL_FILES[format]
    return ExportResult(folder=out, model=model_file, labels=out / LABELS_FILE,
                        info=out / INFO_FILE, format=format, quantized=quantize)


def _write(bundle, folder: Path, format: str, quantize: bool) -> Path:
    if format == "savedmodel":
        _write_saved_model(bundle, folder)
        return folder
    if format == "tflite":
        path = folder / MODEL_FILES["tflite"]
        path.write_bytes(_tflite_bytes(bundle, folder, quantize))
        return path
    path = folder / MODEL_FILES["onnx"]
    _write_onnx(bundle, path)
    return path


def serving_function(model, image_size: int):
    """A ``tf.function`` taking float32 (B, S, S, 3) 0-255 RGB, giving (B, N) scores, N >= 2."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, image_size, image_size, 3), tf.float32, name="image")

    @tf.function(input_signature=[spec], autograph=False)
    def serve(image):
        outputs = tf.cast(model(image, training=False), tf.float32)
        if outputs.shape[-1] == 1:  # one sigmoid unit: the score of the second class
            outputs = tf.concat([1.0 - outputs, outputs], axis=-1)
        return {"scores": outputs}

    return serve


def _write_saved_model(bundle, folder: Path) -> None:
    """Keras's own ``ExportArchive`` (what ``model.export`` uses) with our serving endpoint:
    ``loaded.serve(images)`` and the ``serving_default`` signature both give the scores."""
    from horsehuman_gui.core.tfsetup import load_tensorflow

    keras = load_tensorflow()
    archive = keras.export.ExportArchive()
    archive.track(bundle.model)
    archive.add_endpoint("serve", serving_function(bundle.model, bundle.image_size))
    archive.write_out(str(folder), verbose=False)


def _tflite_bytes(bundle, folder: Path, quantize: bool) -> bytes:
    """Converted from a SavedModel, the converter's best-supported input for Keras 3 models."""
    import tensorflow as tf

    saved = folder / "saved_model.tmp"
    _write_saved_model(bundle, saved)
    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range int8 weights
        return converter.convert()
    finally:
        shutil.rmtree(saved, ignore_errors=True)


def _write_onnx(bundle, path: Path) -> None:
    # tf2onnx's from_keras fails on Keras 3 models (it looks up Keras 2 tensor names);
    # converting the serving tf.function works, and gives the same graph.
    import tensorflow as tf
    import tf2onnx

    serve = serving_function(bundle.model, bundle.image_size)
    size = bundle.image_size
    spec = (tf.TensorSpec((None, size, size, 3), tf.float32, name="image"),)
    scores = tf.function(lambda image: serve(image)["scores"], autograph=False)
    tf2onnx.convert.from_function(scores, input_signature=spec, opset=ONNX_OPSET,
                                  output_path=str(path))


def _write_labels(path: Path, class_names) -> None:
    for name in class_names:
        if "\n" in name or "\r" in name:
            raise ExportError(f"A class name cannot hold a line break. Received: {name!r}")
    path.write_text("".join(f"{name}\n" for name in class_names), encoding="utf-8")


def _write_info(path: Path, bundle, format: str, quantize: bool, model_path: Path) -> None:
    size = bundle.image_size
    info = {
        "format": format,
        "model": "." if format == "savedmodel" else model_path.name,
        "quantized": quantize,
        "labels": LABELS_FILE,
        "class_names": list(bundle.class_names),
        "input": {"name": "image", "shape": [None, size, size, 3], "dtype": "float32",
                  "color": "RGB", "pixel_range": [0, 255], "image_size": size,
                  "note": "resize to image_size x image_size; no other scaling: "
                          "the model rescales inside"},
        "output": {"name": "scores", "shape": [None, len(bundle.class_names)],
                   "meaning": "one probability per label, in the order of labels.txt"},
        "app_version": __version__,
    }
    if format == "savedmodel":
        info["signature"] = "serving_default (also the `serve` function)"
    path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _replace(temp: Path, out: Path) -> None:
    """Put the finished folder at ``out``; a previous ``out`` is removed only afterwards."""
    old = None
    if os.path.lexists(out):
        old = out.with_name(f".{out.name}.{secrets.token_hex(4)}.old")
        os.rename(out, old)
    try:
        os.rename(temp, out)
    except OSError:
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()


def read_labels(path: str | Path) -> tuple[str, ...]:
    """The class names of a ``labels.txt`` (one per line; blank lines ignored)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
