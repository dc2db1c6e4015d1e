"""Fixtures for the core tests: features are cached in a temporary folder, never the person's.

This file shadows ``tests/conftest.py`` for ``from conftest import ...`` in the modules here
(pytest imports both as ``conftest``), so it re-exports that file's helpers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("_tests_shared_conftest",
                                               Path(__file__).parent.parent / "conftest.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
globals().update({name: value for name, value in vars(_shared).items()
                  if not name.startswith("_")
                  and type(value).__name__ != "FixtureFunctionDefinition"})


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path_factory, monkeypatch):
    """Backbone features are cached in a fresh temporary folder for each test."""
    monkeypatch.setenv("HORSEHUMAN_CACHE_DIR", str(tmp_path_factory.mktemp("cache-dir")))


def build_tiny_backbone(name="tiny", *, on_progress=None, should_stop=None, trainable=False):
    """A stand-in for an ImageNet backbone: 32 px 0-255 RGB in, 8 pooled features out.

    Fixed weights (seeded initialisers), so the same image always gives the same features."""
    from horsehuman_gui.core.tfsetup import load_tensorflow

    keras = load_tensorflow()
    layers = keras.layers
    if on_progress is not None:
        on_progress(1, 1)
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Rescaling(1 / 255),
        layers.Conv2D(8, 3, activation="relu",
                      kernel_initializer=keras.initializers.GlorotUniform(seed=1)),
        layers.Conv2D(8, 3, activation="relu",
                      kernel_initializer=keras.initializers.GlorotUniform(seed=2)),
        layers.GlobalAveragePooling2D(),
    ], name=name)
    model.trainable = trainable
    return model


@pytest.fixture
def tiny_backbone(monkeypatch):
    """Make "tiny" (``build_tiny_backbone``) a known backbone; counts the builds."""
    from horsehuman_gui.core import backbones

    builds = []

    def build(name, **kwargs):
        builds.append(name)
        return build_tiny_backbone(name, **kwargs)

    spec = backbones.BackboneSpec("tiny", "Tiny (tests)", 32, 8, offline=True)
    monkeypatch.setitem(backbones.BACKBONES, "tiny", spec)
    monkeypatch.setattr(backbones, "build_backbone", build)
    return builds
