"""Read a pickle of numpy arrays without letting it run code.

Unpickling calls whatever the file names: a pickle can start a program as easily as it builds
an array. Two locks here: the file's SHA-256 must equal the one we expect (checked on the same
bytes that are then unpickled, so the file cannot change in between), and the unpickler admits
only the three names a numpy array's pickle needs. Anything else is refused before it runs.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import numpy as np

try:  # numpy >= 2 (``numpy.core`` is a deprecated alias there)
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct

#: What an ndarray's pickle refers to (protocols 2-4), under numpy 1 and numpy 2 module names.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle refers to something other than numpy arrays, or its checksum is wrong."""


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"refused to load {module}.{name} (only numpy arrays are "
                                    "allowed)") from None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_arrays_pickle(path: str | Path, sha256: str):
    """Unpickle ``path`` after checking its SHA-256 against ``sha256``; return the object.

    Only dicts, lists, tuples, numbers, strings and numpy arrays of numbers can come out.
    Raises ``UnsafePickleError`` on a checksum mismatch, on anything that would call other
    code, and on object arrays; ``OSError`` when the file cannot be read.
    """
    data = Path(path).read_bytes()
    actual = sha256_of(data)
    if actual != sha256.lower():
        raise UnsafePickleError(f"{Path(path).name}: SHA-256 is {actual}, expected {sha256}")
    result = _ArraysOnly(io.BytesIO(data)).load()
    _check_no_objects(result)
    return result


def _check_no_objects(value) -> None:
    # An object array's items go through find_class too, but a plain-number result is what
    # every caller expects: say so here rather than fail later on a strange dtype.
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise UnsafePickleError("refused an array of Python objects")
    elif isinstance(value, dict):
        for item in value.values():
            _check_no_objects(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_no_objects(item)
