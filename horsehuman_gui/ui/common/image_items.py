"""The grid's plain items and the sort keys over them (no Qt here: workers build items).

Functions taking ``(model, item)`` need only ``model.error_of(item)`` and ``model.class_names``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Protocol, Sequence

from horsehuman_gui.core.files import SkippedFile

if TYPE_CHECKING:
    from horsehuman_gui.core.prediction import Prediction


class ItemOwner(Protocol):
    """What the sort keys need from the list model (``ImageListModel`` is one); a protocol, so
    this module never imports the model that imports it."""

    class_names: Sequence[str]

    def error_of(self, item: "ImageItem") -> str | None: ...


@dataclass(frozen=True)
class ImageItem:
    """One file in the grid. ``error`` is why it cannot be used (listing or classification)."""

    path: Path
    prediction: Prediction | None = None
    error: str | None = None

    @property
    def classified(self) -> bool:
        return self.prediction is not None and self.prediction.ok


def make_items(paths: Iterable[Path], skipped: Iterable[SkippedFile] = ()) -> list[ImageItem]:
    """Items for the files found and for the ``skipped`` ones (with their reason).

    Thread-safe: listing workers call it so that building 10,000 items (and pathlib's cached
    ``str`` of each path, which the model's lookups use) costs the GUI thread nothing.
    """
    items = [ImageItem(p if isinstance(p, Path) else Path(p)) for p in paths]
    items += [ImageItem(Path(s.path), error=s.reason) for s in skipped]
    for item in items:
        str(item.path)
    return items


def label(model: ItemOwner, item: ImageItem) -> str:
    return item.prediction.label if item.classified else ""


def confidence(model: ItemOwner, item: ImageItem) -> float:
    if model.error_of(item):
        return -2.0
    return float(item.prediction.confidence) if item.classified else -1.0


def class_index(model: ItemOwner, item: ImageItem) -> int:
    if not item.classified or item.prediction.label not in model.class_names:
        return -1
    return model.class_names.index(item.prediction.label)


def _name_sort(model: ItemOwner, item: ImageItem):
    return (item.path.name.casefold(), str(item.path))


def _label_sort(model: ItemOwner, item: ImageItem):
    # Classified first (by label, most confident first), then not classified, then failures.
    if model.error_of(item):
        return (2, "", 0.0, item.path.name.casefold())
    if not item.classified:
        return (1, "", 0.0, item.path.name.casefold())
    return (0, item.prediction.label, -item.prediction.confidence, item.path.name.casefold())


def _confidence_sort(model: ItemOwner, item: ImageItem):
    return (-confidence(model, item), item.path.name.casefold())


def _least_confident_sort(model: ItemOwner, item: ImageItem):
    # The doubtful results to check first; not classified, then failures, at the end as above.
    value = confidence(model, item)
    return (value < 0, -value if value < 0 else value, item.path.name.casefold())


#: sort name -> key(model, item); the grid offers these.
SORT_KEYS = {"name": _name_sort, "label": _label_sort, "confidence": _confidence_sort,
             "least_confident": _least_confident_sort}
