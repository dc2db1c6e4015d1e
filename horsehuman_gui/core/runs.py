"""Every training run, recorded: what it was trained on and how, what it gave, where its files are.

A run is a folder ``data_dir()/runs/<id>/`` holding ``run.json``, plain JSON any script can read
(``RunRecord.to_json``). The same ``runs/`` folder holds the checkpoints of
``checkpoints.default_checkpoint_dir`` (``runs/<dataset>-<hash>/checkpoint``, shared by every run
with the same data and settings); a record says which one was its own, so deleting the run can
remove it. Run ids start with the date, so they sort by time and say which dataset:
``20261202-093012-horse-or-human``.

Deleting a run removes its record, its checkpoint, and its model file when that is the automatic
save in ``paths.models_dir()``; a model the person saved elsewhere is removed only when asked.
No TensorFlow, no Qt.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from horsehuman_gui import __version__
from horsehuman_gui.core.bundle_metadata import as_dict, dataset_summary, finite_json
from horsehuman_gui.core.errors import HorsehumanError
from horsehuman_gui.core.paths import data_dir

logger = logging.getLogger(__name__)

__all__ = ["RUN_FILE", "RunError", "RunRecord", "dataset_name", "delete_run", "deletion_plan",
           "get_run", "list_runs", "new_run_folder", "record_run", "runs_dir", "write_record"]

RUN_FILE = "run.json"
FORMAT_NAME = "horsehuman-gui run"
FORMAT_VERSION = 1
#: Folder names that stand for a part of a dataset rather than the dataset itself.
_PART_NAMES = {"train", "training", "validation", "valid", "val", "test"}
_ID = re.compile(r"[\w][\w.-]*")


class RunError(HorsehumanError):
    """No such run, or its files could not be removed."""


@dataclass(frozen=True)
class RunRecord:
    """One training run. Times are ISO 8601 local time; ``dataset`` is
    ``bundle_metadata.dataset_summary``, ``config`` the ``TrainConfig`` as a dict, ``history``
    one ``EpochMetrics`` dict per finished epoch, ``evaluation`` ``Evaluation.to_json()`` of the
    validation part (None when not evaluated), ``model_path`` the model file saved (None when
    none was), ``checkpoint`` the run's checkpoint folder (None without one)."""

    id: str
    started: str
    finished: str
    duration_s: float
    dataset_root: str
    dataset: dict | None
    config: dict
    history: tuple[dict, ...]
    best_epoch: int | None
    evaluation: dict | None
    model_path: str | None
    stopped: bool
    app_version: str
    checkpoint: str | None = None
    #: the model file's size when the run was recorded
    model_bytes: int | None = None

    @property
    def folder(self) -> Path:
        return runs_dir() / self.id

    @property
    def dataset_name(self) -> str:
        return dataset_name(self.dataset_root)

    @property
    def best(self) -> dict | None:
        """The epoch whose weights the model holds (the last without early stopping)."""
        chosen = [m for m in self.history if m.get("epoch") == self.best_epoch]
        return chosen[0] if chosen else (self.history[-1] if self.history else None)

    @property
    def val_accuracy(self) -> float | None:
        """The evaluation's accuracy, else the kept epoch's validation accuracy."""
        if self.evaluation and self.evaluation.get("accuracy") is not None:
            return float(self.evaluation["accuracy"])
        value = (self.best or {}).get("val_accuracy")
        return None if value is None else float(value)

    def model_size(self) -> int | None:
        """The model file's size now, None when it is gone."""
        try:
            return os.stat(self.model_path).st_size if self.model_path else None
        except OSError:
            return None

    def model_is_autosaved(self) -> bool:
        """True when the model file is the app's own save, in ``paths.models_dir()``."""
        return self.model_path is not None and _inside(Path(self.model_path),
                                                       data_dir() / "models")

    def to_json(self) -> dict[str, Any]:
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        record["history"] = [dict(m) for m in self.history]
        return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION} | record

    @classmethod
    def from_json(cls, data: dict) -> RunRecord:
        """The inverse of ``to_json``; ValueError for anything else."""
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ValueError("not a run record")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unknown run format version {data.get('format_version')!r}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        history = values.get("history", [])
        if not (isinstance(history, list) and all(isinstance(m, dict) for m in history)) or \
                not isinstance(values.get("config"), dict) or \
                not all(isinstance(values.get(k), (dict, type(None)))
                        for k in ("dataset", "evaluation")):
            raise ValueError("damaged history, config, dataset or evaluation")
        values["history"] = tuple(values.get("history", ()))
        record = cls(**values)
        if not _ID.fullmatch(record.id):
            raise ValueError(f"bad run id {record.id!r}")
        return record


def runs_dir() -> Path:
    """``data_dir()/runs``: run records and checkpoints (not created here)."""
    return data_dir() / "runs"


def dataset_name(root: str | Path) -> str:
    """What to call a dataset: its folder's name, or the parent's when the folder is one part of
    it (``.../horse-or-human/train`` -> ``horse-or-human``)."""
    path = Path(root)
    if path.name.lower() in _PART_NAMES and path.parent.name:
        return path.parent.name
    return path.name or str(path)


def record_run(result, report, model_path: str | Path | None, evaluation=None, *,
               started: datetime | None = None, finished: datetime | None = None,
               checkpoint_dir: str | Path | None = None) -> RunRecord:
    """Record a finished or stopped run and return its record, written atomically.

    ``result`` is the ``TrainResult``, ``report`` the ``ScanReport`` trained on, ``model_path``
    where the model was saved (None: not saved), ``evaluation`` an ``Evaluation`` or its
    ``to_json()`` (by default ``result.evaluation``). ``finished`` defaults to now, ``started``
    to ``finished`` less the epochs' seconds. ``checkpoint_dir``: the run's checkpoint, when it
    left one (a stopped run), so that deleting the run removes it. Quick (one small JSON file):
    fine on the GUI thread. Raises OSError when the record cannot be written."""
    if evaluation is None:
        evaluation = getattr(result, "evaluation", None)
    finished = finished or datetime.now()
    if started is None:
        started = finished - timedelta(seconds=sum(m.seconds for m in result.history))
    model = Path(model_path).resolve() if model_path is not None else None
    size = None
    with contextlib.suppress(OSError):
        size = model.stat().st_size if model is not None else None
    folder = new_run_folder(started, dataset_name(report.root))
    record = RunRecord(
        id=folder.name, started=started.isoformat(timespec="seconds"),
        finished=finished.isoformat(timespec="seconds"),
        duration_s=round((finished - started).total_seconds(), 1),
        dataset_root=os.path.abspath(report.root), dataset=dataset_summary(report),
        config=as_dict(result.config), history=tuple(as_dict(m) for m in result.history),
        best_epoch=result.best_epoch, evaluation=as_dict(evaluation),
        model_path=None if model is None else str(model), stopped=bool(result.stopped),
        app_version=__version__,
        checkpoint=None if checkpoint_dir is None else str(Path(checkpoint_dir).resolve()),
        model_bytes=size)
    write_record(record)
    logger.info("Recorded run %s", record.id)
    return record


def list_runs() -> list[RunRecord]:
    """Every recorded run, newest first. A record that cannot be read is logged and left out."""
    records = []
    try:
        folders = [p for p in runs_dir().iterdir() if (p / RUN_FILE).exists()]
    except OSError:
        return []
    for folder in folders:
        try:
            records.append(_read(folder))
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("Ignoring the damaged run record in %s: %s", folder, exc)
    return sorted(records, key=lambda r: (r.started, r.id), reverse=True)


def get_run(run_id: str) -> RunRecord:
    """The run ``run_id``; ``RunError`` when there is none (or it cannot be read)."""
    if not _ID.fullmatch(run_id or ""):
        raise RunError(f"No run has the id {run_id!r}.")
    try:
        return _read(runs_dir() / run_id)
    except FileNotFoundError:
        raise RunError(f"No run has the id {run_id!r} (`horsehuman runs` lists them).") from None
    except (OSError, ValueError, TypeError) as exc:
        raise RunError(f"The record of run {run_id} cannot be read: {exc}") from exc


def deletion_plan(record: RunRecord, *, delete_model: bool = True,
                  user_files: bool = False) -> list[Path]:
    """What ``delete_run`` would remove, existing paths only: the model file (with
    ``delete_model``, and only the app's own save unless ``user_files``), the run's checkpoint
    (unless a later run with the same settings uses it) and the run's folder."""
    plan = []
    if delete_model and record.model_path and Path(record.model_path).is_file() and \
            (record.model_is_autosaved() or user_files):
        plan.append(Path(record.model_path))
    checkpoint = _own_checkpoint(record)
    if checkpoint is not None:
        plan.append(checkpoint)
    return plan + [record.folder]


def delete_run(run_id: str, *, delete_model: bool = True,
               user_files: bool = False) -> list[Path]:
    """Remove run ``run_id`` with its files (``deletion_plan``); return the paths removed.

    The model goes first: when it cannot be removed, ``RunError`` says why and the record stays,
    so the run (and its file) is still listed."""
    record = get_run(run_id)
    removed = []
    for path in deletion_plan(record, delete_model=delete_model, user_files=user_files):
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise RunError(f"Could not delete {path}: {exc.strerror or exc}") from exc
        removed.append(path)
    if record.checkpoint:  # the checkpoint's folder, when nothing else is left in it
        with contextlib.suppress(OSError):
            Path(record.checkpoint).parent.rmdir()
    logger.info("Deleted run %s: %s", run_id, ", ".join(map(str, removed)))
    return removed


def _own_checkpoint(record: RunRecord) -> Path | None:
    """The record's checkpoint when it is still there, inside ``runs_dir()``, and no later run
    (recorded or still going: a newer state file) uses the same folder."""
    if not record.checkpoint:
        return None
    path = Path(record.checkpoint)
    if not path.is_dir() or not _inside(path, runs_dir()):
        return None
    others = [r for r in list_runs() if r.checkpoint == record.checkpoint and r.id != record.id]
    if any(r.started > record.started for r in others):
        return None
    with contextlib.suppress(OSError, ValueError):
        changed = datetime.fromtimestamp((path / "state.json").stat().st_mtime)
        if changed > datetime.fromisoformat(record.finished) + timedelta(minutes=1):
            return None  # written by a later run that has not been recorded (yet)
    return path


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


def new_run_folder(started: datetime, name: str) -> Path:
    """Create and return ``runs_dir()/<id>`` for a run of dataset ``name`` begun at ``started``
    (``-2``, ``-3``... when taken)."""
    slug = re.sub(r"[^\w.-]+", "-", name).strip("-.")[:40] or "dataset"
    base = f"{started:%Y%m%d-%H%M%S}-{slug}"
    runs_dir().mkdir(parents=True, exist_ok=True)
    for number in range(1, 1000):
        folder = runs_dir() / (base if number == 1 else f"{base}-{number}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run id for {base}")


def write_record(record: RunRecord) -> None:
    """Write ``record`` as ``run.json`` in its folder, atomically (temporary file, flushed,
    renamed)."""
    path = record.folder / RUN_FILE
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(finite_json(record.to_json()), handle, indent=1, ensure_ascii=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _read(folder: Path) -> RunRecord:
    data = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    record = RunRecord.from_json(data)
    if record.id != folder.name:
        raise ValueError(f"the record names another run, {record.id!r}")
    return record
