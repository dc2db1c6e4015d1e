"""A folder tree over the whole file system (folders only), as image browsers have beside the grid.

QFileSystemModel reads folders lazily in its own thread, so expanding ``/`` or a network mount
never blocks the window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDir, QModelIndex, QStandardPaths, Signal
from PySide6.QtWidgets import QAbstractItemView, QFileSystemModel, QTreeView


def default_folder(last_used: str = "") -> Path:
    """Where browsing starts: the last folder used, else Pictures, else home."""
    candidates = [last_used] if last_used else []
    pictures = QStandardPaths.StandardLocation.PicturesLocation
    candidates += [QStandardPaths.writableLocation(pictures), QDir.homePath()]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return Path(QDir.rootPath())


class FolderTree(QTreeView):
    """Emits ``folder_selected(Path)`` when the person picks a folder (not when code does)."""

    folder_selected = Signal(Path)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("folderTree")
        self._fs = QFileSystemModel(self)
        self._fs.setFilter(QDir.Filter.AllDirs | QDir.Filter.NoDotAndDotDot | QDir.Filter.Drives)
        self._fs.setReadOnly(True)
        self._fs.setRootPath("")  # the whole file system ("/" here, the drives on Windows)
        self.setModel(self._fs)
        for column in range(1, self._fs.columnCount()):
            self.hideColumn(column)  # size, type, date: not useful for folders
        self.setHeaderHidden(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setUniformRowHeights(True)
        self._shown: Path | None = None  # the folder last selected (by the person or by code)
        self._pending: str | None = None
        self.selectionModel().currentChanged.connect(self._on_current_changed)
        self._fs.directoryLoaded.connect(self._on_directory_loaded)

    def select_folder(self, folder: Path) -> None:
        """Expand down to ``folder``, select and show it, without emitting ``folder_selected``."""
        index = self._fs.index(str(folder))
        if not index.isValid():
            return
        self._shown = Path(folder)
        self.setCurrentIndex(index)
        self.expand(index)
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self._pending = str(folder)  # folders above it load asynchronously: scroll again then

    def current_folder(self) -> Path | None:
        index = self.currentIndex()
        return Path(self._fs.filePath(index)) if index.isValid() else None

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        # QFileSystemModel re-sorts when folders appear or vanish (e.g. in /tmp), which moves
        # the current index and re-emits currentChanged for the same folder: not a new choice.
        if not current.isValid():
            return
        folder = Path(self._fs.filePath(current))
        if folder != self._shown:
            self._shown = folder
            self.folder_selected.emit(folder)

    def _on_directory_loaded(self, path: str) -> None:
        if self._pending and self._pending.startswith(path):
            index = self._fs.index(self._pending)
            if index.isValid():
                self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
            if path == self._pending:
                self._pending = None
