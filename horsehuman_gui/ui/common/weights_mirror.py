"""Where pretrained weights are downloaded from: their published location, or a company mirror.

The setting ``network/weights_url`` (empty: the published location, or the
``HORSEHUMAN_WEIGHTS_URL`` environment variable when set) is applied at start-up and whenever
the person changes it with File > Pretrained weights mirror….
"""

from __future__ import annotations

from urllib.parse import urlparse

from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from horsehuman_gui.ui.common.settings import Settings

KEY = "network/weights_url"


def apply_weights_mirror(settings: Settings, *, at_start: bool = False) -> None:
    """Point the weights downloads at the remembered mirror (or back at the default). At
    start-up with no mirror set there is nothing to change, and the download module (with
    http.client, ~20 ms) is not imported on the way to showing the window."""
    url = settings.get(KEY) or None
    if url is None and at_start:
        return
    from horsehuman_gui.core import weights

    weights.set_base_url(url)


def valid_mirror(url: str) -> bool:
    """Empty (the default) or an http(s)/file URL with a place in it."""
    if not url:
        return True
    parts = urlparse(url)
    return parts.scheme in ("http", "https", "file") and bool(parts.netloc or parts.path)


def ask_weights_mirror(parent: QWidget, settings: Settings) -> bool:
    """Ask for the mirror's address; True when a valid one (or none) was set."""
    url, ok = QInputDialog.getText(
        parent, "Pretrained weights mirror",
        "Download the pretrained networks' weights from this folder instead of their published "
        "location\n(files under their published names; leave empty for the default):",
        QLineEdit.EchoMode.Normal, settings.get(KEY))
    if not ok:
        return False
    url = url.strip()
    if not valid_mirror(url):
        from horsehuman_gui.ui.common.errors import show_error

        show_error(parent, "That is not a web address.",
                   hint="Use an address such as https://mirror.example.com/keras-weights/ "
                        "or leave it empty.")
        return False
    settings.set(KEY, url)
    apply_weights_mirror(settings)
    return True
