"""The ``.keras`` archive around a model: checks before anything is read, and how Keras is made
to read and write it without freezing other threads or filling the temporary folder.

``check_archive(path)`` refuses, from the zip's directory alone, files that are not Keras
models and crafted ones (too many or too large members, names leading out of a folder).
``h5_in_blocks()`` wraps a Keras save or load: big arrays go through HDF5 a block at a time, and
Keras's temporary folders get our name so stale ones from killed runs can be removed.

No TensorFlow at import time.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from horsehuman_gui.core.errors import ModelFileError
from horsehuman_gui.core.paths import STALE_AFTER

logger = logging.getLogger(__name__)

#: The zip member holding our metadata inside the ``.keras`` archive.
METADATA_MEMBER = "horsehuman.json"

#: What a model file may hold when unpacked, checked from the archive's directory before any
#: member is read: a crafted file must not fill the memory or the temporary folder. Keras
#: reads the weights whole into memory and unpacks the archive into the temporary folder.
MAX_MODEL_BYTES = 2 * 2**30  # all members together; the classic model is ~160 MB
MAX_MEMBERS = 1000
#: Members Keras (or we) read whole as text: config, Keras's metadata, ours.
MAX_SMALL_MEMBER_BYTES = {"config.json": 64 * 2**20, "metadata.json": 2**20,
                          METADATA_MEMBER: 2 * 2**20}


def reason(exc: BaseException) -> str:
    """One short line for a person: an OS error's own words, else the first line."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()  # "no space left on device", "permission denied"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_archive(path: Path, max_bytes: int = MAX_MODEL_BYTES) -> None:
    """Raise ``ModelFileError`` unless ``path`` is a ``.keras`` archive within the limits
    (``max_bytes`` unpacked in all). Reads the zip's directory only."""
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
                             f"{reason(exc)}") from exc
    if "config.json" not in {m.filename for m in members}:
        raise ModelFileError(f"{path.name} is a zip file but not a Keras model.")
    _check_members(path, members, max_bytes)


def _check_members(path: Path, members: list[zipfile.ZipInfo], max_bytes: int) -> None:
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
    if total > max_bytes:
        raise ModelFileError(f"{path.name} unpacks to {_size(total)}, more than a model file "
                             f"may (limit {_size(max_bytes)}); it was not loaded.")


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _size(size: int) -> str:
    return f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{size / 2**20:.1f} MB"


def load_failure(path: Path, exc: Exception) -> str:
    """Why Keras could not load ``path``, in a sentence (code refused by safe mode named so)."""
    text = str(exc)
    if "TFSMLayer" in text:
        return (f"{path.name} contains a TFSMLayer, which runs an external TensorFlow "
                "SavedModel (code), and is not loaded for safety.")
    if "lambda" in text.lower():
        return (f"{path.name} contains Python code (a Lambda layer), which is not loaded "
                "for safety.")
    if "safe_mode" in text:
        return f"{path.name} contains code, which is not loaded for safety."
    return f"{path.name} could not be loaded as a Keras model: {reason(exc)}"


def input_size(model, path: Path) -> int:
    """The side of the square RGB images ``model`` takes, else ``ModelFileError``."""
    shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else ()
    if len(shape) != 4 or shape[3] != 3 or shape[1] is None or shape[1] != shape[2]:
        raise ModelFileError(f"{path.name} does not take square RGB images of a fixed size "
                             f"(its input shape is {shape}).")
    return int(shape[1])


def output_classes(model) -> int:
    """Classes told apart: one sigmoid unit is two."""
    units = int(model.outputs[0].shape[-1])
    return 2 if units == 1 else units


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
def h5_in_blocks():
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
            with _keras_temporary_folders(), _weights_as_tensors():
                yield
        finally:
            h5py.Group.__setitem__, h5py.Dataset.__array__ = original_setitem, original_array


def _keras_h5_store():
    """Keras's private weight store and its dataset lookup (AttributeError when renamed)."""
    from keras.src.saving import saving_lib

    return saving_lib.H5IOStore, saving_lib.safe_get_h5_dataset


def _read_rows(dataset, rows: slice):
    import numpy as np

    out = np.empty((len(range(*rows.indices(dataset.shape[0]))), *dataset.shape[1:]),
                   dtype=dataset.dtype)
    dataset.read_direct(out, source_sel=rows)
    return out


@contextlib.contextmanager
def _weights_as_tensors():
    """While loading, a big float weight reaches its variable as a tensor made block by block.

    Keras reads each weight as one NumPy array and assigns it; TensorFlow then copies that array
    twice while holding the GIL (``convert_to_eager_tensor`` always copies a NumPy array, and the
    copy is not aligned as tensors need): opening the classic model froze the GUI for 80-280 ms
    on its 160 MB kernel. As a tensor concatenated from 8 MB blocks the longest hold is a few
    milliseconds (measured 22-26 ms gaps at most, all causes). Keras's private ``H5IOStore``
    changed: its own way, unchanged."""
    try:
        store, get_dataset = _keras_h5_store()
        original = store.__getitem__
    except (ImportError, AttributeError) as exc:
        logger.debug("weights loaded as Keras does (%r)", exc)
        yield
        return
    import tensorflow as tf

    def getitem(self, key):
        value = get_dataset(self._h5_entry_group, key)
        if getattr(value, "dtype", None) is None or value.dtype.kind != "f" \
                or "dtype" in value.attrs or not _big(value):  # e.g. bfloat16: Keras's way
            return original(self, key)
        return tf.concat([tf.constant(_read_rows(value, rows)) for rows in
                          _row_blocks(value.shape, value.dtype.itemsize)], axis=0)

    store.__getitem__ = getitem
    try:
        yield
    finally:
        store.__getitem__ = original


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
