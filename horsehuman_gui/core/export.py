"""Export predictions: a CSV file, or copies of the images sorted into one folder per class.

The person's images are only ever read: copies are made with ``shutil.copy2`` (never a move),
and nothing is overwritten (a CSV needs ``overwrite=True``; a copy whose name is taken gets a
" (1)" suffix). No TensorFlow here.
"""

from __future__ import annotations

import csv
import errno
import logging
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from horsehuman_gui.core.files import SkippedFile, printable
from horsehuman_gui.core.paths import create_new_file, publish, remove_stale_temporaries

if TYPE_CHECKING:  # prediction.py imports TensorFlow; exporting must not load it
    from horsehuman_gui.core.prediction import Prediction

logger = logging.getLogger(__name__)

_PROGRESS_INTERVAL = 0.1  # seconds between progress calls (the last one is always made)


def csv_columns(class_names: Iterable[str]) -> list[str]:
    """["path", "label", "confidence", "score_<class>" for each class..., "error"]."""
    return ["path", "label", "confidence", *(f"score_{name}" for name in class_names), "error"]


def _row(prediction: Prediction, n_classes: int) -> list[str]:
    path = printable(prediction.path)
    if prediction.error is not None:
        return [path, "", "", *([""] * n_classes), prediction.error]
    if len(prediction.scores) != n_classes:
        raise ValueError(f"prediction for {path} has {len(prediction.scores)} scores "
                         f"but there are {n_classes} class names")
    scores = [f"{score:.6f}" for score in prediction.scores]
    return [path, prediction.label, f"{prediction.confidence:.6f}", *scores, ""]


#: Our temporary CSV files, ``.<name>.<8 hex digits>.horsehuman.tmp`` beside the CSV.
_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{8}\.horsehuman\.tmp")


def write_csv(predictions: Iterable[Prediction], class_names: Iterable[str], path: str | Path,
              overwrite: bool = False) -> Path:
    """Write one UTF-8 CSV row per prediction (columns: ``csv_columns``); return ``path``.

    Rows are written as predictions arrive, to a temporary file beside ``path`` that then
    takes its name, so a failure never leaves a half-written file. Scores are decimals with 6
    digits; error rows have an empty label and scores. Paths are written as
    ``files.printable`` shows them (a name that is not valid UTF-8 gets ``\\xNN`` escapes
    instead of failing the whole file). Raises ``FileExistsError`` when ``path`` exists and
    ``overwrite`` is False, also when it appeared while the rows were written (that file is
    kept). An ``OSError`` (a full disk...) names ``path``.
    """
    path, class_names = Path(path), list(class_names)
    if path.exists() and not overwrite:
        raise FileExistsError(errno.EEXIST, "already exists", str(path))
    remove_stale_temporaries(path.parent, _TEMP_NAME)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.horsehuman.tmp")
    try:
        # os.open with 0o666 lets the umask decide permissions, as for any file the person saves.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            # backslashreplace: a stray undecodable byte in a message must not lose the file
            with open(fd, "w", encoding="utf-8", errors="backslashreplace",
                      newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(csv_columns(class_names))
                for prediction in predictions:
                    writer.writerow(_row(prediction, len(class_names)))
            publish(temporary, path, overwrite)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as exc:  # name the CSV, not the hidden temporary file (or no file at all)
        raise type(exc)(exc.errno, exc.strerror or str(exc), str(path)) from exc
    logger.info("wrote %s", path)
    return path


@dataclass(frozen=True)
class CopySummary:
    """What ``copy_into_class_folders`` did: (source, copy) pairs and files not copied."""

    copied: tuple[tuple[Path, Path], ...]
    skipped: tuple[SkippedFile, ...]
    #: True when ``should_stop()`` ended the run early
    stopped: bool = False


def folder_name(label: str) -> str:
    """A class name made safe as one folder name (no separators, never "." or "..")."""
    name = label.replace("/", "_").replace("\\", "_").replace("\0", "_").strip()
    return "_" if name in ("", ".", "..") else name


def _reserve(folder: Path, name: str) -> Path:
    """Create an empty file with a free name ("a.jpg", "a (1).jpg"...); exclusive, so a file
    appearing between the check and the copy can never be overwritten."""
    stem, suffix = os.path.splitext(name)
    names = (name if n == 0 else f"{stem} ({n}){suffix}" for n in range(100_000))
    return create_new_file((folder / n for n in names), f"{name} in {folder}")


def _copy_one(prediction: Prediction, target: Path) -> Path | str:
    """The copy's path, or the reason it was not made."""
    source = Path(prediction.path)
    if prediction.error is not None:
        return prediction.error
    if not source.is_file():
        return "source file no longer exists"
    folder = target / folder_name(prediction.label)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        destination = _reserve(folder, source.name)
    except OSError as exc:
        return f"cannot create the copy: {exc.strerror or exc}"
    try:
        shutil.copy2(source, destination)
    except OSError as exc:
        destination.unlink(missing_ok=True)
        if isinstance(exc, FileNotFoundError) and not source.exists():
            return "source file no longer exists"
        return f"cannot copy: {exc.strerror or exc}"
    return destination


def copy_into_class_folders(predictions: Iterable[Prediction], target: str | Path,
                            on_progress: Callable[[int, int], None] | None = None,
                            should_stop: Callable[[], bool] | None = None) -> CopySummary:
    """Copy each successful prediction's image into ``target/<label>/``; sources are only read.

    Failed predictions, vanished sources and the same source listed twice are skipped with a
    reason. ``on_progress(done, total)`` is called about 10 times a second and for the last
    file; ``should_stop()`` returning True stops between files (``stopped`` is then True).
    """
    predictions, target = list(predictions), Path(target)
    copied, skipped, seen, last = [], [], set(), 0.0
    for done, prediction in enumerate(predictions, start=1):
        if should_stop is not None and should_stop():
            return CopySummary(tuple(copied), tuple(skipped), stopped=True)
        key = os.path.realpath(prediction.path)
        result = "already copied (listed twice)" if key in seen else _copy_one(prediction, target)
        seen.add(key)
        if isinstance(result, Path):
            copied.append((Path(prediction.path), result))
        else:
            skipped.append(SkippedFile(Path(prediction.path), result))
        now = time.monotonic()
        if on_progress is not None and (done == len(predictions) or now - last >= _PROGRESS_INTERVAL):
            last = now
            on_progress(done, len(predictions))
    return CopySummary(tuple(copied), tuple(skipped))
