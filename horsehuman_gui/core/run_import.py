"""Models saved automatically before runs were recorded get a run record from their own story.

Each ``.keras`` file in ``paths.models_dir()`` that no run names is read for the story it carries
(``bundle_metadata``: created, config, history, best epoch, evaluation, dataset; only the
archive's small JSON member is read, no TensorFlow) and recorded, so that it can be listed,
compared and deleted like any run. Each file is considered once: ``runs/imported.json`` names
those already seen, so a run deleted while keeping its model does not come back.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from horsehuman_gui.core.runs import (RunRecord, list_runs, new_run_folder, runs_dir,
                                      write_record)

logger = logging.getLogger(__name__)

SEEN_FILE = "imported.json"


def record_unrecorded_models() -> list[RunRecord]:
    """Record every model of ``models_dir()`` that no run names and that was never considered;
    return the new records. Unreadable files are logged and skipped; never raises OSError."""
    from horsehuman_gui.core.paths import data_dir

    folder = data_dir() / "models"
    try:
        files = sorted(p for p in folder.glob("*.keras") if p.is_file())
    except OSError:
        return []
    seen = _seen()
    named = {r.model_path for r in list_runs()}
    new = [p for p in files if str(p.resolve()) not in named and p.name not in seen]
    records = []
    for path in new:
        try:
            records.append(_record(path))
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("Not listing %s as a run: %s", path, exc)
    if new:
        _remember(seen | {p.name for p in new})
    return records


def _record(path: Path) -> RunRecord:
    from horsehuman_gui.core.bundle_metadata import read_metadata, story_from
    from horsehuman_gui.core.errors import ModelFileError

    try:
        metadata = read_metadata(path)
    except (ModelFileError, zipfile.BadZipFile) as exc:
        raise ValueError(str(exc) or "not a model file") from exc
    story = story_from(metadata, path.name)
    history = tuple(story.get("history", ()))
    finished = _time(metadata.get("created")) or datetime.fromtimestamp(path.stat().st_mtime)
    seconds = sum(float(m.get("seconds") or 0) for m in history)
    started = finished - timedelta(seconds=seconds)
    dataset = story.get("dataset")
    root = (dataset or {}).get("root") or path.stem.split("_")[0]
    folder = new_run_folder(started, Path(root).name)
    record = RunRecord(
        id=folder.name, started=started.isoformat(timespec="seconds"),
        finished=finished.isoformat(timespec="seconds"), duration_s=round(seconds, 1),
        dataset_root=str(root), dataset=dataset, config=story.get("config") or {},
        history=history, best_epoch=story.get("best_epoch"),
        evaluation=story.get("evaluation"), model_path=str(path.resolve()),
        stopped=path.stem.endswith("_stopped"),
        app_version=str(metadata.get("app_version", "unknown")),
        model_bytes=os.stat(path).st_size)
    write_record(record)
    logger.info("Recorded %s, saved before runs were recorded, as run %s", path, record.id)
    return record


def _time(text) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _seen() -> set[str]:
    try:
        names = json.loads((runs_dir() / SEEN_FILE).read_text(encoding="utf-8"))
        return {n for n in names if isinstance(n, str)}
    except (OSError, ValueError, TypeError):
        return set()


def _remember(names: set[str]) -> None:
    try:
        runs_dir().mkdir(parents=True, exist_ok=True)
        temp = runs_dir() / f".{SEEN_FILE}.tmp"
        temp.write_text(json.dumps(sorted(names), indent=1), encoding="utf-8")
        os.replace(temp, runs_dir() / SEEN_FILE)
    except OSError as exc:
        logger.warning("Could not remember the models already listed: %s", exc)
