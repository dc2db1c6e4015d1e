"""The model file: one ``.keras`` file a user can move, carrying class names, input size and the
app version; loads back ready to predict. Keras safe mode stays on when loading.

A ``.keras`` file is a zip archive; our metadata is one extra member, ``horsehuman.json``, which
Keras ignores when loading, so the file stays an ordinary Keras model for any other program.
A plain ``.keras`` without that member (course-style code) loads too, with generic class names.

No TensorFlow at import time: the GUI imports ``ModelBundle`` before TensorFlow has loaded.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import secrets
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Iterable

from horsehuman_gui import __version__
from horsehuman_gui.core import archive
from horsehuman_gui.core.archive import (KERAS_TEMP_PREFIX, MAX_MODEL_BYTES, METADATA_MEMBER,
                                         h5_in_blocks)
from horsehuman_gui.core.archive import reason as _reason
from horsehuman_gui.core.bundle_metadata import (FORMAT_NAME, FORMAT_VERSION, as_dict,
                                                 dataset_summary, metadata_bytes, read_metadata,
                                                 story_from)
from horsehuman_gui.core.bundle_metadata import ModelBundle
from horsehuman_gui.core.errors import ModelFileError
from horsehuman_gui.core.paths import (create_new_file, data_dir, flush_file, flush_folder,
                                       models_dir, publish, remove_stale_temporaries)

logger = logging.getLogger(__name__)

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "KERAS_TEMP_PREFIX", "METADATA_MEMBER", "ModelBundle",
           "SavedModel", "autosave_bundle", "autosave_path", "autosave_stem",
           "SetAside", "bundle_from_result", "dataset_summary", "file_state", "load_bundle",
           "open_model", "save_bundle", "save_with_fallback", "saved_as", "set_aside",
           "with_model"]


def bundle_from_result(result, evaluation=None, dataset=None) -> ModelBundle:
    """A bundle for a ``TrainResult`` (not yet saved: ``path`` is None) with its story: the
    config, history and best epoch from ``result``; ``evaluation`` an ``Evaluation`` (or its
    ``to_json()``; by default ``result.evaluation``), ``dataset`` a ``ScanReport`` (or its
    ``dataset_summary``), both optional."""
    if evaluation is None:
        evaluation = getattr(result, "evaluation", None)
    return ModelBundle(model=result.model, class_names=tuple(result.class_names),
                       image_size=result.image_size, app_version=__version__,
                       created=datetime.now().isoformat(timespec="seconds"),
                       config=as_dict(result.config),
                       history=tuple(as_dict(m) for m in result.history),
                       best_epoch=result.best_epoch, evaluation=as_dict(evaluation),
                       dataset=as_dict(dataset))


def save_bundle(bundle: ModelBundle, path: str | Path, overwrite: bool = True) -> Path:
    """Write ``bundle`` to ``path`` (a ``.keras`` file) atomically; return the path written.

    The model goes to a temporary file beside ``path``, our metadata is added to it, it is
    flushed to disk, and only then given its name. On any failure the temporary file is
    removed, a previous file at ``path`` is left as it was, and ``ModelFileError`` says why.
    ``overwrite=False`` never replaces a file, not even one that appeared during the save
    (``ModelFileError`` then; use ``save_with_fallback`` to keep the model anyway).
    Temporary files left in that folder by killed saves are removed first.
    The model is saved uncompiled, without optimizer state: the file is for predicting.
    """
    path = Path(path)
    if path.suffix.lower() != ".keras":
        raise ModelFileError(f"A model file name must end in .keras. Received: {path.name}")
    if not path.parent.is_dir():
        raise ModelFileError(f"Cannot save the model: folder {path.parent} does not exist.")
    return _save(bundle, [path], overwrite)


def _save(bundle: ModelBundle, names: Iterable[Path], overwrite: bool) -> Path:
    """Write the file once, then give it the first of ``names`` that is free (or the first,
    replaced, with ``overwrite``)."""
    names = iter(names)
    first = next(names)
    remove_stale_temporaries(first.parent, _TEMP_NAME)
    try:
        temp = _temp_beside(first)
    except OSError as exc:
        raise ModelFileError(f"Could not save the model to {first}: {_reason(exc)}") from exc
    try:
        _write_model(with_model(bundle).model, temp)
        _add_metadata(temp, bundle)
        flush_file(temp)
        path = _publish_first(temp, itertools.chain([first], names), overwrite)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if not isinstance(exc, Exception):
            raise
        if isinstance(exc, FileExistsError):
            raise ModelFileError(f"Did not save the model to {first}: a file by that name "
                                 "exists (it was left as it is).") from exc
        raise ModelFileError(f"Could not save the model to {first}: {_reason(exc)}") from exc
    flush_folder(path.parent)
    logger.info("Saved model to %s", path)
    return path


def _publish_first(temp: Path, names: Iterable[Path], overwrite: bool) -> Path:
    taken: FileExistsError | None = None
    for name in names:
        try:
            return publish(temp, name, overwrite)
        except FileExistsError as exc:
            taken = exc
    raise taken or FileExistsError("no name to save to")


#: Our temporary files: ``.<stem>.<8 hex digits>.tmp.keras``, hidden beside the model file.
_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{8}\.tmp\.keras")


def _temp_beside(path: Path) -> Path:
    """A new empty file beside ``path``. Unlike ``mkstemp`` (owner-only), its permissions
    follow the umask, as for any other file the person saves."""
    names = (f".{path.stem}.{secrets.token_hex(4)}.tmp.keras" for _ in range(100))
    return create_new_file((path.with_name(n) for n in names),
                           f"a temporary file beside {path}")


@dataclass(frozen=True)
class SavedModel:
    """Where ``save_with_fallback`` put the model."""

    path: Path
    #: why the model is not at the path asked for (one sentence), None when it is
    problem: str | None = None


def save_with_fallback(bundle: ModelBundle, path: str | Path,
                       overwrite: bool = False) -> SavedModel:
    """Save to ``path``; if that fails (disk full, no permission, the name was taken meanwhile
    and ``overwrite`` is False...), save a new file in ``paths.models_dir()`` instead, named
    after ``path``. Never replaces a file unless ``overwrite``. Raises ``ModelFileError`` only
    when both failed (saying both reasons), so a trained model is not lost to one bad folder.
    """
    path = Path(path)
    try:
        return SavedModel(save_bundle(bundle, path, overwrite=overwrite))
    except ModelFileError as failed:
        logger.warning("%s Saving to the data folder instead.", failed)
        try:
            return SavedModel(autosave_bundle(bundle, _slug(path.stem) or "model"), str(failed))
        except (ModelFileError, OSError) as also:
            reason = _reason(also.__cause__ or also) if isinstance(also, ModelFileError) \
                else _reason(also)
            raise ModelFileError(f"{failed} Saving it to {data_dir()} failed too: "
                                 f"{reason}") from also


def autosave_bundle(bundle: ModelBundle, stem: str) -> Path:
    """Save ``bundle`` as a new file ``<stem>.keras`` in ``paths.models_dir()`` (``-2``,
    ``-3``... when taken, also by a file that appears during the save); return its path.
    Never replaces a file. ``autosave_stem`` makes the usual stem."""
    try:
        folder = models_dir()
    except OSError as exc:
        raise ModelFileError(f"Could not save the model to {data_dir()}: {_reason(exc)}") from exc
    names = (folder / (f"{stem}.keras" if n == 1 else f"{stem}-{n}.keras")
             for n in range(1, 10_000))
    return _save(bundle, names, overwrite=False)


def _write_model(model, temp: Path) -> None:
    """Save an uncompiled copy of ``model``: its optimizer state (as many numbers as the model
    has weights) is only needed to resume training, and would double the file's size."""
    import keras

    if getattr(model, "optimizer", None) is not None:  # a trained model is an inference copy
        copy = keras.models.clone_model(model)  # already; copying 160 MB of weights again held
        copy.set_weights(model.get_weights())  # the GIL for tens of milliseconds
        model = copy
    with h5_in_blocks():
        model.save(temp)


def _add_metadata(temp: Path, bundle: ModelBundle) -> None:
    with zipfile.ZipFile(temp, "a") as zipped:
        zipped.writestr(METADATA_MEMBER, metadata_bytes(bundle))


def autosave_stem(dataset_root: str | Path, val_accuracy: float | None, stopped: bool) -> str:
    """A readable file name without ``.keras`` for an automatic save, for example
    ``horse-or-human_2026-11-24_1530_val-0.94``; ``_stopped`` marks a run stopped early.
    Named after the dataset: for a part of one (``horse-or-human/train``), its parent folder."""
    from horsehuman_gui.core.runs import dataset_name  # no cycle: runs never imports bundle

    name = _slug(dataset_name(dataset_root)) or "model"
    accuracy = "no-val" if val_accuracy is None else f"val-{val_accuracy:.2f}"
    return f"{name}_{datetime.now():%Y-%m-%d_%H%M}_{accuracy}" + ("_stopped" if stopped else "")


def autosave_path(dataset_root: str | Path, val_accuracy: float | None, stopped: bool) -> Path:
    """A name in ``paths.models_dir()`` no file has now (``-2``, ``-3``... keep names unique).

    Only a suggestion: a file may take the name before it is used. To save without ever
    replacing a file, use ``autosave_bundle(bundle, autosave_stem(...))``.
    """
    stem = autosave_stem(dataset_root, val_accuracy, stopped)
    folder = models_dir()
    candidate = folder / f"{stem}.keras"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}.keras"
        number += 1
    return candidate


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name, flags=re.UNICODE).strip("-.")[:60]


def load_bundle(path: str | Path, class_names: tuple[str, ...] | None = None) -> ModelBundle:
    """Load a model file; raise ``ModelFileError`` with a plain message when it cannot be used.

    Class names come from ``class_names`` when given, else from the file's metadata, else are
    generic ("class 0", "class 1"...) with a warning in ``ModelBundle.warnings``. Their number
    must match the model's output (one sigmoid unit = 2 classes, N softmax units = N). The
    input size is read from the model. Keras safe mode stays on.
    """
    path = Path(path)
    state = file_state(path)  # before reading: a change during the read then shows later
    archive.check_archive(path, max_bytes=MAX_MODEL_BYTES)  # read here: tests lower it
    metadata = read_metadata(path)
    model = _load_model(path)
    image_size = archive.input_size(model, path)
    outputs = archive.output_classes(model)
    warnings: list[str] = []
    names = class_names if class_names is not None else metadata.get("class_names")
    if names is None:
        names = tuple(f"class {i}" for i in range(outputs))
        warnings.append(
            f"{path.name} does not say which class is which; using {', '.join(names)}. "
            "Course models number the class folders in sorted order (horses, humans).")
    names = tuple(str(name) for name in names)
    if len(names) != outputs:
        raise ModelFileError(
            f"{path.name} predicts {outputs} classes, but {len(names)} class names were given "
            f"({', '.join(names)}).")
    return ModelBundle(model=model, class_names=names, image_size=image_size,
                       app_version=str(metadata.get("app_version", "unknown")), path=path,
                       warnings=tuple(warnings), created=metadata.get("created"),
                       file_state=state, **story_from(metadata, path.name))


def _load_model(path: Path):
    from horsehuman_gui.core.tfsetup import load_tensorflow

    keras = load_tensorflow()
    try:
        # compile=False: predicting needs no optimizer; safe_mode refuses code in the file.
        with h5_in_blocks():
            return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ModelFileError(archive.load_failure(path, exc)) from exc


def open_model(path: str | Path, class_names: tuple[str, ...] | None = None) -> ModelBundle:
    """Open any model the app can use: our ``.keras`` files (and plain Keras ones, see
    ``load_bundle``) or a Teachable Machine Keras export (``keras_model.h5`` with
    ``labels.txt``, their folder, or its ``.zip``; ``core.teachable``). ``class_names``
    applies to ``.keras`` files only. Raises ``ModelFileError`` with a plain message."""
    from horsehuman_gui.core import teachable  # Keras and h5py: only when a model is opened

    if teachable.is_teachable_machine(path):
        return teachable.load_teachable_machine(path)
    return load_bundle(path, class_names=class_names)


@dataclass(frozen=True)
class SetAside:
    """What a bundle holds instead of its Keras model while the model is set aside
    (``set_aside``): the file holding the model, and that file's ``file_state`` then."""

    path: Path
    file_state: tuple


def file_state(path: str | Path) -> tuple | None:
    """What tells a file apart from a rewritten one (``feature_cache.file_state``: size,
    modification and change times, inode); None when it cannot be read."""
    from horsehuman_gui.core.feature_cache import file_state as state_of  # not at start-up

    try:
        return state_of(os.stat(path))
    except OSError:
        return None


def saved_as(bundle: ModelBundle, path: str | Path) -> ModelBundle:
    """``bundle`` once written to ``path``: that file is its own from now on (a model set
    aside is read back from it)."""
    path = Path(path)
    state = file_state(path)
    model = SetAside(path, state) if isinstance(bundle.model, SetAside) else bundle.model
    return replace(bundle, model=model, path=path, file_state=state)


def set_aside(bundle: ModelBundle) -> ModelBundle | None:
    """``bundle`` without its Keras model, which is read again from its file when needed
    (``with_model``); None when the file may not hold that model: there is none, or it
    changed since the model was read from it or written to it.

    Why: TensorFlow's CPU allocator keeps its pool's high-water mark for the life of the
    process. A model kept loaded while another trains raises that mark by its size for good
    (the classic model: its 153 MiB kernel in a 256 MiB block). Dropped first, its memory is
    reused by the training."""
    if isinstance(bundle.model, SetAside):
        return bundle
    if bundle.path is None or bundle.file_state is None \
            or file_state(bundle.path) != bundle.file_state:
        return None
    return replace(bundle, model=SetAside(Path(bundle.path), bundle.file_state))


def with_model(bundle: ModelBundle) -> ModelBundle:
    """``bundle`` holding its Keras model: ``bundle`` itself, or for one set aside a copy with
    the model read again from its file (``ModelFileError`` when the file changed or went)."""
    aside = bundle.model
    if not isinstance(aside, SetAside):
        return bundle
    if file_state(aside.path) != aside.file_state:
        raise ModelFileError(f"{aside.path.name} was changed or removed since the model was "
                             "read from it or saved to it: open the model again.")
    return replace(bundle, model=load_bundle(aside.path).model)
