"""The format question of "Export model...": one radio button per format; ONNX is offered only
when its converter is installed, and otherwise the dialog says how to get it."""

from __future__ import annotations

import html
import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QLabel, QRadioButton,
                               QVBoxLayout, QWidget)

from horsehuman_gui.ui.model.jobs import EXPORT_CHOICES


class ExportDialog(QDialog):
    """``choice()`` is a key of ``EXPORT_CHOICES`` once accepted."""

    def __init__(self, model_name: str, onnx_hint: str | None, parent: QWidget | None = None,
                 initial: str = "tflite"):
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export model")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Export {model_name} for another program. The new folder "
                                "holds the model, labels.txt and model_info.json.",
                                wordWrap=True))
        self._group = QButtonGroup(self)
        self.buttons: dict[str, QRadioButton] = {}
        for key, (_, _, _, label) in EXPORT_CHOICES.items():
            button = QRadioButton(label, objectName=f"format-{key}")
            self.buttons[key] = button
            self._group.addButton(button)
            layout.addWidget(button)
        self.onnx_hint = QLabel(objectName="onnxHint", wordWrap=True,
                                textFormat=Qt.TextFormat.RichText,
                                textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        if onnx_hint:
            self.buttons["onnx"].setEnabled(False)
            self.onnx_hint.setText(unbroken_commands(onnx_hint))
        self.onnx_hint.setVisible(bool(onnx_hint))
        layout.addWidget(self.onnx_hint)
        chosen = self.buttons.get(initial)
        if chosen is None or not chosen.isEnabled():
            chosen = self.buttons["tflite"]
        chosen.setChecked(True)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
        box.button(QDialogButtonBox.StandardButton.Ok).setText("Export…")
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout.addWidget(box)
        self.setMinimumWidth(460)

    def choice(self) -> str:
        return next(key for key, button in self.buttons.items() if button.isChecked())


def unbroken_commands(text: str) -> str:
    """``text`` as rich text in which no ``pip install ...`` command is broken across lines
    (a wrapped "horsehuman-" / "gui[onnx]" would be copied wrong)."""
    return re.sub(r"(pip install (?:&#x27;[^&]+&#x27;|[\w\[\]-]+(?: [\w\[\]-]+)*))",
                  r'<span style="white-space: nowrap">\1</span>', html.escape(text))
