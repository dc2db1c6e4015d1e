"""Augmentation as Keras preprocessing layers: random in training, the identity at inference.

The same presets serve both ways of training: inside an image model (``compact``, ``classic``,
fine-tuning), where Keras runs them only when ``training=True``, and for frozen features, where
a few augmented copies of each training image go through the backbone once (``core.features``).
Inputs and outputs are float 0-255 RGB.
"""

from __future__ import annotations

from horsehuman_gui.core.config import AUGMENT_PRESETS
from horsehuman_gui.core.tfsetup import load_tensorflow

keras = load_tensorflow()
layers = keras.layers

#: preset -> (rotation, zoom, translation, contrast) factors; every preset flips left-right.
_FACTORS = {"light": (0.05, 0.1, 0.05, 0.1), "strong": (0.12, 0.2, 0.1, 0.25)}


def augmentation_layers(preset: str, seed: int | None = None) -> list:
    """The random layers of ``preset`` (one of ``AUGMENT_PRESETS``); [] for "off"."""
    if preset not in AUGMENT_PRESETS:
        raise ValueError(f"`preset` must be one of {', '.join(AUGMENT_PRESETS)}. "
                         f"Received: {preset!r}")
    if preset == "off":
        return []
    rotation, zoom, translation, contrast = _FACTORS[preset]
    seeds = [None] * 5 if seed is None else [seed + i for i in range(5)]
    return [
        layers.RandomFlip("horizontal", seed=seeds[0], name="augment_flip"),
        layers.RandomRotation(rotation, fill_mode="reflect", seed=seeds[1],
                              name="augment_rotation"),
        layers.RandomZoom(zoom, fill_mode="reflect", seed=seeds[2], name="augment_zoom"),
        layers.RandomTranslation(translation, translation, fill_mode="reflect", seed=seeds[3],
                                 name="augment_translation"),
        layers.RandomContrast(contrast, value_range=(0, 255), seed=seeds[4],
                              name="augment_contrast"),
    ]


def augmenter(preset: str, seed: int | None = None):
    """A ``keras.Sequential`` of ``preset``'s layers (call it with ``training=True``), or None
    for "off"."""
    found = augmentation_layers(preset, seed)
    return keras.Sequential(found, name=f"augment_{preset}") if found else None
