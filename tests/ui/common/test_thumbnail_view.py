"""The thumbnail grid draws a cell once while it looks the same, and again when anything it
shows changes (result, selection, font); the cells kept are bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QItemSelectionModel, QObject
from PySide6.QtGui import QPixmap, QRegion

from horsehuman_gui.core.prediction import Prediction
from horsehuman_gui.ui.common.image_list_model import ImageListModel
from horsehuman_gui.ui.common.thumbnail_view import ThumbnailDelegate, ThumbnailView

PATHS = [Path(f"/pictures/img_{i:03d}.jpg") for i in range(40)]


@pytest.fixture
def view(qtbot, monkeypatch):
    model = ImageListModel()
    model.set_class_names(("blue", "red"))
    model.set_images(PATHS)
    view = ThumbnailView()
    view.setModel(model)
    view.resize(700, 500)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    drawn = []
    draw = ThumbnailDelegate._draw_cell

    def counting(self, option, data, selected, ratio):
        drawn.append((data[0], data[2], selected))
        return draw(self, option, data, selected, ratio)

    monkeypatch.setattr(ThumbnailDelegate, "_draw_cell", counting)
    view.viewport().repaint()
    view.drawn = drawn
    return view


def _pixmaps_held(obj, seen=None) -> list:
    """The QPixmaps reachable from ``obj``'s attributes and the containers in them."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, QPixmap):
        return [obj]
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for x in (k, v) for p in _pixmaps_held(x, seen)]
    if isinstance(obj, (list, tuple, set)):
        return [p for x in obj for p in _pixmaps_held(x, seen)]
    if isinstance(obj, ThumbnailDelegate):
        return _pixmaps_held(vars(obj), seen)
    return []


def _cell_image(view, row: int):
    rect = view.visualRect(view.model().index(row, 0))
    return view.viewport().grab(rect).toImage()


def test_an_unchanged_cell_is_drawn_once_and_a_changed_one_again(view):
    visible = len(view.visible_rows())
    assert 0 < visible < len(PATHS)
    view.drawn.clear()
    view.viewport().repaint()
    assert view.drawn == []  # nothing changed: copies of the drawn cells

    before = _cell_image(view, 1)
    view.model().apply_predictions([Prediction(PATHS[1], "red", 0.875, (0.125, 0.875))])
    view.viewport().repaint()
    assert view.drawn == [("img_001.jpg", "red", False)]
    assert _cell_image(view, 1) != before  # the badge shows

    view.drawn.clear()
    view.selectionModel().select(view.model().index(2, 0),
                                 QItemSelectionModel.SelectionFlag.Select)
    view.viewport().repaint()
    assert view.drawn == [("img_002.jpg", "", True)]


def test_the_cells_kept_are_bounded_and_a_font_change_forgets_them(view, monkeypatch):
    delegate = view.itemDelegate()
    one = next(iter(delegate._cells.values()))
    monkeypatch.setattr(ThumbnailDelegate, "CELL_CACHE_BYTES", 3 * one.width() * one.height() * 4)
    delegate.clear_cache()
    view.viewport().repaint()
    assert len(delegate._cells) == 3  # the last three painted
    view.scrollToBottom()
    view.viewport().repaint()
    assert len(_pixmaps_held(delegate)) == 3  # whatever else it remembers holds no pixmap
    font = view.font()
    font.setPointSize(font.pointSize() + 2)
    view.setFont(font)
    assert len(delegate._cells) == 0



def test_changed_cells_past_the_budget_keep_their_look_until_the_next_repaint(view, qtbot,
                                                                             monkeypatch):
    monkeypatch.setattr(ThumbnailDelegate, "PAINT_BUDGET_S", 0.0)
    rows = range(4)
    before = [_cell_image(view, r) for r in rows]
    view.drawn.clear()
    view.model().apply_predictions([Prediction(PATHS[r], "red", 0.875, (0.125, 0.875))
                                    for r in rows])
    view.viewport().repaint()
    assert view.drawn == [("img_000.jpg", "red", False)]  # one anew, however short the budget
    qtbot.waitUntil(lambda: len(view.drawn) == 4, timeout=5000)  # the rest in later repaints
    assert sorted(view.drawn) == [(f"img_00{r}.jpg", "red", False) for r in rows]
    assert all(_cell_image(view, r) != b for r, b in zip(rows, before))  # all show the result


def test_cells_never_drawn_are_drawn_whatever_the_budget(view, monkeypatch):
    monkeypatch.setattr(ThumbnailDelegate, "PAINT_BUDGET_S", 0.0)
    view.itemDelegate().clear_cache()
    view.drawn.clear()
    view.viewport().repaint()
    on_screen = [PATHS[r].name for r in range(len(PATHS))
                 if view.visualRect(view.model().index(r, 0)).intersects(view.viewport().rect())]
    assert len(on_screen) > 4 and sorted(name for name, _, _ in view.drawn) == on_screen




class _PaintedRegions(QObject):
    def __init__(self):
        super().__init__()
        self.regions = []

    def eventFilter(self, watched, event):  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint:
            self.regions.append(QRegion(event.region()))
        return False


@pytest.mark.parametrize("budget", [ThumbnailDelegate.PAINT_BUDGET_S, 0.0])
def test_results_repaint_only_their_cells_on_screen(view, qtbot, monkeypatch, budget):
    # budget 0: cells left for later are repainted alone too (a slow machine runs out of time)
    monkeypatch.setattr(ThumbnailDelegate, "PAINT_BUDGET_S", budget)
    painted = _PaintedRegions()
    view.viewport().installEventFilter(painted)
    visible = view.visible_rows()
    assert visible.stop < 30
    view.model().apply_predictions([Prediction(PATHS[r], "red", 0.875, (0.125, 0.875))
                                    for r in range(30, 40)])
    qtbot.wait(50)
    assert painted.regions == []  # none of them on screen: nothing repainted
    view.model().apply_predictions([Prediction(PATHS[r], "blue", 0.75, (0.75, 0.25))
                                    for r in range(2, 34)])
    qtbot.waitUntil(lambda: painted.regions != [])
    qtbot.wait(50)
    changed = QRegion()
    for row in range(2, visible.stop):
        changed += view.visualRect(view.model().index(row, 0))
    union = QRegion()
    for region in painted.regions:
        union += region
    assert union.subtracted(changed).isEmpty()  # the cells of rows 0 and 1 were not repainted
    assert not union.intersected(view.visualRect(view.model().index(2, 0))).isEmpty()
    assert _cell_image(view, 2) != _cell_image(view, 0)  # and row 2 shows its badge
