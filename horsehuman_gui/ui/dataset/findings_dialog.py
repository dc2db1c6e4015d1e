"""The files behind one kind of data-health finding: one row per finding, its files beneath.

Opened from the Dataset tab's "Show" links; double-click a file to open it in the system viewer.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)


class FindingsDialog(QDialog):
    """Findings of one kind (``core.health.Finding``: kind, message, files)."""

    def __init__(self, findings, root: Path, parent: QWidget | None = None):
        super().__init__(parent, objectName="findingsDialog")
        self.setWindowTitle(f"{findings[0].kind.capitalize()}: {len(findings)}" if findings
                            else "Findings")
        self.tree = QTreeWidget(objectName="findingsTree", headerHidden=True)
        for finding in findings:
            top = QTreeWidgetItem([finding.message])
            for path in finding.files:
                child = QTreeWidgetItem([_relative(Path(path), root)])
                child.setToolTip(0, str(path))
                child.setData(0, 256, str(path))  # Qt.UserRole
                top.addChild(child)
            self.tree.addTopLevelItem(top)
        self.tree.expandAll()
        self.tree.itemDoubleClicked.connect(self._open)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addWidget(buttons)
        self.resize(640, 420)

    def files(self) -> list[str]:
        """Every file listed, in order (for tests and for the person's copy)."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            out += [top.child(j).data(0, 256) for j in range(top.childCount())]
        return out

    def _open(self, item: QTreeWidgetItem) -> None:
        path = item.data(0, 256)
        if path:
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
