"""Help > About: what the app is, its version, and where the default dataset comes from."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from horsehuman_gui import __version__

DATASET_URL = "https://laurencemoroney.com/datasets.html"
LICENCE_URL = "https://creativecommons.org/licenses/by/2.0/"


def about_html() -> str:
    return (
        f"<h3>Horses or Humans <small>(horsehuman-gui {__version__})</small></h3>"
        "<p>Teach a computer to tell kinds of pictures apart: open a folder of class folders, "
        "train a small convolutional neural network with a live plot, then classify your "
        "own photos.</p>"
        "<p>Made for the <i>Horses or Humans</i> dataset by Laurence Moroney "
        f"(<a href='{DATASET_URL}'>laurencemoroney.com</a>), licensed under "
        f"<a href='{LICENCE_URL}'>Creative Commons Attribution 2.0 (CC BY 2.0)</a>. "
        "Any folder of class folders works the same way.</p>"
        "<p>Built with TensorFlow/Keras, Qt for Python (PySide6) and pyqtgraph. "
        "Licensed under the MIT licence.</p>")


def show_about(parent: QWidget | None) -> QMessageBox:
    """Open the About box without blocking (tests find it by objectName "aboutBox")."""
    box = QMessageBox(parent)
    box.setObjectName("aboutBox")
    box.setWindowTitle("About Horses or Humans")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_html())
    box.setIconPixmap(QApplication.windowIcon().pixmap(96, 96))
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
