"""The list model under the thumbnail grid: plain items, fetched in batches, thumbnails on demand.

Items are frozen ``ImageItem``s (path, prediction or None, error or None). Rows become visible to
views 500 at a time (``canFetchMore``/``fetchMore``), so a folder of 10,000 files costs a view
nothing until it scrolls there. ``data(DecorationRole)`` answers from the thumbnail cache and asks
the loader for what is missing: only painted rows ever get decoded.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt, Signal

from horsehuman_gui.ui.common import qt_compat  # noqa: F401 - PySide6 6.12 refcount workaround
from horsehuman_gui.ui.common.image_items import (SORT_KEYS, ImageItem, class_index, confidence,
                                           label, make_items)

if TYPE_CHECKING:
    from horsehuman_gui.core.files import SkippedFile
    from horsehuman_gui.core.prediction import Prediction

__all__ = ["FETCH_BATCH", "ImageItem", "ImageListModel", "PAINT_ROLE", "RESULT_ROLES", "Roles",
           "make_items"]

logger = logging.getLogger(__name__)

FETCH_BATCH = 500
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)  # plain ints: enum attribute access is slow in paint
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ITEM_FLAGS = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
               | Qt.ItemFlag.ItemNeverHasChildren)
_NO_FLAGS = Qt.ItemFlag.NoItemFlags


@functools.cache
def _label_for():
    """``core.prediction.label_for``, imported once: an import statement run per result went
    through PySide6's import hook every time (~4 us, once per result)."""
    from horsehuman_gui.core.prediction import label_for

    return label_for


class Roles(IntEnum):
    ITEM = Qt.ItemDataRole.UserRole + 1  # the ImageItem; also the proxy's filter role
    PATH = Qt.ItemDataRole.UserRole + 2
    LABEL = Qt.ItemDataRole.UserRole + 3  # str, "" when not classified
    CONFIDENCE = Qt.ItemDataRole.UserRole + 4  # float; -1 not classified, -2 error (sorts last)
    ERROR = Qt.ItemDataRole.UserRole + 5  # str, "" when fine
    CLASS_INDEX = Qt.ItemDataRole.UserRole + 6  # int index into class names, -1 when none
    PAINT = Qt.ItemDataRole.UserRole + 7  # PaintData: everything the delegate draws, in one call


#: ``Roles.PAINT`` as a plain int, as the Qt roles above (the delegate asks it per cell)
PAINT_ROLE = int(Roles.PAINT)

#: Roles that change when a prediction arrives or is relabelled (ITEM so the proxy refilters).
RESULT_ROLES = [Roles.ITEM, Roles.LABEL, Roles.CONFIDENCE, Roles.ERROR, Roles.CLASS_INDEX,
                Qt.ItemDataRole.ToolTipRole]


class ImageListModel(QAbstractListModel):
    """Flat list of ImageItems; ``loader`` (a ThumbnailLoader or None) supplies decorations."""

    #: Items were appended (how many). Rows show a batch at a time as the view scrolls, so
    #: rowsInserted comes for items revealed, and not for items added beyond what is shown.
    items_added = Signal(int)
    #: Results were stored, cleared or relabelled, also in rows not shown yet (which get no
    #: dataChanged); dataChanged also comes for each thumbnail.
    results_changed = Signal()

    def __init__(self, loader=None, parent: QObject | None = None):
        super().__init__(parent)
        self._loader = loader
        self._items: list[ImageItem] = []
        self._rows: dict[str, int] = {}
        self._shown = 0
        self._class_names: tuple[str, ...] = ()
        self._threshold = 0.5
        if loader is not None:
            loader.ready.connect(self._on_thumbnail_ready)
            loader.failed.connect(self._on_thumbnail_failed)

    # --- Qt model interface -------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else self._shown

    def canFetchMore(self, parent=QModelIndex()) -> bool:
        return not parent.isValid() and self._shown < len(self._items)

    def fetchMore(self, parent=QModelIndex()) -> None:
        if parent.isValid():
            return
        self._show_up_to(self._shown + FETCH_BATCH)

    def flags(self, index) -> Qt.ItemFlag:  # asked per cell per repaint: no enum arithmetic
        return _ITEM_FLAGS if index.isValid() else _NO_FLAGS

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < self._shown:
            return None
        item = self._items[index.row()]
        if role == _DISPLAY:
            return item.path.name
        if role == _DECORATION:
            return self._decoration(item)
        if role == PAINT_ROLE:
            return self._paint_data(item)
        if role == _TOOLTIP:
            return self._tooltip(item)
        getter = _ROLE_GETTERS.get(role)
        return getter(self, item) if getter else None

    # --- contents -----------------------------------------------------------------------------
    def set_images(self, paths: Iterable[Path], skipped: Iterable[SkippedFile] = ()) -> None:
        """Replace everything (a new folder) with ``paths`` and the ``skipped`` files."""
        self.set_items(make_items(paths, skipped))

    def add_images(self, paths: Iterable[Path], skipped: Iterable[SkippedFile] = ()) -> int:
        """Append files not listed yet; return how many were added."""
        return self.add_items(make_items(paths, skipped))

    def set_items(self, items: Iterable[ImageItem]) -> None:
        """Replace everything; a new thumbnail generation drops decodes still under way."""
        self.beginResetModel()
        if self._loader is not None:
            self._loader.new_generation()
        self._items, self._rows, self._shown = [], {}, 0
        self._extend(items)
        self._shown = min(len(self._items), FETCH_BATCH)
        self.endResetModel()

    def add_items(self, items: Iterable[ImageItem]) -> int:
        """Append the items whose file is not listed yet; return how many were added."""
        before = len(self._items)
        self._extend(items)
        if self._shown == before:  # everything was visible: show the new ones' first batch
            self._show_up_to(before + FETCH_BATCH)
        added = len(self._items) - before
        if added:
            self.items_added.emit(added)
        return added

    def fetch_all(self) -> None:
        """Make every row visible (sorting or filtering a partial list would mislead)."""
        self._show_up_to(len(self._items))

    def items(self) -> tuple[ImageItem, ...]:
        return tuple(self._items)

    def item(self, row: int) -> ImageItem:
        return self._items[row]

    def row_of(self, path: Path | str) -> int | None:
        return self._rows.get(str(path))

    def total(self) -> int:
        return len(self._items)

    def classifiable_paths(self) -> list[Path]:
        """Files that were listed fine and have no result yet, in list order."""
        return [i.path for i in self._items if i.prediction is None and i.error is None]

    def has_results(self) -> bool:
        return any(i.prediction is not None for i in self._items)

    # --- predictions --------------------------------------------------------------------------
    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    @property
    def threshold(self) -> float:
        return self._threshold

    def set_class_names(self, names: Sequence[str]) -> None:
        """A different model: its class names, and no result of the previous model stays."""
        self._class_names = tuple(names)
        self.clear_predictions()

    def clear_predictions(self) -> None:
        changed = [r for r, i in enumerate(self._items) if i.prediction is not None]
        for row in changed:
            item = self._items[row]
            error = None if item.prediction.error == item.error else item.error
            self._items[row] = ImageItem(item.path, None, error)  # 2x dataclasses.replace's speed
        self._emit_results_changed(changed)

    def apply_predictions(self, predictions: Iterable[Prediction]) -> int:
        """Store a batch of results (labels recomputed at the current threshold) with one
        ``dataChanged`` over the rows touched; return how many belonged to this list."""
        rows = []
        for prediction in predictions:
            row = self._rows.get(str(prediction.path))
            if row is None:
                continue  # from a list shown earlier
            item = self._items[row]
            self._items[row] = ImageItem(item.path, self._relabel(prediction),
                                         prediction.error or item.error)
            rows.append(row)
        self._emit_results_changed(rows)
        return len(rows)

    def sort_by(self, name: str) -> None:
        """Reorder all items (not just the fetched rows) by one of ``SORT_KEYS``.

        Sorted here, in one Python ``sort``, rather than by QSortFilterProxyModel: the proxy
        calls ``data()`` twice per comparison, which costs ~0.5-0.9 s for 10,000 rows.
        """
        if name not in SORT_KEYS:
            raise ValueError(f"`name` must be one of {', '.join(SORT_KEYS)}. Received: {name!r}")
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        kept = [str(self._items[i.row()].path) for i in persistent]
        key = SORT_KEYS[name]
        self._items.sort(key=lambda item: key(self, item))
        self._rows = {str(item.path): row for row, item in enumerate(self._items)}
        moved = [self.index(self._rows[p]) if self._rows[p] < self._shown else QModelIndex()
                 for p in kept]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def set_threshold(self, threshold: float) -> None:
        """Relabel every result from its stored scores (no model run); only rows whose label
        changes are replaced and signalled."""
        self._threshold = float(threshold)
        rows = []
        for row, item in enumerate(self._items):
            if item.classified:
                relabelled = self._relabel(item.prediction)
                if relabelled is not item.prediction:
                    self._items[row] = ImageItem(item.path, relabelled, item.error)
                    rows.append(row)
        self._emit_results_changed(rows)

    def _relabel(self, prediction: Prediction) -> Prediction:
        if not prediction.ok or not prediction.scores or not self._class_names:
            return prediction
        label, confidence = _label_for()(prediction.scores, self._class_names, self._threshold)
        if label == prediction.label and confidence == prediction.confidence:
            return prediction  # unchanged: the caller can skip the row
        return dataclasses.replace(prediction, label=label, confidence=confidence)

    # --- internals ----------------------------------------------------------------------------
    def _extend(self, items: Iterable[ImageItem]) -> None:
        for item in items:
            key = str(item.path)
            if key not in self._rows:
                self._rows[key] = len(self._items)
                self._items.append(item)

    def _show_up_to(self, count: int) -> None:
        count = min(count, len(self._items))
        if count <= self._shown:
            return
        self.beginInsertRows(QModelIndex(), self._shown, count - 1)
        self._shown = count
        self.endInsertRows()

    def _emit_results_changed(self, rows: list[int]) -> None:
        if not rows:
            return
        shown = [r for r in rows if r < self._shown]
        if shown:
            self.dataChanged.emit(self.index(min(shown)), self.index(max(shown)), RESULT_ROLES)
        self.results_changed.emit()

    def _decoration(self, item: ImageItem):
        if self._loader is None:
            return None
        key = str(item.path)
        pixmap = self._loader.pixmap(key)
        if pixmap is None and item.error is None and self._loader.error(key) is None:
            self._loader.request(key)
        return pixmap

    def error_of(self, item: ImageItem) -> str:
        """Why ``item`` cannot be used (listing, classification or thumbnail), or ""."""
        if item.error:
            return item.error
        if self._loader is not None:
            return self._loader.error(str(item.path)) or ""
        return ""

    def _paint_data(self, item: ImageItem) -> tuple:
        """(name, pixmap or None, label, confidence, class index, error): one call per cell."""
        error = self.error_of(item)
        if item.classified and not error:
            label, confidence = item.prediction.label, item.prediction.confidence
            return (item.path.name, self._decoration(item), label, confidence,
                    class_index(self, item), "")
        return item.path.name, self._decoration(item), "", -1.0, -1, error

    def _tooltip(self, item: ImageItem) -> str:
        lines = [str(item.path)]
        if self.error_of(item):
            lines.append(f"Cannot use this file: {self.error_of(item)}")
        elif item.classified:
            lines.append(f"{item.prediction.label} ({item.prediction.confidence:.1%})")
        return "\n".join(lines)

    def _on_thumbnail_ready(self, path: str) -> None:
        self._emit_row(path, [Qt.ItemDataRole.DecorationRole])

    def _on_thumbnail_failed(self, path: str, _reason: str) -> None:
        self._emit_row(path, [Qt.ItemDataRole.DecorationRole, Roles.ITEM, Roles.ERROR,
                              Roles.CONFIDENCE, Qt.ItemDataRole.ToolTipRole])

    def _emit_row(self, path: str, roles: list) -> None:
        row = self._rows.get(path)
        if row is not None and row < self._shown:
            index = self.index(row)
            self.dataChanged.emit(index, index, roles)


_ROLE_GETTERS = {
    Roles.ITEM: lambda m, i: i,
    Roles.PATH: lambda m, i: str(i.path),
    Roles.LABEL: label,
    Roles.CONFIDENCE: confidence,
    Roles.ERROR: lambda m, i: m.error_of(i),
    Roles.CLASS_INDEX: class_index,
}
