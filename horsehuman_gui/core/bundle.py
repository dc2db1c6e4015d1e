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
import json
import logging
import math
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from horsehuman_gui import __version__
from horsehuman_gui.core.errors import ModelFileError
from horsehuman_gui.core.paths import (STALE_AFTER, create_new_file, data_dir, models_dir,
                                       publish, remove_stale_temporaries)

logger = logging.getLogger(__name__)

#: The zip member holding our metadata inside the ``.keras`` archive.
METADATA_MEMBER = "horsehuman.json"
FORMAT_NAME = "horsehuman-gui model"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelBundle:
    model: Any = field(repr=False)  # keras.Model taking raw 0-255 RGB pixels
    class_names: tuple[str, ...]
    image_size: int
    app_version: str
    path: Path | None = None
    warnings: tuple[str, ...] = ()
    #: when the model was saved (ISO 8601, local time), None if unknown
    created: str | None = None

    @property
    def binary(self) -> bool:
        return len(self.class_names) == 2


def bundle_from_result(result) -> ModelBundle:
    """A bundle for a ``TrainResult`` (not yet saved: ``path`` is None)."""
    return ModelBundle(model=result.model, class_names=tuple(result.class_names),
                       image_size=result.image_size, app_version=__version__,
                       created=datetime.now().isoformat(timespec="seconds"))


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
        _write_model(bundle.model, temp)
        _add_metadata(temp, bundle)
        _flush_to_disk(temp)
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
    _flush_folder(path.parent)
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

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    with _h5_in_blocks():
        copy.save(temp)


#: Largest piece of one array written or read by a single h5py call while saving or loading.
BLOCK_BYTES = 8 * 2**20
_h5_lock = threading.Lock()


def _big(array_like) -> bool:
    return len(array_like.shape) >= 1 and array_like.dtype.kind == "f" \
        and array_like.size * array_like.dtype.itemsize > BLOCK_BYTES


def _row_blocks(shape, itemsize: int):
    """Slices of at most BLOCK_BYTES along the first axis."""
    rows = max(1, BLOCK_BYTES // max(1, itemsize * math.prod(shape[1:])))
    return (slice(start, start + rows) for start in range(0, shape[0], rows))


@contextlib.contextmanager
def _h5_in_blocks():
    """While saving or loading, big arrays go into and come out of HDF5 a block of rows at a time.

    Keras stores each weight with one ``group[name] = array`` and reads it with one
    ``np.array(dataset)``; h5py holds the GIL for the whole call, so the classic model's 160 MB
    kernel froze every other thread, the GUI's included, for ~0.1-0.5 s. Block by block, other
    threads run between blocks. The file is the same: an ordinary dataset of the same shape,
    type and values; what is read back is the same array.
    """
    import h5py
    import numpy as np

    original_setitem, original_array = h5py.Group.__setitem__, h5py.Dataset.__array__

    def setitem(group, name, value):
        if not (isinstance(value, np.ndarray) and _big(value)):
            return original_setitem(group, name, value)
        dataset = group.create_dataset(name, shape=value.shape, dtype=value.dtype)
        for rows in _row_blocks(value.shape, value.itemsize):
            dataset[rows] = value[rows]
        return None

    def array(dataset, dtype=None, copy=None):
        if dtype is not None or not _big(dataset):  # e.g. bfloat16 weights: h5py's own way
            return original_array(dataset, dtype=dtype, copy=copy)
        out = np.empty(dataset.shape, dtype=dataset.dtype)
        for rows in _row_blocks(dataset.shape, dataset.dtype.itemsize):
            dataset.read_direct(out, source_sel=rows, dest_sel=rows)
        return out

    with _h5_lock:  # one save or load at a time puts the methods in and takes them out
        h5py.Group.__setitem__, h5py.Dataset.__array__ = setitem, array
        try:
            with _keras_temporary_folders():
                yield
        finally:
            h5py.Group.__setitem__, h5py.Dataset.__array__ = original_setitem, original_array


#: Keras's temporary folders made during our saves and loads: ``horsehuman-keras-<random>``.
KERAS_TEMP_PREFIX = "horsehuman-keras-"


@contextlib.contextmanager
def _keras_temporary_folders():
    """Keras makes a folder in the system temporary folder for each save and load (for
    "assets") and removes it only when the save ends: a killed one leaves it behind. Ours get
    a name we recognise, and those left by earlier killed runs are removed when stale."""
    try:
        from keras.src.saving import saving_lib
        original = saving_lib.get_temp_dir
        saving_lib.file_utils.filter_safe_zipinfos  # noqa: B018 (checked, used below)
    except (ImportError, AttributeError) as exc:  # a later Keras: its own names, not cleaned
        logger.info("Keras's temporary folders are not named by us: %r", exc)
        yield
        return
    _remove_stale_keras_folders()
    file_utils = saving_lib.file_utils
    original_extract = file_utils.extract_open_archive

    def extract(archive, path="."):
        """Into our folders only what they are for: ``assets/``. Keras unpacks the whole
        archive (the weights again, 160 MB for the classic model) whenever it holds more than
        three files, and ours hold four."""
        if isinstance(archive, zipfile.ZipFile) and Path(path).name.startswith(KERAS_TEMP_PREFIX):
            assets = [m for m in archive.infolist() if m.filename.startswith("assets/")]
            archive.extractall(path, members=list(file_utils.filter_safe_zipinfos(assets, path)))
        else:
            original_extract(archive, path)

    saving_lib.get_temp_dir = lambda: tempfile.mkdtemp(prefix=KERAS_TEMP_PREFIX)
    file_utils.extract_open_archive = extract
    try:
        yield
    finally:
        saving_lib.get_temp_dir = original
        file_utils.extract_open_archive = original_extract


def _remove_stale_keras_folders() -> None:
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(tempfile.gettempdir()):
            with contextlib.suppress(OSError):
                if entry.name.startswith(KERAS_TEMP_PREFIX) \
                        and entry.is_dir(follow_symlinks=False) \
                        and now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER:
                    shutil.rmtree(entry.path, ignore_errors=True)


def _add_metadata(temp: Path, bundle: ModelBundle) -> None:
    metadata = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "class_names": list(bundle.class_names), "image_size": bundle.image_size,
                "app_version": bundle.app_version,
                "created": bundle.created or datetime.now().isoformat(timespec="seconds")}
    with zipfile.ZipFile(temp, "a") as archive:
        archive.writestr(METADATA_MEMBER, json.dumps(metadata, indent=2))


def _flush_to_disk(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _flush_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); not possible, nor needed, on Windows."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()  # "no space left on device", "permission denied"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def autosave_stem(dataset_root: str | Path, val_accuracy: float | None, stopped: bool) -> str:
    """A readable file name without ``.keras`` for an automatic save, for example
    ``horse-or-human_2026-11-24_1530_val-0.94``; ``_stopped`` marks a run stopped early."""
    name = _slug(Path(dataset_root).name) or "model"
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
    _check_archive(path)
    metadata = _read_metadata(path)
    model = _load_model(path)
    image_size = _input_size(model, path)
    outputs = _output_classes(model)
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
                       warnings=tuple(warnings), created=metadata.get("created"))


#: What a model file may hold when unpacked, checked from the archive's directory before any
#: member is read: a crafted file must not fill the memory or the temporary folder. Keras
#: reads the weights whole into memory and unpacks the archive into the temporary folder.
MAX_MODEL_BYTES = 2 * 2**30  # all members together; the classic model is ~160 MB
MAX_MEMBERS = 1000
#: Members Keras (or we) read whole as text: config, Keras's metadata, ours.
MAX_SMALL_MEMBER_BYTES = {"config.json": 64 * 2**20, "metadata.json": 2**20,
                          METADATA_MEMBER: 2**20}


def _check_archive(path: Path) -> None:
    if not path.exists():
        raise ModelFileError(f"No model file at {path}.")
    if not path.is_file():
        raise ModelFileError(f"{path} is a folder, not a model file.")
    if path.suffix.lower() in (".h5", ".hdf5"):
        raise ModelFileError(
            f"{path.name} is an older .h5 model file; only .keras files are supported "
            "(in Python: keras.models.load_model('model.h5').save('model.keras')).")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(f"{path.name} is not a Keras model file (.keras): "
                             f"{_reason(exc)}") from exc
    if "config.json" not in {m.filename for m in members}:
        raise ModelFileError(f"{path.name} is a zip file but not a Keras model.")
    _check_members(path, members)


def _check_members(path: Path, members: list[zipfile.ZipInfo]) -> None:
    """Refuse archives with too many or too large members, or names leading out of a folder."""
    if len(members) > MAX_MEMBERS:
        raise ModelFileError(f"{path.name} holds {len(members)} files, more than a model file "
                             f"could (limit {MAX_MEMBERS}); it was not loaded.")
    if any(_unsafe_name(m.filename) for m in members):
        raise ModelFileError(f"{path.name} holds files named to be written outside their "
                             "folder (../ or absolute names); it was not loaded.")
    for member in members:
        limit = MAX_SMALL_MEMBER_BYTES.get(member.filename)
        if limit is not None and member.file_size > limit:
            raise ModelFileError(f"{path.name} has a {member.filename} of "
                                 f"{_size(member.file_size)} (limit {_size(limit)}); it was "
                                 "not loaded.")
    total = sum(m.file_size for m in members)
    if total > MAX_MODEL_BYTES:
        raise ModelFileError(f"{path.name} unpacks to {_size(total)}, more than a model file "
                             f"may (limit {_size(MAX_MODEL_BYTES)}); it was not loaded.")


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _size(size: int) -> str:
    return f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{size / 2**20:.1f} MB"


def _read_metadata(path: Path) -> dict:
    """Our metadata, or {} for a plain Keras file; damaged metadata is an error."""
    limit = MAX_SMALL_MEMBER_BYTES[METADATA_MEMBER]
    with zipfile.ZipFile(path) as archive:
        if METADATA_MEMBER not in archive.namelist():
            return {}
        try:
            with archive.open(METADATA_MEMBER) as member:
                data = member.read(limit + 1)  # never more, whatever the directory claims
            if len(data) > limit:
                raise ValueError("too large")
            metadata = json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError) as exc:
            raise ModelFileError(f"{path.name} has damaged class information.") from exc
    names = metadata.get("class_names") if isinstance(metadata, dict) else None
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise ModelFileError(f"{path.name} has damaged class information.")
    return metadata


def _load_model(path: Path):
    from horsehuman_gui.core.tfsetup import load_tensorflow

    keras = load_tensorflow()
    try:
        # compile=False: predicting needs no optimizer; safe_mode refuses code in the file.
        with _h5_in_blocks():
            return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ModelFileError(_load_failure(path, exc)) from exc


def _load_failure(path: Path, exc: Exception) -> str:
    text = str(exc)
    if "TFSMLayer" in text:
        return (f"{path.name} contains a TFSMLayer, which runs an external TensorFlow "
                "SavedModel (code), and is not loaded for safety.")
    if "lambda" in text.lower():
        return (f"{path.name} contains Python code (a Lambda layer), which is not loaded "
                "for safety.")
    if "safe_mode" in text:
        return f"{path.name} contains code, which is not loaded for safety."
    return f"{path.name} could not be loaded as a Keras model: {_reason(exc)}"


def _input_size(model, path: Path) -> int:
    shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else ()
    if len(shape) != 4 or shape[3] != 3 or shape[1] is None or shape[1] != shape[2]:
        raise ModelFileError(f"{path.name} does not take square RGB images of a fixed size "
                             f"(its input shape is {shape}).")
    return int(shape[1])


def _output_classes(model) -> int:
    units = int(model.outputs[0].shape[-1])
    return 2 if units == 1 else units
