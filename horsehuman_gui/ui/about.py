"""The Help menu: Getting started (the three steps, where models and settings live) and About
(what the app is, its version, and where the default dataset comes from)."""

from __future__ import annotations

from html import escape

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


def getting_started_html(models_folder: str, settings_location: str) -> str:
    return (
        "<h3>Getting started</h3>"
        "<ol>"
        "<li><b>Dataset</b>: <i>File \u25b8 Open dataset\u2026</i> (Ctrl+O) or drop a folder on "
        "the window. The folder holds one sub-folder of pictures per class (for example "
        "<i>horses/</i> and <i>humans/</i>), a few dozen pictures each at least.</li>"
        "<li><b>Train</b>: pick a model on the Train tab and press <i>Start training</i> (F5). "
        "Watch loss and accuracy; <i>Stop</i> (Shift+F5) ends after the current batch and keeps "
        "the model.</li>"
        "<li><b>Classify</b>: pick a folder of new pictures on the Classify tab and press "
        "<i>Classify</i> (Ctrl+Return). Export the results with <i>File \u25b8 Export "
        "CSV\u2026</i> (Ctrl+E).</li>"
        "</ol>"
        f"<p>Trained models are saved automatically in <tt>{escape(models_folder)}</tt>; "
        "<i>File \u25b8 Save model as\u2026</i> saves a copy anywhere and <i>File \u25b8 Open "
        "model\u2026</i> opens one again.</p>"
        f"<p>Settings (window layout, recent folders, the training form) are kept in "
        f"<tt>{escape(settings_location)}</tt>.</p>")


def show_getting_started(parent: QWidget | None, settings_location: str) -> QMessageBox:
    """Open the Getting started page without blocking (objectName "gettingStartedBox")."""
    from horsehuman_gui.core.paths import models_dir

    box = QMessageBox(parent)
    box.setObjectName("gettingStartedBox")
    box.setWindowTitle("Getting started")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(getting_started_html(str(models_dir()), settings_location))
    box.setIcon(QMessageBox.Icon.Information)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
