"""Filter the grid through a QSortFilterProxyModel; the same rules decide what is exported, so
"Export CSV" writes exactly what the grid shows.

Sorting is delegated to the source model (``ImageListModel.sort_by``): a proxy sort of 10,000
rows calls back into Python ~300,000 times and stalls the window for most of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QSortFilterProxyModel

from horsehuman_gui.ui.common.image_list_model import ImageItem, ImageListModel, Roles


@dataclass(frozen=True)
class FilterSpec:
    """What to show: one label only (None: all), a minimum confidence, only failures, or only
    the results that differ from their folder's class name (``mistakes_only``)."""

    label: str | None = None
    min_confidence: float = 0.0
    errors_only: bool = False
    mistakes_only: bool = False

    def __post_init__(self):
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"`min_confidence` must be in [0, 1]. Received: {self.min_confidence}")

    @property
    def active(self) -> bool:
        return (self.label is not None or self.min_confidence > 0 or self.errors_only
                or self.mistakes_only)

    def accepts(self, item: ImageItem, error: str, truth: str | None = None) -> bool:
        """``truth``: the class the item's folder names, if any (for ``mistakes_only``)."""
        if self.errors_only:
            return bool(error)
        if self.mistakes_only:
            return (not error and item.classified and truth is not None
                    and item.prediction.label != truth)
        if self.label is None and self.min_confidence <= 0:
            return True
        if error or not item.classified:
            return False
        if self.label is not None and item.prediction.label != self.label:
            return False
        return item.prediction.confidence >= self.min_confidence


class ResultFilterProxy(QSortFilterProxyModel):
    """Filters with a FilterSpec and sorts by one of SORTS over an ImageListModel."""

    def __init__(self, source: ImageListModel, parent: QObject | None = None):
        super().__init__(parent)
        self.setSourceModel(source)
        # dataChanged reaches filterAcceptsRow only when it names the filter role (Qt 6).
        self.setFilterRole(Roles.ITEM)
        self.setDynamicSortFilter(True)  # refilter when results arrive; no proxy sort is set
        self._spec = FilterSpec()
        self._sort = "name"
        self._truth: dict[str, str] = {}  # str(path) -> class its folder names

    @property
    def spec(self) -> FilterSpec:
        return self._spec

    @property
    def sort_name(self) -> str:
        return self._sort

    def set_filter(self, spec: FilterSpec) -> None:
        if spec == self._spec:
            return
        if spec.active:
            self.sourceModel().fetch_all()  # a filter over the first batch only would mislead
        self._refilter(spec)

    def _refilter(self, spec: FilterSpec) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9; invalidateRowsFilter is deprecated
            self.beginFilterChange()
            self._spec = spec
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._spec = spec
            self.invalidateRowsFilter()

    def set_truth(self, truth: dict[str, str]) -> None:
        """The class each picture's folder names (str(path) -> class), for "mistakes only"."""
        self._truth = dict(truth)
        if self._spec.mistakes_only:
            self._refilter(self._spec)

    def set_sort(self, name: str) -> None:
        """Sort by "name", "label" or "confidence" (most confident first)."""
        self.sourceModel().sort_by(name)
        self._sort = name

    def resort(self) -> None:
        """Apply the current sort again (new results may have changed the order)."""
        if self._sort != "name":
            self.sourceModel().sort_by(self._sort)

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        if not self._spec.active:
            return True
        model: ImageListModel = self.sourceModel()
        item = model.item(source_row)
        return self._spec.accepts(item, model.error_of(item), self._truth.get(str(item.path)))

    def shown_items(self) -> list[ImageItem]:
        """Items in the order and selection the view shows them."""
        model: ImageListModel = self.sourceModel()
        model.fetch_all()
        rows = (self.mapToSource(self.index(r, 0)).row() for r in range(self.rowCount()))
        return [model.item(row) for row in rows]
