"""Resume an interrupted run: a checkpoint beside the run, written after every finished epoch.

A checkpoint folder holds ``epoch-NNNN.weights.h5`` (Keras's ``save_weights``: the weights and
the optimizer's state, its iteration count included) and ``state.json`` (which file, how many
epochs finished, their history, the best epoch so far, the config and class names). Each file
is written to a temporary name, flushed to disk and renamed, weights before state, so whatever
moment the process dies the state names a complete weights file. The weights of the best epoch
are kept beside the latest so a resumed run still ends on its best epoch.

Keras's ``BackupAndRestore`` does part of this but writes in place (a crash mid-write leaves a
damaged file), deletes its backup when ``fit`` returns (also after a Stop) and keeps no history.

The model file users share never holds optimizer state; only the checkpoint does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from horsehuman_gui.core.config import EpochMetrics, TrainConfig
from horsehuman_gui.core.errors import HorsehumanError
from horsehuman_gui.core.paths import data_dir, flush_file, flush_folder

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"
FORMAT_VERSION = 1
#: Config fields a resumed run may change: they do not change what the weights mean.
RESUMABLE_CHANGES = frozenset({"epochs", "fine_tune_epochs", "patience", "reduce_lr",
                               "cache_budget_mb"})


class CheckpointError(HorsehumanError):
    """A checkpoint cannot be resumed (another model, classes or settings)."""


@dataclass(frozen=True)
class CheckpointState:
    """What ``state.json`` says. ``epoch`` counts finished epochs (resume starts after it);
    ``best_epoch`` is 1-based, None when early stopping is off."""

    phase: str  # "train" (a CNN), "head" or "fine_tune" (pretrained)
    epoch: int
    #: finished epochs when this phase began (the head's, for fine-tuning)
    phase_start: int
    weights: str
    history: tuple[EpochMetrics, ...]
    class_names: tuple[str, ...]
    config: dict
    best_epoch: int | None = None
    best_value: float | None = None
    best_weights: str | None = None
    #: the phase ``best_weights`` was written in (a head's weights cannot load into a full model)
    best_phase: str | None = None


def default_checkpoint_dir(dataset_root: str | Path, config: TrainConfig) -> Path:
    """``data_dir()/runs/<dataset>-<hash>/checkpoint``: the same for the same dataset folder and
    the same settings (apart from ``RESUMABLE_CHANGES``), so a later ``--resume`` finds it."""
    root = Path(dataset_root).expanduser().resolve()
    fields = {k: v for k, v in dataclasses.asdict(config).items() if k not in RESUMABLE_CHANGES}
    text = json.dumps([str(root), fields], sort_keys=True)
    digest = hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
    name = re.sub(r"[^\w.-]+", "-", root.name).strip("-.")[:40] or "dataset"
    return data_dir() / "runs" / f"{name}-{digest}" / "checkpoint"


def read_checkpoint(folder: str | Path | None) -> CheckpointState | None:
    """The checkpoint in ``folder``, or None when there is none or it cannot be read (logged:
    an unreadable checkpoint means starting over, not failing)."""
    if folder is None:
        return None
    path = Path(folder) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.pop("format_version") != FORMAT_VERSION:
            raise ValueError("another format version")
        data["history"] = tuple(EpochMetrics(**m) for m in data["history"])
        data["class_names"] = tuple(data["class_names"])
        state = CheckpointState(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        logger.warning("Ignoring the checkpoint in %s: %s", folder, exc)
        return None
    if not (Path(folder) / state.weights).is_file():
        logger.warning("Ignoring the checkpoint in %s: %s is missing", folder, state.weights)
        return None
    return state


def check_compatible(state: CheckpointState, config: TrainConfig,
                     class_names: tuple[str, ...]) -> None:
    """Raise ``CheckpointError`` unless ``state`` can continue as ``config`` on these classes."""
    if tuple(class_names) != state.class_names:
        raise CheckpointError(f"The checkpoint was trained on the classes "
                              f"{', '.join(state.class_names)}, not {', '.join(class_names)}.")
    current = dataclasses.asdict(config)
    changed = sorted(k for k, v in state.config.items()
                     if k not in RESUMABLE_CHANGES and current.get(k) != v)
    if changed:
        was = ", ".join(f"{k}={state.config[k]!r}" for k in changed)
        raise CheckpointError(f"The checkpoint was made with other settings ({was}); "
                              "start a new run or use the same settings.")


def write_checkpoint(folder: str | Path, model, state: CheckpointState) -> None:
    """Save ``model``'s weights and optimizer state as ``state.weights``, then ``state``; then
    remove weights files neither the new state nor its best epoch needs."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{state.weights}.tmp.weights.h5"
    model.save_weights(temp)
    flush_file(temp)
    os.replace(temp, folder / state.weights)
    record = dataclasses.asdict(state) | {"format_version": FORMAT_VERSION}
    temp_state = folder / f".{STATE_FILE}.tmp"
    temp_state.write_text(json.dumps(record, indent=1), encoding="utf-8")
    flush_file(temp_state)
    os.replace(temp_state, folder / STATE_FILE)
    flush_folder(folder)
    keep = {state.weights, state.best_weights}
    for old in folder.glob("epoch-*.weights.h5"):
        if old.name not in keep:
            with contextlib.suppress(OSError):
                old.unlink()


def load_weights(model, folder: str | Path, name: str) -> None:
    """Load a checkpoint's weights file into ``model``, its optimizer's state included (the
    optimizer is built first: Keras skips the state of an optimizer not yet built)."""
    if getattr(model, "optimizer", None) is not None:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(Path(folder) / name)


def delete_checkpoint(folder: str | Path | None) -> None:
    """Remove a checkpoint folder (after a run that finished: nothing left to resume)."""
    if folder is not None and Path(folder).is_dir():
        shutil.rmtree(folder, ignore_errors=True)
        logger.info("Removed the finished run's checkpoint %s", folder)


def weights_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}.weights.h5"
