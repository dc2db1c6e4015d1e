"""Questions asked before something would end a training run: a run is never dropped unasked.

Each question is a QMessageBox built by a ``*_box`` function (tests look at its buttons) and asked
by an ``ask_*`` function that blocks until the person answers and returns one plain word.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

KEEP, DISCARD, STOP, CANCEL = "keep", "discard", "stop", "cancel"
_CHOICE = "choice"  # the property each button carries


def close_during_training_box(parent: QWidget | None) -> QMessageBox:
    """Keep (the default: stop after the batch, save, then close), discard, or cancel."""
    box = QMessageBox(QMessageBox.Icon.Question, "Training in progress",
                      "A network is still training. Keep what it has learnt so far?", parent=parent)
    box.setObjectName("closeDuringTrainingBox")
    box.setInformativeText(
        "Keep: training stops after the current batch, the model is saved, then the window "
        "closes.\nDiscard: the window closes at once and nothing is saved.")
    keep = _button(box, "Keep the model and close", QMessageBox.ButtonRole.AcceptRole, KEEP)
    _button(box, "Discard it and close", QMessageBox.ButtonRole.DestructiveRole, DISCARD)
    cancel = _button(box, "Cancel", QMessageBox.ButtonRole.RejectRole, CANCEL)
    box.setDefaultButton(keep)
    box.setEscapeButton(cancel)
    return box


def open_during_training_box(parent: QWidget | None, training_on: str, other: str) -> QMessageBox:
    """Stop the run (its model is kept) and open ``other``, or keep training (the default)."""
    box = QMessageBox(QMessageBox.Icon.Question, "Training in progress",
                      f"A network is still training on {training_on}.", parent=parent)
    box.setObjectName("openDuringTrainingBox")
    box.setInformativeText(f"Stop it to open {other}? Training stops after the current batch "
                           "and the model trained so far is kept and saved.")
    _button(box, "Stop training and open", QMessageBox.ButtonRole.AcceptRole, STOP)
    keep = _button(box, "Keep training", QMessageBox.ButtonRole.RejectRole, CANCEL)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    return box


def ask_close_during_training(parent: QWidget | None) -> str:
    """KEEP, DISCARD or CANCEL."""
    return _ask(close_during_training_box(parent))


def ask_open_during_training(parent: QWidget | None, training_on: str, other: str) -> str:
    """STOP or CANCEL."""
    return _ask(open_during_training_box(parent, training_on, other))


def _button(box: QMessageBox, text: str, role: QMessageBox.ButtonRole, choice: str):
    button = box.addButton(text, role)
    button.setProperty(_CHOICE, choice)
    return button


def _ask(box: QMessageBox) -> str:
    box.exec()
    clicked = box.clickedButton()
    choice = clicked.property(_CHOICE) if clicked is not None else None
    box.deleteLater()
    return choice or CANCEL
