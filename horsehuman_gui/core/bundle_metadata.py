"""What a model file says about itself: ``horsehuman.json`` inside the ``.keras`` archive.

Always: format, format_version, class_names, image_size, app_version, created. Since 0.1 a
trained model's story too (each optional, None or empty when unknown): ``config`` (the
``TrainConfig`` as a dict), ``history`` (one dict per finished epoch: epoch, epochs, loss,
accuracy, val_loss, val_accuracy, seconds), ``best_epoch`` (1-based, the weights in the file),
``evaluation`` (``Evaluation.to_json()`` of the validation part) and ``dataset``
(``dataset_summary``). The story was added without changing ``FORMAT_VERSION``: older files
simply lack it, and older versions of the app ignore it.

A damaged story is logged and dropped; damaged class names make the file unusable.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from horsehuman_gui.core.archive import MAX_SMALL_MEMBER_BYTES, METADATA_MEMBER
from horsehuman_gui.core.errors import ModelFileError

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ModelBundle:
    """A model ready to predict with what its file says about it (``path`` None until saved)."""

    model: Any = dataclasses.field(repr=False)  # keras.Model taking raw 0-255 RGB pixels
    class_names: tuple[str, ...]
    image_size: int
    app_version: str
    path: Path | None = None
    warnings: tuple[str, ...] = ()
    #: when the model was saved (ISO 8601, local time), None if unknown
    created: str | None = None
    # The story of a model trained here (``core.bundle_metadata``); None/empty when unknown.
    #: the ``TrainConfig`` as a dict
    config: dict | None = None
    #: one dict per finished epoch (``EpochMetrics`` fields)
    history: tuple[dict, ...] = ()
    #: 1-based epoch whose weights the model holds
    best_epoch: int | None = None
    #: ``Evaluation.to_json()`` of the validation part
    evaluation: dict | None = None
    #: ``bundle_metadata.dataset_summary`` of the data trained on
    dataset: dict | None = None
    #: ``bundle.file_state`` of ``path`` when the model was read from it or written to it
    file_state: tuple | None = None

    @property
    def binary(self) -> bool:
        return len(self.class_names) == 2

FORMAT_NAME = "horsehuman-gui model"
FORMAT_VERSION = 1
#: The optional fields of a trained model's story, and the JSON type each must have.
STORY_FIELDS = {"config": dict, "history": list, "best_epoch": int, "evaluation": dict,
                "dataset": dict}


def dataset_summary(report) -> dict[str, Any]:
    """A short record of the data a model was trained on, from a ``ScanReport``: root (made
    absolute, so a script or report made later from another folder finds it), layout,
    classes, validation_split, seed, counts (part -> class -> images), skipped (how many),
    grouping (signals looked for, links found per signal, number of groups)."""
    items = (*report.train, *report.validation)
    return {"root": os.path.abspath(report.root), "layout": report.layout, "classes": list(report.classes),
            "validation_split": report.validation_split, "seed": report.seed,
            "counts": {part: report.counts(part) for part in ("train", "validation")},
            "skipped": len(report.skipped),
            "grouping": {"signals": list(report.grouping_signals),
                         "links": dict(report.grouping_links),
                         "groups": len({item.group for item in items})}}


def as_dict(value) -> dict | None:
    """A dataclass (``TrainConfig``, ``EpochMetrics``), an object with ``to_json()``
    (``Evaluation``), a ``ScanReport`` (``dataset_summary``) or a mapping, as a plain dict."""
    if value is None:
        return None
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "counts") and hasattr(value, "train"):
        return dataset_summary(value)
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return dict(value)


def metadata_for(bundle) -> dict[str, Any]:
    """The JSON record written into the file for ``bundle``."""
    return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "class_names": list(bundle.class_names), "image_size": bundle.image_size,
            "app_version": bundle.app_version,
            "created": bundle.created or datetime.now().isoformat(timespec="seconds"),
            "config": bundle.config, "history": [dict(m) for m in bundle.history],
            "best_epoch": bundle.best_epoch, "evaluation": bundle.evaluation,
            "dataset": bundle.dataset}


def metadata_bytes(bundle) -> bytes:
    # Non-finite floats (a diverged loss) are written as null: JSON has no NaN.
    return json.dumps(finite_json(metadata_for(bundle)), indent=1).encode("utf-8")


def finite_json(value):
    """``value`` with NaN and infinities (a diverged loss) as None, lists for tuples: JSON has
    no NaN, and ``json.dumps`` would write one no other reader accepts."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def read_metadata(path: Path) -> dict:
    """Our metadata, or {} for a plain Keras file; damaged metadata is a ``ModelFileError``."""
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


def story_from(metadata: dict, name: str) -> dict[str, Any]:
    """The story fields of ``metadata`` as ``ModelBundle`` keyword arguments; a field of the
    wrong type is dropped (logged), never an error: the model itself is still usable."""
    story: dict[str, Any] = {}
    for key, kind in STORY_FIELDS.items():
        value = metadata.get(key)
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool) or (
                key == "history" and not all(isinstance(m, dict) for m in value)):
            logger.warning("%s: ignoring its damaged %r record", name, key)
            continue
        story[key] = tuple(value) if key == "history" else value
    return story
