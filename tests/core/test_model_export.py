"""Model export: each format loads in its own runtime and scores images as Keras does."""

from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pytest

from horsehuman_gui import __version__
from horsehuman_gui.core.bundle import ModelBundle
from horsehuman_gui.core.model_export import (ExportError, export_model, onnx_missing,
                                              read_labels)
from horsehuman_gui.core.models import build_model, keras

import tensorflow as tf  # noqa: E402  (after core.models: quiet start-up)

IMAGES = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3)).astype(np.float32)


def _bundle(model, names) -> ModelBundle:
    return ModelBundle(model=model, class_names=tuple(names),
                       image_size=int(model.inputs[0].shape[1]), app_version=__version__)


def images_for(bundle) -> np.ndarray:
    size = bundle.image_size
    return np.random.default_rng(0).integers(0, 256, (6, size, size, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def classic():
    keras.utils.set_random_seed(1)
    model = build_model("classic", 32, 2)
    # One step so the sigmoid is not ~0.5 everywhere: differences would hide.
    model.fit(IMAGES, np.array([[0], [1], [0], [1], [1], [0]], np.float32), epochs=1, verbose=0)
    return _bundle(model, ("horses", "humans"))


@pytest.fixture(scope="module")
def three_classes():
    """Softmax, batch normalisation, and augmentation layers that must export as nothing."""
    keras.utils.set_random_seed(2)
    return _bundle(build_model("compact", 32, 3, augment="strong", seed=2),
                   ("paper", "rock", "scissors"))


@pytest.fixture(scope="module")
def pretrained():
    """SqueezeNet (offline ImageNet weights, 224 px) with a sigmoid head."""
    from horsehuman_gui.core.backbones import build_backbone

    keras.utils.set_random_seed(3)
    backbone = build_backbone("squeezenet")
    inputs = keras.Input(backbone.inputs[0].shape[1:])
    head = keras.layers.Dense(1, activation="sigmoid")(backbone(inputs))
    return _bundle(keras.Model(inputs, head), ("cats", "dogs"))


def keras_scores(bundle) -> np.ndarray:
    out = np.asarray(bundle.model(images_for(bundle), training=False), np.float64)
    return np.concatenate([1 - out, out], axis=1) if out.shape[1] == 1 else out


def check_sidecars(result, bundle, format):
    assert read_labels(result.labels) == bundle.class_names
    assert result.labels.read_text("utf-8") == "".join(f"{n}\n" for n in bundle.class_names)
    info = json.loads(result.info.read_text("utf-8"))
    assert info["format"] == format
    assert info["input"]["image_size"] == bundle.image_size and info["input"]["pixel_range"] == [0, 255]
    assert info["class_names"] == list(bundle.class_names)
    assert result.labels.parent == result.info.parent == result.folder


def run_saved_model(path, images) -> np.ndarray:
    loaded = tf.saved_model.load(str(path))
    by_signature = loaded.signatures["serving_default"](image=tf.constant(images))["scores"]
    by_function = loaded.serve(tf.constant(images))["scores"]
    np.testing.assert_allclose(by_signature.numpy(), by_function.numpy(), atol=1e-6)
    return by_function.numpy()


def run_tflite(path, images=IMAGES) -> np.ndarray:
    with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated": still TF's own
        warnings.simplefilter("ignore", UserWarning)
        interpreter = tf.lite.Interpreter(model_path=str(path))
    entry, = interpreter.get_input_details()
    interpreter.resize_tensor_input(entry["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], images)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.parametrize("which", ["classic", "three_classes", "pretrained"])
def test_saved_model_scores_like_keras(which, request, tmp_path):
    bundle = request.getfixturevalue(which)
    result = export_model(bundle, tmp_path / "saved", "savedmodel")
    check_sidecars(result, bundle, "savedmodel")
    assert (result.model / "saved_model.pb").is_file()
    np.testing.assert_allclose(run_saved_model(result.model, images_for(bundle)), keras_scores(bundle), atol=1e-5)


@pytest.mark.parametrize("which", ["classic", "three_classes", "pretrained"])
def test_tflite_scores_like_keras(which, request, tmp_path):
    bundle = request.getfixturevalue(which)
    result = export_model(bundle, tmp_path / "lite", "tflite")
    check_sidecars(result, bundle, "tflite")
    assert result.model.name == "model.tflite" and not result.quantized
    np.testing.assert_allclose(run_tflite(result.model, images_for(bundle)), keras_scores(bundle),
                               atol=1e-4)


def test_quantized_tflite_is_smaller_and_close(classic, tmp_path):
    plain = export_model(classic, tmp_path / "plain", "tflite")
    small = export_model(classic, tmp_path / "small", "tflite", quantize=True)
    assert small.quantized and json.loads(small.info.read_text())["quantized"] is True
    assert small.model.stat().st_size < plain.model.stat().st_size / 2
    np.testing.assert_allclose(run_tflite(small.model), keras_scores(classic), atol=0.05)


@pytest.mark.parametrize("which", ["classic", "three_classes", "pretrained"])
def test_onnx_scores_like_keras(which, request, tmp_path):
    pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    bundle = request.getfixturevalue(which)
    result = export_model(bundle, tmp_path / "onnx", "onnx")
    check_sidecars(result, bundle, "onnx")
    session = ort.InferenceSession(str(result.model), providers=["CPUExecutionProvider"])
    scores = session.run(None, {session.get_inputs()[0].name: images_for(bundle)})[0]
    np.testing.assert_allclose(scores, keras_scores(bundle), atol=1e-5)


def test_onnx_without_tf2onnx_says_how_to_get_it(classic, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    assert "pip install" in onnx_missing()
    with pytest.raises(ExportError, match="tf2onnx"):
        export_model(classic, tmp_path / "onnx", "onnx")
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_kept_unless_overwrite(classic, tmp_path):
    out = tmp_path / "lite"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError):
        export_model(classic, out, "tflite")
    assert (out / "mine.txt").read_text() == "keep"
    export_model(classic, out, "tflite", overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["labels.txt", "model.tflite",
                                                     "model_info.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["lite"]  # no temporary left


def test_failed_export_leaves_nothing(classic, tmp_path, monkeypatch):
    from horsehuman_gui.core import model_export

    def broken(*args):
        raise RuntimeError("converter exploded")

    monkeypatch.setattr(model_export, "_tflite_bytes", broken)
    with pytest.raises(ExportError, match="converter exploded"):
        export_model(classic, tmp_path / "lite", "tflite")
    assert list(tmp_path.iterdir()) == []


def test_bad_requests_are_refused(classic, tmp_path):
    with pytest.raises(ExportError, match="format"):
        export_model(classic, tmp_path / "x", "coreml")
    with pytest.raises(ExportError, match="TFLite"):
        export_model(classic, tmp_path / "x", "savedmodel", quantize=True)
    with pytest.raises(ExportError, match="does not exist"):
        export_model(classic, tmp_path / "missing" / "x", "tflite")
