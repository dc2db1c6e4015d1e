"""The model file: round trip with class names, atomic save, plain Keras files, bad files."""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from horsehuman_gui import __version__
from horsehuman_gui.core import archive
from horsehuman_gui.core import bundle as bundle_module
from horsehuman_gui.core.bundle import (METADATA_MEMBER, ModelBundle, autosave_path,
                                        bundle_from_result, load_bundle, open_model,
                                        save_bundle)
from horsehuman_gui.core.config import EpochMetrics, TrainConfig, TrainResult
from horsehuman_gui.core.evaluation import Evaluation, Scores
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


def test_an_uncompiled_model_is_saved_as_it_is_without_a_copy(trained, tmp_path, monkeypatch):
    from horsehuman_gui.core.session import inference_copy

    model = inference_copy(trained)  # what training hands over
    monkeypatch.setattr(keras.models, "clone_model", lambda *a, **k: pytest.fail("copied"))
    path = save_bundle(bundle_of(model), tmp_path / "inference.keras")

    again = keras.saving.load_model(path)
    assert all(np.array_equal(a, b) for a, b in zip(again.get_weights(), trained.get_weights()))


def _fail_half_way(model, temp: Path) -> None:
    temp.write_bytes(b"half a model")
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("step", ["_write_model", "_add_metadata", "flush_file"])
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
    monkeypatch.setattr(archive, "BLOCK_BYTES", 1000)  # the 64x64 kernel: 16 KB
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

    monkeypatch.setattr(archive, "BLOCK_BYTES", 2**30)  # the same file read whole
    for whole, blocks in zip(load_bundle(path).model.get_weights(), loaded.model.get_weights()):
        np.testing.assert_array_equal(whole, blocks)


def test_big_weights_reach_their_variables_as_tensors_made_in_blocks(trained, tmp_path,
                                                                     monkeypatch):
    from keras.src.saving import saving_lib

    original = saving_lib.H5IOStore.__getitem__
    monkeypatch.setattr(archive, "BLOCK_BYTES", 1000)  # the 64x64 kernel: 16 KB
    path = save_bundle(bundle_of(trained), tmp_path / "tensors.keras")
    blocks = []
    read_rows = archive._read_rows
    monkeypatch.setattr(archive, "_read_rows",
                        lambda dataset, rows: blocks.append(rows) or read_rows(dataset, rows))

    loaded = load_bundle(path)
    assert len(blocks) > 1 and saving_lib.H5IOStore.__getitem__ is original  # put back
    for saved, kept in zip(loaded.model.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(saved, kept)

    blocks.clear()
    def renamed():
        raise AttributeError("module 'keras.src.saving.saving_lib' has no attribute 'H5IOStore'")

    monkeypatch.setattr(archive, "_keras_h5_store", renamed)  # a later Keras: its own way
    again = load_bundle(path)
    assert blocks == []
    for saved, kept in zip(again.model.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(saved, kept)


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


def _story_result(model) -> TrainResult:
    history = (EpochMetrics(1, 2, 0.7, 0.5, 0.69, 0.5, 1.5),
               EpochMetrics(2, 2, 0.4, 0.9, float("nan"), 1.0, 1.25))
    return TrainResult(model=model, class_names=("blue", "red"), image_size=32,
                       history=history, stopped=False,
                       config=TrainConfig(model="compact", image_size=32), best_epoch=2)


def test_the_story_goes_into_the_file_and_comes_back(trained, tmp_path, split_folders):
    from horsehuman_gui.core.dataset import scan_dataset

    evaluation = Scores([0, 1, 1], [0.2, 0.9, 0.4], ("blue", "red")).evaluate()
    report = scan_dataset(split_folders)
    made = bundle_from_result(_story_result(trained), evaluation=evaluation, dataset=report)

    loaded = load_bundle(save_bundle(made, tmp_path / "story.keras"))

    assert loaded.config == dataclasses.asdict(TrainConfig(model="compact", image_size=32))
    assert loaded.history[0] == {"epoch": 1, "epochs": 2, "loss": 0.7, "accuracy": 0.5,
                                 "val_loss": 0.69, "val_accuracy": 0.5, "seconds": 1.5}
    assert loaded.history[1]["val_loss"] is None  # NaN is not JSON: stored as null
    assert loaded.best_epoch == 2
    assert Evaluation.from_json(loaded.evaluation) == evaluation
    assert loaded.dataset["root"] == str(split_folders) and loaded.dataset["layout"] == "split"
    assert loaded.dataset["counts"] == {"train": {"blue": 12, "red": 12},
                                        "validation": {"blue": 4, "red": 4}}
    assert loaded.dataset["grouping"]["signals"] and "groups" in loaded.dataset["grouping"]


def test_a_file_without_a_story_loads_with_none_and_empty(trained, tmp_path):
    """Files saved before the story existed: only the first six keys."""
    path = save_bundle(bundle_of(trained), tmp_path / "old.keras")
    old = {"format": "horsehuman-gui model", "format_version": 1, "class_names": ["a", "b"],
           "image_size": 32, "app_version": "0.0.9", "created": "2026-01-01T10:00:00"}
    _replace_metadata(path, old)

    loaded = load_bundle(path)

    assert loaded.class_names == ("a", "b") and loaded.app_version == "0.0.9"
    assert (loaded.config, loaded.history, loaded.best_epoch, loaded.evaluation,
            loaded.dataset) == (None, (), None, None, None)


def test_a_damaged_story_is_dropped_but_the_model_loads(trained, tmp_path):
    path = save_bundle(bundle_of(trained), tmp_path / "odd.keras")
    _replace_metadata(path, {"class_names": ["a", "b"], "config": "not a dict",
                             "history": [1, 2], "best_epoch": True, "evaluation": {"x": 1}})

    loaded = load_bundle(path)

    assert loaded.class_names == ("a", "b")
    assert loaded.config is None and loaded.history == () and loaded.best_epoch is None
    assert loaded.evaluation == {"x": 1}  # a dict: read as it is, checked by its reader


def _replace_metadata(path: Path, metadata: dict) -> None:
    with zipfile.ZipFile(path) as zin:
        members = {n: zin.read(n) for n in zin.namelist() if n != METADATA_MEMBER}
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)
        zout.writestr(METADATA_MEMBER, json.dumps(metadata))


def test_open_model_opens_keras_files_and_teachable_machine_exports(trained, tmp_path):
    ours = open_model(save_bundle(bundle_of(trained), tmp_path / "ours.keras"))
    assert ours.class_names == ("blue", "red")

    folder = tmp_path / "tm"
    folder.mkdir()
    trained.save(folder / "keras_model.h5")
    (folder / "labels.txt").write_text("0 Sky\n1 Fire\n", encoding="utf-8")
    theirs = open_model(folder)

    assert theirs.class_names == ("Sky", "Fire") and theirs.app_version == "Teachable Machine"
    with pytest.raises(ModelFileError, match="No model file"):
        open_model(tmp_path / "missing.keras")


def test_the_dataset_root_is_stored_absolute(split_folders, monkeypatch):
    from horsehuman_gui.core.bundle import dataset_summary
    from horsehuman_gui.core.dataset import scan_dataset

    monkeypatch.chdir(split_folders.parent)
    assert dataset_summary(scan_dataset(split_folders.name))["root"] == str(split_folders)


def test_a_model_set_aside_is_read_back_from_its_file_when_needed(trained, tmp_path):
    """While another model trains, the current one leaves memory; whatever needs it reads
    it again from its file, which must be the one it came from."""
    import gc
    import weakref

    from horsehuman_gui.core.bundle import SetAside, set_aside, with_model
    from horsehuman_gui.core.prediction import predict_files
    from PIL import Image

    path = save_bundle(bundle_of(trained), tmp_path / "m.keras")
    loaded = load_bundle(path)
    assert loaded.file_state is not None
    model = weakref.ref(loaded.model)

    aside = set_aside(loaded)
    del loaded
    gc.collect()

    assert isinstance(aside.model, SetAside) and model() is None  # its memory can go
    assert aside.class_names == ("blue", "red") and aside.path == path
    assert set_aside(aside) is aside
    back = with_model(aside)
    np.testing.assert_allclose(np.asarray(back.model(PIXELS, training=False)),
                               np.asarray(trained(PIXELS, training=False)), rtol=1e-6)
    assert with_model(back) is back
    image = tmp_path / "x.png"
    Image.fromarray(PIXELS[0]).save(image)
    (prediction,) = predict_files(aside, [image])  # classifying reads it back by itself
    assert prediction.error is None and prediction.label in ("blue", "red")
    copy = save_bundle(aside, tmp_path / "copy.keras")  # and so does saving it elsewhere
    assert load_bundle(copy).class_names == ("blue", "red")

    save_bundle(bundle_of(trained, ("cats", "dogs")), path)  # the file is rewritten meanwhile
    with pytest.raises(ModelFileError, match="changed or removed"):
        with_model(aside)
    assert set_aside(bundle_of(trained)) is None  # never saved: nothing to read it back from
    stale = dataclasses.replace(load_bundle(copy), file_state=(1, 2, 3))
    assert set_aside(stale) is None  # not the file the model was read from: kept in memory
