"""The thumbnail grid: a QListView in icon mode with one painting delegate (no widget per image).

Each cell: the thumbnail (a placeholder while it loads), the file name, and a badge with the
predicted label and confidence in the class's colour, or a red "cannot read" badge with the
reason. Badges carry their own background, so the fixed palette reads on light and dark themes.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (QAccessible, QColor, QFontMetrics, QPainter, QPalette, QPixmap,
                           QRegion)
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate

from horsehuman_gui.ui.common.image_list_model import PAINT_ROLE, Roles

#: Okabe-Ito colours (distinguishable with colour-blindness), then two more; cycled beyond.
CLASS_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
                 "#8C6D31", "#7F7F7F")
ERROR_COLOUR = "#C62828"
THUMB = 128  # logical px of the thumbnail square
_PAD = 6
_TEXT_LINES = 2


def class_colour(index: int) -> QColor:
    """The colour of class ``index`` (cycled)."""
    return QColor(CLASS_COLOURS[index % len(CLASS_COLOURS)])


def text_colour_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on ``background`` (relative luminance)."""
    r, g, b = (c / 255 for c in background.getRgb()[:3])
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return QColor("black") if luminance > 0.5 else QColor("white")


def _bytes(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4  # device pixels, 32 bits each


#: Qt's enum members, looked up once: an attribute lookup of a PySide6 enum costs ~1 us, and
#: drawing a cell made ~15 of them
_CENTER, _NO_PEN = Qt.AlignmentFlag.AlignCenter, Qt.PenStyle.NoPen
_ELIDE_MIDDLE, _ELIDE_RIGHT = Qt.TextElideMode.ElideMiddle, Qt.TextElideMode.ElideRight
_KEEP_ASPECT, _SELECTED = Qt.AspectRatioMode.KeepAspectRatio, QStyle.StateFlag.State_Selected
_ANTIALIAS = QPainter.RenderHint.Antialiasing
_BASE, _ALTERNATE_BASE = QPalette.ColorRole.Base, QPalette.ColorRole.AlternateBase
_HIGHLIGHT, _HIGHLIGHTED_TEXT = QPalette.ColorRole.Highlight, QPalette.ColorRole.HighlightedText
_TEXT = QPalette.ColorRole.Text


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints one cell; its size is fixed so the view never asks every row for a size.

    A cell is drawn once into a pixmap, kept while it looks the same (up to
    ``CELL_CACHE_BYTES``, the least recently painted go first), and copied on screen after
    that. Each of a cell's ~30 drawing calls hands the GIL over and takes it back: while
    classifying, with the decoding and model threads wanting it too, one repaint of the grid
    took 25-70 ms on 2 cores for ~9 ms of work; copies of unchanged cells make it a few calls
    each.

    When a batch of results changes a screenful of cells at once, drawing them all in one
    repaint still held the window 35-60 ms. Within a view's repaint (``begin_paint`` ..
    ``end_paint``), once ``PAINT_BUDGET_S`` has passed, a changed cell that has a previous look
    keeps it (at least one cell is drawn anew per repaint) and ``end_paint`` gives the view the
    cells to repaint again: they follow in the next turns of the event loop.
    """

    #: bytes of drawn cells kept: two full-HD screens of cells (~110 KB each at scale 1)
    CELL_CACHE_BYTES = 16 * 2**20
    #: seconds of drawing changed cells per repaint
    PAINT_BUDGET_S = 0.008
    _LATEST_KEPT = 4096  # keys of previous looks remembered (the pixmaps stay in the cache)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._cells: OrderedDict[tuple, QPixmap] = OrderedDict()
        self._cell_bytes = 0
        # a cell without its result -> the key of its latest drawing in ``_cells``
        self._latest: OrderedDict[tuple, tuple] = OrderedDict()
        self._deadline: float | None = None  # None: outside a view's repaint, never deferred
        self._drawn = 0
        self._deferred = QRegion()  # cells showing their previous look in this repaint

    def cell_size(self, option_font) -> QSize:
        line = QFontMetrics(option_font).height()
        return QSize(THUMB + 2 * _PAD + 16, THUMB + 2 * _PAD + _TEXT_LINES * (line + 4) + 4)

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 - Qt's name
        return self.cell_size(option.font)

    def clear_cache(self) -> None:
        """Forget the drawn cells (the font, palette or style changed)."""
        self._cells.clear()
        self._latest.clear()
        self._cell_bytes = 0

    def begin_paint(self) -> None:
        """A repaint of the view starts: the drawing budget runs from now."""
        self._deadline = time.perf_counter() + self.PAINT_BUDGET_S
        self._drawn, self._deferred = 0, QRegion()

    def end_paint(self) -> QRegion:
        """The repaint ended; the cells that kept their previous look and need another."""
        self._deadline = None
        return self._deferred

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        data = index.data(PAINT_ROLE)  # name, pixmap, label, confidence, class, error
        selected = bool(option.state & _SELECTED)
        rect = option.rect
        ratio = painter.device().devicePixelRatioF()
        pixmap = data[1]
        key = (data[0], pixmap.cacheKey() if pixmap is not None else 0, *data[2:], selected,
               rect.width(), rect.height(), ratio, option.palette.cacheKey())
        cell = self._cells.get(key)
        if cell is None:
            look = key[:2] + key[6:]  # the same cell whatever its result
            previous = self._cells.get(self._latest.get(look))
            if previous is not None and self._drawn and self._deadline is not None \
                    and time.perf_counter() > self._deadline:
                self._deferred += rect
                painter.drawPixmap(rect.topLeft(), previous)
                return
            cell = self._draw_cell(option, data, selected, ratio)
            self._drawn += 1
            self._cells[key] = cell
            self._cell_bytes += _bytes(cell)
            while self._cell_bytes > self.CELL_CACHE_BYTES and len(self._cells) > 1:
                self._cell_bytes -= _bytes(self._cells.popitem(last=False)[1])
            self._latest[look] = key
            self._latest.move_to_end(look)
            if len(self._latest) > self._LATEST_KEPT:
                self._latest.popitem(last=False)
        else:
            self._cells.move_to_end(key)
        painter.drawPixmap(rect.topLeft(), cell)

    def _draw_cell(self, option, data, selected: bool, ratio: float) -> QPixmap:
        size = option.rect.size()
        cell = QPixmap(size * ratio)
        cell.setDevicePixelRatio(ratio)
        cell.fill(option.palette.color(_BASE))  # the view's background
        painter = QPainter(cell)
        try:
            self._paint_cell(painter, QRect(QPoint(0, 0), size), option, data, selected)
        finally:
            painter.end()
        return cell

    def _paint_cell(self, painter: QPainter, cell: QRect, option, data, selected: bool) -> None:
        name, pixmap, label, confidence, class_index, error = data
        painter.setRenderHint(_ANTIALIAS)
        painter.setFont(option.font)
        rect = cell.adjusted(2, 2, -2, -2)
        palette = option.palette
        if selected:
            painter.setPen(_NO_PEN)
            painter.setBrush(palette.color(_HIGHLIGHT))
            painter.drawRoundedRect(rect, 6, 6)
        self._paint_thumbnail(painter, rect, pixmap, palette, bool(error))
        metrics = option.fontMetrics  # a copy per access
        line = metrics.height()
        text_top = rect.top() + _PAD + THUMB + 4
        name_rect = QRect(rect.left() + 4, text_top, rect.width() - 8, line)
        painter.setPen(palette.color(_HIGHLIGHTED_TEXT if selected else _TEXT))
        name = metrics.elidedText(name, _ELIDE_MIDDLE, name_rect.width())
        painter.drawText(name_rect, _CENTER, name)
        badge_rect = QRect(rect.left() + 6, text_top + line + 4, rect.width() - 12, line + 2)
        if error:
            self._paint_badge(painter, badge_rect, QColor(ERROR_COLOUR), f"\u26a0 {error}",
                              metrics)
        elif label:
            self._paint_badge(painter, badge_rect, class_colour(max(class_index, 0)),
                              f"{label}  {confidence:.0%}", metrics)

    def _paint_thumbnail(self, painter, rect, pixmap, palette, broken: bool) -> None:
        box = QRect(rect.left() + (rect.width() - THUMB) // 2, rect.top() + _PAD, THUMB, THUMB)
        if pixmap is None or pixmap.isNull():  # still loading, or cannot be read
            painter.setPen(_NO_PEN)
            painter.setBrush(palette.color(_ALTERNATE_BASE))
            painter.drawRoundedRect(box.adjusted(8, 8, -8, -8), 4, 4)
            if broken:
                painter.save()
                font = painter.font()
                font.setPixelSize(THUMB // 3)
                painter.setFont(font)
                painter.setPen(QColor(ERROR_COLOUR))
                painter.drawText(box, _CENTER, "\u26a0")
                painter.restore()
            return
        size = pixmap.deviceIndependentSize().toSize().scaled(box.size(),
                                                              _KEEP_ASPECT)
        size = size.boundedTo(pixmap.deviceIndependentSize().toSize())  # never enlarge
        target = QRect(QPoint(0, 0), size)
        target.moveCenter(box.center())
        painter.drawPixmap(target, pixmap)

    def _paint_badge(self, painter, rect, colour: QColor, text: str, metrics) -> None:
        text = metrics.elidedText(text, _ELIDE_RIGHT, rect.width() - 8)
        width = min(rect.width(), metrics.horizontalAdvance(text) + 12)
        badge = QRect(rect.left() + (rect.width() - width) // 2, rect.top(), width, rect.height())
        painter.setPen(_NO_PEN)
        painter.setBrush(colour)
        painter.drawRoundedRect(badge, rect.height() / 2, rect.height() / 2)
        painter.setPen(text_colour_on(colour))
        painter.drawText(badge, _CENTER, text)


class ThumbnailView(QListView):
    """Icon-mode list with fixed cells; tells the loader which paths are on screen after scrolls.

    ``visible_paths_changed(list[str])`` fires (debounced) when what is on screen changes, so
    pending decodes for rows that scrolled away can be dropped.
    """

    visible_paths_changed = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("thumbnailGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        # SinglePass: fixed cells make a full layout cheap, and Batched layout shrinks the
        # scroll range while it runs, which throws the scroll position back after fetchMore.
        self.setLayoutMode(QListView.LayoutMode.SinglePass)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setDragEnabled(False)
        self.setAcceptDrops(False)  # drops go to the pane, which adds the files
        self.setSpacing(0)
        self.setWordWrap(False)
        self._delegate = ThumbnailDelegate(self)
        self.setItemDelegate(self._delegate)
        self._cell = self._delegate.cell_size(self.font())
        self.setGridSize(self._cell)
        self.verticalScrollBar().setSingleStep(self._cell.height() // 3)
        self._visible_timer = QTimer(self, singleShot=True, interval=40)
        self._visible_timer.timeout.connect(self._emit_visible)
        # not connected to start() directly: valueChanged(int) would pick start(msec=value)
        self.verticalScrollBar().valueChanged.connect(lambda _value: self._visible_timer.start())

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._delegate.begin_paint()
        try:
            super().paintEvent(event)
        finally:
            left = self._delegate.end_paint()  # the cells left for now, in the next turn
            if not left.isEmpty():
                viewport = self.viewport()
                QTimer.singleShot(0, viewport, lambda: viewport.update(left))

    def dataChanged(self, top_left, bottom_right, roles=()) -> None:  # noqa: N802 - Qt's name
        # For a change over several rows Qt repaints the whole viewport, and in icon mode asks
        # the delegate for each changed row's size first. While classifying, results come 32
        # rows at a time, mostly for rows off screen: only the changed cells on screen are
        # repainted here (cells have one fixed size). Qt's own way when an assistive technology
        # listens, which it also tells that the items changed.
        if top_left.row() == bottom_right.row() or not top_left.isValid() \
                or QAccessible.isActive():
            super().dataChanged(top_left, bottom_right, roles)
            return
        visible, model, viewport = self.visible_rows(), self.model(), self.viewport()
        for row in range(max(top_left.row(), visible.start),
                         min(bottom_right.row() + 1, visible.stop)):
            viewport.update(self.visualRect(model.index(row, 0, top_left.parent())))

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._delegate.clear_cache()  # the palette is part of each drawn cell's key
        super().changeEvent(event)

    def visible_rows(self) -> range:
        """Rows of ``model()`` whose cells intersect the viewport (a small superset)."""
        model = self.model()
        if model is None or model.rowCount() == 0:
            return range(0)
        viewport = self.viewport().rect()
        columns = max(1, viewport.width() // self._cell.width())
        first = self._row_at(QPoint(self._cell.width() // 2, 1), 0)
        last_line = self._row_at(QPoint(self._cell.width() // 2, viewport.height() - 1),
                                 model.rowCount() - 1)
        return range(max(0, first), min(model.rowCount(), last_line + columns))

    def _row_at(self, point: QPoint, default: int) -> int:
        # the point may fall between cells; try a few heights within the cell's band
        for dy in (0, self._cell.height() // 2, -self._cell.height() // 2):
            index = self.indexAt(point + QPoint(0, dy))
            if index.isValid():
                return index.row()
        return default

    def visible_paths(self) -> list[str]:
        model = self.model()
        return [model.index(r, 0).data(Roles.PATH) for r in self.visible_rows()]

    def _emit_visible(self) -> None:
        self.visible_paths_changed.emit(self.visible_paths())
