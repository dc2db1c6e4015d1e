"""The training settings form: remembered between runs, validated by ``TrainConfig`` itself."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

from horsehuman_gui.core.config import MODEL_NAMES, TrainConfig
from horsehuman_gui.ui.common.settings import Settings

MODEL_TIPS = {
    "classic": "The course's network: three convolution blocks and a 512-unit dense layer "
               "(about 9.5 million weights at 300 px). Most accurate here, slowest to train.",
    "compact": "A small network (about 25 thousand weights, any image size). Trains several "
               "times faster; good for quick experiments and small datasets.",
}


class TrainingForm(QWidget):
    """``config()`` returns a validated TrainConfig or raises ValueError with a readable message."""

    changed = Signal()

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self._settings = settings
        self.model = QComboBox(objectName="modelCombo")
        for name in MODEL_NAMES:
            self.model.addItem(name.capitalize(), name)
            self.model.setItemData(self.model.count() - 1, MODEL_TIPS[name],
                                   Qt.ItemDataRole.ToolTipRole)
        self.image_size = _int_box("imageSizeSpin", 16, 1024, " px", step=4,
                                   tip="Images are resized to this square size before training. "
                                       "Smaller trains faster; the course uses 300.")
        self.epochs = _int_box("epochsSpin", 1, 10_000, "",
                               tip="How many times training goes through all training images.")
        self.batch_size = _int_box("batchSizeSpin", 1, 4096, "",
                                   tip="Images per training step. Larger is faster per image "
                                       "but needs more memory.")
        self.learning_rate = QDoubleSpinBox(objectName="learningRateSpin", decimals=5,
                                            minimum=0.00001, maximum=10.0, singleStep=0.0001)
        self.learning_rate.setToolTip("How big each adjustment of the weights is (RMSprop). "
                                      "0.001 is a good start; too large makes training unstable.")
        self.validation_split = QDoubleSpinBox(objectName="validationSpin", decimals=2,
                                               minimum=0.01, maximum=0.9, singleStep=0.05)
        self.validation_split.setToolTip(
            "For a folder of class folders: the fraction of images held out to measure accuracy "
            "on pictures the network never trained on. Ignored when the dataset has its own "
            "validation/ folder.")
        self.seed = _int_box("seedSpin", 0, 2**31 - 1, "",
                             tip="Fixes the random choices (held-out images, shuffling, initial "
                                 "weights) so a run can be repeated.")
        self._build()
        self.load()
        self._update_model_tip()
        self.model.currentIndexChanged.connect(self._update_model_tip)
        for widget in self._widgets():
            signal = widget.currentIndexChanged if widget is self.model else widget.valueChanged
            signal.connect(self.changed)

    def _build(self) -> None:
        form = QFormLayout(self)
        form.addRow("&Model:", self.model)
        form.addRow("&Image size:", self.image_size)
        form.addRow("&Epochs:", self.epochs)
        form.addRow("&Batch size:", self.batch_size)
        form.addRow("&Learning rate:", self.learning_rate)
        form.addRow("&Validation fraction:", self.validation_split)
        form.addRow("&Seed:", self.seed)

    def _widgets(self):
        return (self.model, self.image_size, self.epochs, self.batch_size, self.learning_rate,
                self.validation_split, self.seed)

    def _update_model_tip(self) -> None:
        self.model.setToolTip(MODEL_TIPS[self.model.currentData()])

    def load(self) -> None:
        s = self._settings
        index = self.model.findData(s.get("training/model"))
        self.model.setCurrentIndex(max(index, 0))
        self.image_size.setValue(s.get("training/image_size"))
        self.epochs.setValue(s.get("training/epochs"))
        self.batch_size.setValue(s.get("training/batch_size"))
        self.learning_rate.setValue(s.get("training/learning_rate"))
        self.validation_split.setValue(s.get("training/validation_split"))
        self.seed.setValue(s.get("training/seed"))

    def save(self) -> None:
        s = self._settings
        s.set("training/model", self.model.currentData())
        s.set("training/image_size", self.image_size.value())
        s.set("training/epochs", self.epochs.value())
        s.set("training/batch_size", self.batch_size.value())
        s.set("training/learning_rate", self.learning_rate.value())
        s.set("training/validation_split", self.validation_split.value())
        s.set("training/seed", self.seed.value())

    def config(self) -> TrainConfig:
        return TrainConfig(model=self.model.currentData(), image_size=self.image_size.value(),
                           epochs=self.epochs.value(), batch_size=self.batch_size.value(),
                           learning_rate=self.learning_rate.value(),
                           validation_split=self.validation_split.value(), seed=self.seed.value())

    def set_editable(self, editable: bool) -> None:
        for widget in self._widgets():
            widget.setEnabled(editable)


def _int_box(name: str, low: int, high: int, suffix: str, step: int = 1, tip: str = "") -> QSpinBox:
    box = QSpinBox(objectName=name, minimum=low, maximum=high, suffix=suffix, singleStep=step)
    box.setToolTip(tip)
    return box
