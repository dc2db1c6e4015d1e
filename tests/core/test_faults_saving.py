"""Issue #12: saving never replaces a file that appeared meanwhile, keeps the model when the
folder fails, cleans its own leftovers; crafted model files are refused before being read."""

from __future__ import annotations

import errno
import json
import os
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from horsehuman_gui import __version__
from horsehuman_gui.core import bundle as bundle_module
from horsehuman_gui.core.bundle import (KERAS_TEMP_PREFIX, METADATA_MEMBER, ModelBundle,
                                        autosave_bundle, autosave_stem, load_bundle,
                                        save_bundle, save_with_fallback)
from horsehuman_gui.core.errors import ModelFileError
from horsehuman_gui.core.models import build_model
from horsehuman_gui.core.paths import models_dir, publish

HOUR = 3600


@pytest.fixture(scope="module")
def model():
    return build_model("compact", 32, 2)


def bundle_of(model) -> ModelBundle:
    return ModelBundle(model=model, class_names=("blue", "red"), image_size=32,
                       app_version=__version__)


def _appears_during_save(monkeypatch, target: Path, content: bytes = b"theirs"):
    """Someone else's file takes the name while the model is being written."""
    original = bundle_module.flush_file

    def flush(temp):
        target.write_bytes(content)
        return original(temp)

    monkeypatch.setattr(bundle_module, "flush_file", flush)


# ---------------------------------------------------------------- 1. nothing clobbered

def test_publish_without_overwrite_never_replaces(tmp_path):
    temp, final = tmp_path / ".t.tmp", tmp_path / "final.csv"
    temp.write_text("ours")
    final.write_text("theirs")

    with pytest.raises(FileExistsError):
        publish(temp, final, overwrite=False)
    assert final.read_text() == "theirs" and temp.read_text() == "ours"
    final.unlink()
    assert publish(temp, final, overwrite=False) == final
    assert final.read_text() == "ours" and not temp.exists()


def test_a_file_appearing_during_the_save_is_kept(model, tmp_path, monkeypatch):
    target = tmp_path / "out.keras"
    _appears_during_save(monkeypatch, target)

    with pytest.raises(ModelFileError, match="exists"):
        save_bundle(bundle_of(model), target, overwrite=False)
    assert target.read_bytes() == b"theirs"
    assert sorted(os.listdir(tmp_path)) == ["out.keras"]  # no temporary file left


def test_overwrite_replaces_as_before(model, tmp_path, monkeypatch):
    target = tmp_path / "out.keras"
    _appears_during_save(monkeypatch, target)

    assert save_bundle(bundle_of(model), target, overwrite=True) == target
    assert load_bundle(target).class_names == ("blue", "red")


def test_autosave_takes_the_next_name_when_its_name_appears_meanwhile(model, monkeypatch):
    stem = autosave_stem("my photos", 0.5, stopped=True)
    first = models_dir() / f"{stem}.keras"
    _appears_during_save(monkeypatch, first)

    saved = autosave_bundle(bundle_of(model), stem)

    assert saved == models_dir() / f"{stem}-2.keras"
    assert first.read_bytes() == b"theirs"
    assert load_bundle(saved).class_names == ("blue", "red")


# ---------------------------------------------------------------- 2. nothing lost

def test_a_failed_save_falls_back_to_the_data_folder(model, tmp_path, monkeypatch):
    original, calls = bundle_module.flush_file, []

    def disk_full_once(temp):
        calls.append(temp)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(temp)

    monkeypatch.setattr(bundle_module, "flush_file", disk_full_once)
    target = tmp_path / "horses.keras"

    saved = save_with_fallback(bundle_of(model), target)

    assert not target.exists() and os.listdir(tmp_path) == []
    assert saved.path == models_dir() / "horses.keras"
    assert str(target) in saved.problem and "no space left on device" in saved.problem
    assert load_bundle(saved.path).class_names == ("blue", "red")


def test_a_name_taken_meanwhile_falls_back_too(model, tmp_path, monkeypatch):
    target = tmp_path / "horses.keras"
    _appears_during_save(monkeypatch, target)

    saved = save_with_fallback(bundle_of(model), target)

    assert target.read_bytes() == b"theirs" and saved.path.parent == models_dir()


def test_when_both_fail_the_error_says_both(model, tmp_path, monkeypatch):
    def disk_full(temp):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle_module, "flush_file", disk_full)
    with pytest.raises(ModelFileError, match="failed too: no space left"):
        save_with_fallback(bundle_of(model), tmp_path / "horses.keras")


def test_success_has_no_problem(model, tmp_path):
    saved = save_with_fallback(bundle_of(model), tmp_path / "ok.keras")
    assert saved.path == tmp_path / "ok.keras" and saved.problem is None


# ---------------------------------------------------------------- 5. leftovers

def _aged(path: Path, seconds: float, data: bytes = b"x") -> Path:
    path.write_bytes(data)
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


def test_a_save_removes_its_own_stale_temporary_files_only(model, tmp_path):
    old = _aged(tmp_path / ".horses.0123abcd.tmp.keras", 2 * HOUR)
    young = _aged(tmp_path / ".horses.89abcdef.tmp.keras", 10)
    other = _aged(tmp_path / ".notes.0123abcd.tmp", 2 * HOUR)  # not ours
    link = tmp_path / ".horses.fedcba98.tmp.keras"
    os.symlink(other, link)

    save_bundle(bundle_of(model), tmp_path / "horses.keras")

    assert not old.exists()
    assert young.exists() and other.exists() and link.is_symlink()


def test_kerass_temporary_folders_are_ours_and_stale_ones_go(model, tmp_path, monkeypatch):
    system_temp = tmp_path / "tmp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    stale = system_temp / f"{KERAS_TEMP_PREFIX}left"
    stale.mkdir()
    past = time.time() - 2 * HOUR
    os.utime(stale, (past, past))
    keep = system_temp / "tmpsomeoneelse"
    keep.mkdir()
    os.utime(keep, (past, past))
    from keras.src.saving import saving_lib
    made = []
    monkeypatch.setattr(saving_lib.DiskIOStore, "close", lambda store: made.append(
        store.tmp_dir))  # as if killed: Keras never removes its folder

    save_bundle(bundle_of(model), tmp_path / "m.keras")

    assert not stale.exists() and keep.exists()
    assert made and all(Path(d).name.startswith(KERAS_TEMP_PREFIX) for d in made)


# ---------------------------------------------------------------- 6. crafted files

def _copy_with(source: Path, target: Path, extra: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w",
                                                         zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            if name not in extra:
                zout.writestr(name, zin.read(name))
        for name, data in extra.items():
            zout.writestr(name, data)
    return target


@pytest.fixture(scope="module")
def saved_model(model, tmp_path_factory):
    return save_bundle(bundle_of(model), tmp_path_factory.mktemp("m") / "m.keras")


def test_huge_metadata_is_refused_before_it_is_read(saved_model, tmp_path, monkeypatch):
    metadata = json.dumps({"class_names": ["a", "b"], "pad": " " * 3 * 2**20}).encode()
    crafted = _copy_with(saved_model, tmp_path / "big.keras", {METADATA_MEMBER: metadata})
    monkeypatch.setattr(bundle_module, "_load_model", lambda path: pytest.fail("loaded"))
    read = zipfile.ZipFile.read
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *a: pytest.fail("read whole"))

    with pytest.raises(ModelFileError, match="horsehuman.json of 3.0 MB"):
        load_bundle(crafted)
    monkeypatch.setattr(zipfile.ZipFile, "read", read)


def test_an_archive_unpacking_to_more_than_the_limit_is_refused(saved_model, tmp_path,
                                                               monkeypatch):
    crafted = _copy_with(saved_model, tmp_path / "many.keras",
                         {f"assets/blob{i}": b"\0" * 2**20 for i in range(3)})
    monkeypatch.setattr(bundle_module, "MAX_MODEL_BYTES", 2 * 2**20)
    monkeypatch.setattr(bundle_module, "_load_model", lambda path: pytest.fail("loaded"))

    with pytest.raises(ModelFileError, match="unpacks to .* MB, more than a model file may"):
        load_bundle(crafted)


def test_names_leading_outside_the_folder_are_refused_without_warnings(saved_model, tmp_path):
    crafted = _copy_with(saved_model, tmp_path / "escape.keras",
                         {"assets/../../evil.txt": b"hello"})

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ModelFileError, match=r"outside their folder \(\.\./"):
            load_bundle(crafted)


def test_a_tfsmlayer_is_not_called_a_lambda(saved_model, monkeypatch):
    import keras

    message = ("Requested the deserialization of a `TFSMLayer`, which loads an external "
               "SavedModel. ... passing `safe_mode=False` to the loading function, or calling "
               "`keras.config.enable_unsafe_deserialization().")

    def refuse(*args, **kwargs):
        raise ValueError(message)

    monkeypatch.setattr(keras.saving, "load_model", refuse)
    with pytest.raises(ModelFileError, match="TFSMLayer") as caught:
        load_bundle(saved_model)
    assert "Lambda" not in str(caught.value)


def test_our_own_files_still_load(saved_model):
    assert load_bundle(saved_model).model.predict(
        np.zeros((1, 32, 32, 3), np.uint8), verbose=0).shape == (1, 1)


def test_loading_unpacks_only_assets_into_the_temporary_folder(saved_model, monkeypatch):
    from keras.src.saving import saving_lib
    close, unpacked = saving_lib.DiskIOStore.close, []

    def spy(store):
        if store.mode == "r" and store.tmp_dir:
            unpacked.extend(p.name for p in Path(store.tmp_dir).rglob("*") if p.is_file())
        return close(store)

    monkeypatch.setattr(saving_lib.DiskIOStore, "close", spy)
    assert load_bundle(saved_model).class_names == ("blue", "red")
    assert unpacked == []  # not model.weights.h5, config.json... again
