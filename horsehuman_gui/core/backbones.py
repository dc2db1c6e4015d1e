"""Pretrained backbones: ImageNet networks cut before their classifier, giving features.

``BACKBONES`` is plain data (this module imports without TensorFlow; the GUI lists it before
TensorFlow has loaded). ``build_backbone(name)`` returns a Keras model taking (size, size, 3)
float 0-255 RGB pixels, with its preprocessing inside, and giving one pooled feature vector per
image. Every such model is made of standard Keras layers only, so a trained model containing
it saves to a ``.keras`` file and loads in safe mode without custom objects.

- "squeezenet" works offline: its weights ship with the ``ndf`` package (``core.squeezenet``).
- The others come from Keras Applications; their weights are downloaded once from Keras's
  published location (or a mirror, see ``core.weights``), checked against the hash Keras
  publishes, and cached in the user's data folder. Only networks whose no-top weights have a
  published hash are offered: MobileNetV2's have none (Keras's source fetches them unchecked).
  EfficientNetB0 is replaced by EfficientNetV2-B0, because Keras's EfficientNetB0 adds a
  preprocessing layer only when it downloads its weights itself: built from a checked local
  file it would silently lack it. EfficientNetV2 and MobileNetV3 build the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

DEFAULT_BACKBONE = "squeezenet"
_KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class BackboneSpec:
    """One pretrained network. ``label`` is what a person picks from, ``network`` its name in
    messages ("MobileNetV3-Large"); ``weights_hash`` is the
    published SHA-256 (64 hex digits) or MD5 (32) of the weights file at ``weights_url``;
    ``builder`` the ``keras.applications`` function (empty for SqueezeNet)."""

    name: str
    label: str
    input_size: int
    feature_dim: int
    offline: bool
    network: str = ""
    weights_url: str = ""
    weights_hash: str = ""
    download_mb: float = 0.0
    builder: str = ""

    def __post_init__(self):
        if self.input_size < 32 or self.feature_dim < 1:
            raise ValueError("`input_size` must be >= 32 and `feature_dim` >= 1. Received: "
                             f"{self.input_size}, {self.feature_dim}")
        if not self.offline and not (self.weights_url and self.weights_hash and self.builder):
            raise ValueError(f"A downloaded backbone needs `weights_url`, `weights_hash` and "
                             f"`builder`. Received: {self!r}")


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec for spec in (
        BackboneSpec("squeezenet", "Pretrained (SqueezeNet, offline)", 224, 512, offline=True,
                     network="SqueezeNet 1.1"),
        BackboneSpec(
            "mobilenetv3", "Pretrained (MobileNetV3, 12 MB download)", 224, 960, offline=False,
            network="MobileNetV3-Large",
            weights_url=_KERAS_WEIGHTS + "mobilenet_v3/"
                                         "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
            weights_hash="07fb09a5933dd0c8eaafa16978110389", download_mb=12,
            builder="MobileNetV3Large"),
        BackboneSpec(
            "efficientnetv2b0", "Pretrained (EfficientNetV2-B0, 24 MB download)", 224, 1280,
            offline=False, network="EfficientNetV2-B0",
            weights_url=_KERAS_WEIGHTS + "efficientnet_v2/efficientnetv2-b0_notop.h5",
            weights_hash="893217f2bb855e2983157299931e43ff", download_mb=24,
            builder="EfficientNetV2B0"),
    )
}


def backbone_spec(name: str) -> BackboneSpec:
    """``BACKBONES[name]`` with a sentence naming the choices when ``name`` is unknown."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"`name` must be one of {', '.join(BACKBONES)}. Received: {name!r}") \
            from None


def build_backbone(name: str, *, on_progress: Callable[[int, int | None], None] | None = None,
                   should_stop: Callable[[], bool] | None = None, trainable: bool = False):
    """The backbone ``name`` as a Keras model: (input_size, input_size, 3) float 0-255 RGB
    pixels in, (batch, feature_dim) pooled features out. Frozen unless ``trainable``.

    A downloaded backbone's weights are fetched first when not cached: ``on_progress(done,
    total_or_None)`` reports bytes, ``should_stop()`` is checked between chunks. Raises
    ``DownloadCancelled`` or ``WeightsUnavailable`` (one plain sentence; its ``fallback`` names
    the offline backbone).
    """
    spec = backbone_spec(name)
    if spec.offline:
        from horsehuman_gui.core.squeezenet import build_squeezenet

        model = build_squeezenet()
    else:
        from horsehuman_gui.core import weights

        path = weights.fetch(spec.weights_url, spec.weights_hash, spec.network or spec.name,
                             on_progress=on_progress, should_stop=should_stop)
        model = _keras_application(spec, path)
    model.trainable = trainable
    return model


def _keras_application(spec: BackboneSpec, path):
    from horsehuman_gui.core.tfsetup import load_tensorflow

    keras = load_tensorflow()
    application = getattr(keras.applications, spec.builder)
    # Both builders put their preprocessing (0-255 -> the network's range) inside the model.
    return application(input_shape=(spec.input_size, spec.input_size, 3), include_top=False,
                       weights=str(path), pooling="avg")

