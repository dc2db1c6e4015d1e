"""The row above the grid: sort choices and the two-class threshold slider with its value."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox

from horsehuman_gui.ui.classify.result_controls import SLIDER_WIDTH, ResultControls


def test_threshold_is_a_slider_of_useful_length_with_its_value_shown(qtbot):
    controls = ResultControls(0.5)
    qtbot.addWidget(controls)
    controls.set_classes(("horses", "humans"), binary=True)
    controls.resize(690, 40)  # the room it had in a 1200 px window
    controls.show()
    # it looked like an unticked check box: a lone handle squeezed by the stretch beside it
    assert controls.threshold_slider.width() >= SLIDER_WIDTH
    assert not controls.findChildren(QCheckBox)
    assert [w.objectName() for w in controls.findChildren(QAbstractSpinBox)] == ["minConfidence"]
    assert controls.threshold_value.text() == "0.50"
    with qtbot.waitSignal(controls.threshold_changed) as blocker:
        controls.threshold_slider.setValue(73)
    assert blocker.args == [0.73]
    assert controls.threshold_value.text() == "0.73"


def test_threshold_is_hidden_for_more_than_two_classes(qtbot):
    controls = ResultControls(0.5)
    qtbot.addWidget(controls)
    controls.set_classes(("rock", "paper", "scissors"), binary=False)
    controls.show()
    assert controls.threshold_slider.isHidden() and controls.threshold_value.isHidden()


def test_sort_offers_least_confident_first(qtbot):
    controls = ResultControls(0.5)
    qtbot.addWidget(controls)
    with qtbot.waitSignal(controls.sort_changed) as blocker:
        controls.sort.setCurrentIndex(controls.sort.findText("Least confident first"))
    assert blocker.args == ["least_confident"]


def test_classes_set_while_its_tab_is_hidden_still_wrap_when_shown(qtbot):
    from PySide6.QtWidgets import QComboBox, QLabel, QTabWidget, QWidget

    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    controls = ResultControls(0.5)
    tabs.addTab(controls, "classify")  # the tab the last session ended on
    other = QWidget()
    tabs.addTab(other, "other")
    tabs.resize(560, 200)
    tabs.show()
    qtbot.waitExposed(tabs)
    tabs.setCurrentWidget(other)
    controls.set_classes(("horses", "humans"), binary=True)  # a model trained meanwhile

    tabs.setCurrentWidget(controls)  # same size as before: no resize event

    def whole():  # no label or combo box cut short
        for kind in (QComboBox, QLabel):
            for widget in controls.findChildren(kind):
                if widget.isVisible():
                    assert widget.width() >= widget.sizeHint().width(), widget.objectName()

    qtbot.waitUntil(whole, timeout=2000)
    assert len(controls._rows) == 2
