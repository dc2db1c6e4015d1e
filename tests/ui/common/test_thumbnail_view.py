"""The thumbnail grid draws a cell once while it looks the same, and again when anything it
shows changes (result, selection, font); the cells kept are bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel

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
    font = view.font()
    font.setPointSize(font.pointSize() + 2)
    view.setFont(font)
    assert len(delegate._cells) == 0
