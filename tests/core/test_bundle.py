"""The model file: round trip with class names, atomic save, plain Keras files, bad files."""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from horsehuman_gui import __version__
from horsehuman_gui.core import bundle as bundle_module
from horsehuman_gui.core.bundle import (METADATA_MEMBER, ModelBundle, autosave_path,
                                        bundle_from_result, load_bundle, save_bundle)
from horsehuman_gui.core.config import TrainConfig, TrainResult
from horsehuman_gui.core.errors import ModelFileError
from horsehuman_gui.core.models import build_model, keras
from horsehuman_gui.core.paths import models_dir

PIXELS = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3)).astype(np.uint8)


@pytest.fixture(scope="module")
def trained():
    """A compact model after one training step (weights no longer the initial ones)."""
    keras.utils.set_random_seed(2)
    model = build_model("compact", 32, 2)
    model.fit(PIXELS, np.array([[0], [1], [0], [1], [1]], np.float32), epochs=1, verbose=0)
    return model


def bundle_of(model, names=("blue", "red")) -> ModelBundle:
    return ModelBundle(model=model, class_names=names, image_size=32, app_version=__version__)


def test_round_trip_keeps_class_names_size_version_and_predictions(trained, tmp_path):
    path = save_bundle(bundle_of(trained), tmp_path / "colours.keras")

    loaded = load_bundle(path)

    assert path == tmp_path / "colours.keras"
    assert loaded.class_names == ("blue", "red") and loaded.binary
    assert loaded.image_size == 32 and loaded.app_version == __version__
    assert loaded.path == path and loaded.warnings == () and loaded.created
    np.testing.assert_allclose(np.asarray(loaded.model(PIXELS, training=False)),
                               np.asarray(trained(PIXELS, training=False)), rtol=1e-6)


def test_the_saved_file_gets_the_usual_permissions_not_owner_only(trained, tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = save_bundle(bundle_of(trained), tmp_path / "shared.keras")

    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["shared.keras"]  # no temporary file left


def test_the_file_is_a_plain_keras_model_with_one_extra_member(trained, tmp_path):
    path = save_bundle(bundle_of(trained), tmp_path / "colours.keras")
    trained.save(tmp_path / "with-optimizer.keras")

    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read(METADATA_MEMBER))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(path)  # Keras ignores our member, quietly

    assert not [w for w in caught if "horsehuman" in str(w.message) or "optimizer" in str(
        w.message)]

    assert metadata["class_names"] == ["blue", "red"] and metadata["image_size"] == 32
    assert model.count_params() == trained.count_params()
    # no optimizer state: smaller than the same model saved compiled
    assert path.stat().st_size < (tmp_path / "with-optimizer.keras").stat().st_size


def _fail_half_way(model, temp: Path) -> None:
    temp.write_bytes(b"half a model")
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("step", ["_write_model", "_add_metadata", "_flush_to_disk"])
def test_a_failed_save_leaves_the_previous_file_intact(trained, tmp_path, monkeypatch, step):
    path = save_bundle(bundle_of(trained), tmp_path / "model.keras")
    before = path.read_bytes()
    monkeypatch.setattr(bundle_module, step, _fail_half_way if step == "_write_model"
                        else lambda *args: _fail_half_way(None, Path(args[0])))

    with pytest.raises(ModelFileError, match="no space left on device"):
        save_bundle(bundle_of(trained, ("cats", "dogs")), path)

    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]  # no temporary file left behind


def test_big_weights_are_written_and_read_a_block_at_a_time(trained, tmp_path, monkeypatch):
    import h5py

    originals = h5py.Group.__setitem__, h5py.Dataset.__array__
    monkeypatch.setattr(bundle_module, "BLOCK_BYTES", 1000)  # the 64x64 kernel: 16 KB
    writes, reads = [], []
    dataset_setitem, read_direct = h5py.Dataset.__setitem__, h5py.Dataset.read_direct
    monkeypatch.setattr(h5py.Dataset, "__setitem__",
                        lambda ds, key, value: (writes.append(ds.name),
                                                dataset_setitem(ds, key, value))[1])
    monkeypatch.setattr(h5py.Dataset, "read_direct",
                        lambda ds, *args, **kwargs: (reads.append(ds.name),
                                                     read_direct(ds, *args, **kwargs))[1])

    path = save_bundle(bundle_of(trained), tmp_path / "blocks.keras")
    assert (h5py.Group.__setitem__, h5py.Dataset.__array__) == originals  # put back
    assert len(writes) > len(set(writes)) > 0  # some weight went in several blocks

    loaded = load_bundle(path)
    assert (h5py.Group.__setitem__, h5py.Dataset.__array__) == originals
    assert len(reads) > len(set(reads)) > 0  # and came out in several
    for saved, kept in zip(loaded.model.get_weights(), trained.get_weights()):
        assert saved.dtype == kept.dtype
        np.testing.assert_array_equal(saved, kept)

    monkeypatch.setattr(bundle_module, "BLOCK_BYTES", 2**30)  # the same file read whole
    for whole, blocks in zip(load_bundle(path).model.get_weights(), loaded.model.get_weights()):
        np.testing.assert_array_equal(whole, blocks)


def test_a_plain_course_style_file_loads_with_generic_names_and_a_warning(trained, tmp_path):
    trained.save(tmp_path / "course.keras")

    plain = load_bundle(tmp_path / "course.keras")
    named = load_bundle(tmp_path / "course.keras", class_names=("horses", "humans"))

    assert plain.class_names == ("class 0", "class 1")
    assert len(plain.warnings) == 1 and "class 0" in plain.warnings[0]
    assert plain.image_size == 32 and plain.app_version == "unknown"
    assert named.class_names == ("horses", "humans") and named.warnings == ()


def test_class_count_must_match_the_models_output(tmp_path):
    three = build_model("compact", 32, 3)
    three.save(tmp_path / "three.keras")
    save_bundle(bundle_of(three, ("a", "b", "c")), tmp_path / "ours.keras")

    with pytest.raises(ModelFileError, match="predicts 3 classes, but 2 class names"):
        load_bundle(tmp_path / "three.keras", class_names=("a", "b"))
    assert load_bundle(tmp_path / "ours.keras").class_names == ("a", "b", "c")
    lying = tmp_path / "lying.keras"  # metadata claiming 2 classes for a 3-way model
    with zipfile.ZipFile(tmp_path / "three.keras") as source, zipfile.ZipFile(lying, "w") as out:
        for name in source.namelist():
            out.writestr(name, source.read(name))
        out.writestr(METADATA_MEMBER, json.dumps({"class_names": ["x", "y"]}))
    with pytest.raises(ModelFileError, match="predicts 3 classes"):
        load_bundle(lying)


def _not_a_zip(path: Path) -> Path:
    path.write_text("just some text")
    return path


def _zip_without_model(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return path


@pytest.mark.parametrize("make, match", [
    (lambda p: p, "No model file"),
    (_not_a_zip, "not a Keras model file"),
    (_zip_without_model, "not a Keras model"),
    (lambda p: p.with_suffix(".h5").write_bytes(b"\x89HDF\r\n") and p.with_suffix(".h5"),
     "older .h5"),
])
def test_unusable_files_give_a_plain_message(tmp_path, make, match):
    path = make(tmp_path / "model.keras")

    with pytest.raises(ModelFileError, match=match):
        load_bundle(path)


def test_safe_mode_refuses_code_inside_the_file(tmp_path):
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(1, activation="sigmoid")(
        keras.layers.Lambda(lambda x: keras.ops.mean(x, axis=(1, 2)))(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")

    with pytest.raises(ModelFileError, match="Lambda"):
        load_bundle(tmp_path / "lambda.keras")


@pytest.mark.parametrize("name", ["model.h5", "missing/model.keras"])
def test_save_refuses_bad_destinations(trained, tmp_path, name):
    with pytest.raises(ModelFileError):
        save_bundle(bundle_of(trained), tmp_path / name)


def test_autosave_names_are_readable_and_never_reuse_a_file(tmp_path):
    first = autosave_path(tmp_path / "horse-or-human", 0.9412, stopped=False)
    first.write_bytes(b"taken")
    second = autosave_path(tmp_path / "horse-or-human", 0.9412, stopped=False)
    stopped = autosave_path(tmp_path / "my photos", None, stopped=True)

    assert first.parent == models_dir()
    assert first.name.startswith("horse-or-human_") and first.name.endswith("_val-0.94.keras")
    assert second != first and second.name.endswith("_val-0.94-2.keras")
    assert stopped.name.startswith("my-photos_") and stopped.name.endswith(
        "_no-val_stopped.keras")


def test_bundle_from_result(trained):
    result = TrainResult(model=trained, class_names=("blue", "red"), image_size=32,
                         history=(), stopped=False, config=TrainConfig(image_size=32))

    made = bundle_from_result(result)

    assert made.model is trained and made.class_names == ("blue", "red")
    assert made.image_size == 32 and made.app_version == __version__ and made.path is None
