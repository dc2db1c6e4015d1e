"""The one path by which failures reach the person: a message box with a plain sentence, a hint,
and the technical details folded away."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

logger = logging.getLogger(__name__)


def show_error(parent: QWidget | None, message: str, details: str = "", hint: str = "",
               title: str = "horsehuman-gui") -> QMessageBox:
    """Open a window-modal, non-blocking error box and return it (tests find it this way)."""
    logger.error("%s%s", message, f"\n{details}" if details else "")
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    if hint:
        box.setInformativeText(hint)
    if details:
        box.setDetailedText(details)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
