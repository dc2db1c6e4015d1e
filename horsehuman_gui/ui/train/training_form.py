"""The training settings form: remembered between runs, validated by ``TrainConfig`` itself.

The model list holds one entry per pretrained backbone, then the course's classic network and
the compact one. Picking another model brings that model's own defaults (``defaults_for``):
image size, epochs, learning rate, augmentation, early stopping, and an automatic batch size
(the model's own, smaller when the dataset would make too few steps an epoch). A pretrained
backbone fixes the image size to its own input size.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel,
                               QSpinBox, QWidget)

from horsehuman_gui.core.backbones import BACKBONES, DEFAULT_BACKBONE
from horsehuman_gui.core.config import (AUTO_BATCH, FEW_STEPS, TrainConfig, defaults_for,
                                        fitted_batch_size)
from horsehuman_gui.core.dataset import IMBALANCE_RATIO
from horsehuman_gui.ui.common.settings import Settings

MODEL_TIPS = {
    "pretrained": "A network already trained on a million photos (ImageNet) turns each picture "
                  "into features; only a small layer on top learns your classes. Trains in "
                  "seconds and recognises new photos best. {offline}",
    "classic": "The course's network: three convolution blocks and a 512-unit dense layer "
               "(about 9.5 million weights at 300 px), learnt from scratch. Slow; it learns "
               "its training pictures by heart and does less well on new ones.",
    "compact": "A small network (about 25 thousand weights) learnt from scratch, with batch "
               "normalisation and augmentation. Trains fast; a baseline for small datasets.",
}
AUGMENT_LABELS = {"off": "Off", "light": "Light (flips, small turns and zooms)",
                  "strong": "Strong (also shifts and contrast)"}
CLASS_WEIGHT_LABELS = {"auto": f"Automatic (when a class is {IMBALANCE_RATIO:g}x another)",
                       "on": "Always", "off": "Never"}


def choices() -> list[tuple[str, str, str]]:
    """(key, label, model) for the model list: each backbone, then the networks from scratch."""
    items = [(f"pretrained/{name}", spec.label, "pretrained") for name, spec in BACKBONES.items()]
    return items + [("classic", "Classic (the course's network)", "classic"),
                    ("compact", "Compact (small, from scratch)", "compact")]


class TrainingForm(QWidget):
    """``config()`` returns a validated TrainConfig or raises ValueError with a readable message."""

    changed = Signal()

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self._settings = settings
        self._counts: dict[str, int] = {}
        self.model = QComboBox(objectName="modelCombo")
        for key, label, model in choices():
            self.model.addItem(label, key)
            offline = ("Works offline." if key.endswith(DEFAULT_BACKBONE) or model != "pretrained"
                       else "Downloaded once on first use, then kept.")
            self.model.setItemData(self.model.count() - 1, MODEL_TIPS[model].format(offline=offline),
                                   Qt.ItemDataRole.ToolTipRole)
        self._make_boxes()
        self._build()
        self.load()
        self._update_model_state()
        self.model.currentIndexChanged.connect(self._model_chosen)
        for widget in self._widgets():
            if isinstance(widget, QComboBox):
                widget.currentIndexChanged.connect(self.changed)
            elif isinstance(widget, QCheckBox):
                widget.toggled.connect(self.changed)
            else:
                widget.valueChanged.connect(self.changed)
        self.class_weights.currentIndexChanged.connect(self._update_weight_hint)
        self.batch_size.valueChanged.connect(self._update_steps_hint)
        self.model.currentIndexChanged.connect(self._update_steps_hint)

    def _make_boxes(self) -> None:
        self.image_size = _int_box("imageSizeSpin", 16, 1024, " px", step=4,
                                   tip="Images are resized to this square size before training. "
                                       "Smaller trains faster; the course uses 300. A "
                                       "pretrained network uses its own size.")
        self.epochs = _int_box("epochsSpin", 1, 10_000, "",
                               tip="How many times training goes through all training images "
                                   "(at most: early stopping may end sooner).")
        self.batch_size = _int_box("batchSizeSpin", AUTO_BATCH, 4096, "",
                                   tip="Images per training step. Larger is faster per image "
                                       "but needs more memory. Automatic: the model's own, "
                                       "smaller when the dataset would make fewer than "
                                       f"{FEW_STEPS} steps an epoch.")
        self.batch_size.setSpecialValueText("Automatic")
        self.learning_rate = QDoubleSpinBox(objectName="learningRateSpin", decimals=5,
                                            minimum=0.00001, maximum=10.0, singleStep=0.0001)
        self.learning_rate.setToolTip("How big each adjustment of the weights is. Each model "
                                      "starts from a value that works for it; too large makes "
                                      "training unstable.")
        self.augment = _combo("augmentCombo", AUGMENT_LABELS,
                              "Random changes to the training pictures (never to the ones "
                              "classified later) so the network learns the subject, not the "
                              "exact pixels. Helps most with few or very similar pictures.")
        self.class_weights = _combo("classWeightsCombo", CLASS_WEIGHT_LABELS,
                                    "Count the pictures of a smaller class more, so the network "
                                    "does not simply favour the bigger class.")
        self.steps_hint = QLabel(objectName="stepsHint", wordWrap=True)
        self.steps_hint.setStyleSheet("color: #8a5a00;")
        self.weight_hint = QLabel(objectName="classWeightsHint", wordWrap=True)
        self.weight_hint.setStyleSheet("color: palette(mid);")
        self.patience = _int_box("patienceSpin", 0, 10_000, " epochs",
                                 tip="Stop when the validation loss has not improved for this "
                                     "many epochs, and keep the best epoch's network (also "
                                     "after Stop). Off keeps the last epoch, as the course does.")
        self.patience.setSpecialValueText("Off")
        self.reduce_lr = QCheckBox("Lower the learning rate when progress stalls",
                                   objectName="reduceLrCheck")
        self.fine_tune = _int_box("fineTuneSpin", 0, 10_000, " epochs",
                                  tip="After the top layer has learnt, also adjust the top of the "
                                      "pretrained network for this many epochs at a low "
                                      "learning rate. Slower (pictures pass through the whole "
                                      "network again); sometimes a little more accurate.")
        self.fine_tune.setSpecialValueText("Off")
        self.tensorboard = QCheckBox("Write TensorBoard logs", objectName="tensorboardCheck")
        if tensorboard_available():
            self.tensorboard.setToolTip("Loss and accuracy per epoch and the network's graph, "
                                        "in the run's folder, for TensorBoard "
                                        "(tensorboard --logdir FOLDER; the log says where).")
        else:
            self.tensorboard.setToolTip("Needs the tensorboard package: "
                                        "pip install 'horsehuman-gui[tensorboard]'")
        self.validation_split = QDoubleSpinBox(objectName="validationSpin", decimals=2,
                                               minimum=0.01, maximum=0.9, singleStep=0.05)
        self.validation_split.setToolTip(
            "For a folder of class folders: the fraction of images held out to measure accuracy "
            "on pictures the network never trained on (near-identical pictures stay on one "
            "side). Ignored when the dataset has its own validation/ folder.")
        self.seed = _int_box("seedSpin", 0, 2**31 - 1, "",
                             tip="Fixes the random choices (held-out images, shuffling, initial "
                                 "weights) so a run can be repeated.")

    def _build(self) -> None:
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Model:", self.model)
        form.addRow("&Image size:", self.image_size)
        form.addRow("&Epochs:", self.epochs)
        form.addRow("&Batch size:", self.batch_size)
        form.addRow("", self.steps_hint)
        form.addRow("&Learning rate:", self.learning_rate)
        form.addRow("&Augmentation:", self.augment)
        form.addRow("Class &weights:", self.class_weights)
        form.addRow("", self.weight_hint)
        form.addRow("Early s&topping:", self.patience)
        form.addRow("", self.reduce_lr)
        form.addRow("&Fine-tuning:", self.fine_tune)
        form.addRow("&Validation fraction:", self.validation_split)
        form.addRow("&Seed:", self.seed)
        form.addRow("", self.tensorboard)

    def _widgets(self):
        return (self.model, self.image_size, self.epochs, self.batch_size, self.learning_rate,
                self.augment, self.class_weights, self.patience, self.reduce_lr, self.fine_tune,
                self.validation_split, self.seed, self.tensorboard)

    # -- the model and its defaults -------------------------------------------------------

    def _model_key(self) -> str:
        return self.model.currentData()

    def model_name(self) -> str:
        return "pretrained" if self._model_key().startswith("pretrained/") else self._model_key()

    def backbone(self) -> str:
        key = self._model_key()
        return key.split("/", 1)[1] if key.startswith("pretrained/") else DEFAULT_BACKBONE

    def _model_chosen(self) -> None:
        """Another model brings its own defaults (the validation part and seed stay)."""
        self.apply_defaults(defaults_for(self.model_name()))
        self._update_model_state()

    def apply_defaults(self, values: dict) -> None:
        self.image_size.setValue(values["image_size"])
        self.epochs.setValue(values["epochs"])
        self.batch_size.setValue(AUTO_BATCH)
        self.learning_rate.setValue(values["learning_rate"])
        _select(self.augment, values["augment"])
        _select(self.class_weights, values["class_weights"])
        self.patience.setValue(values["patience"])
        self.reduce_lr.setChecked(values["reduce_lr"])
        self.fine_tune.setValue(values["fine_tune_epochs"])

    def _update_model_state(self) -> None:
        self.model.setToolTip(self.model.itemData(self.model.currentIndex(),
                                                  Qt.ItemDataRole.ToolTipRole))
        pretrained = self.model_name() == "pretrained"
        if pretrained:
            self.image_size.setValue(BACKBONES[self.backbone()].input_size)
        self._editable_state()
        self._update_weight_hint()
        self._update_steps_hint()

    def _editable_state(self, editable: bool = True) -> None:
        pretrained = self.model_name() == "pretrained"
        for widget in self._widgets():
            widget.setEnabled(editable)
        self.image_size.setEnabled(editable and not pretrained)
        self.fine_tune.setEnabled(editable and pretrained)
        self.tensorboard.setEnabled(editable and tensorboard_available())

    # -- class weights: say what "automatic" will do for this dataset -------------------------

    def set_class_counts(self, counts: dict[str, int]) -> None:
        """The training images per class of the dataset the next run uses (for the hint)."""
        self._counts = dict(counts)
        self._update_weight_hint()
        self._update_steps_hint()

    def _update_steps_hint(self) -> None:
        images = sum(self._counts.values())
        self.batch_size.setSpecialValueText(
            f"Automatic ({fitted_batch_size(self.model_name(), images)})" if images
            else "Automatic")
        text = steps_hint(images, self.batch_size.value(), self.model_name())
        self.steps_hint.setText(text)
        self.steps_hint.setVisible(bool(text))

    def _update_weight_hint(self) -> None:
        self.weight_hint.setText(weight_hint(self._counts, self.class_weights.currentData()))
        self.weight_hint.setVisible(bool(self.weight_hint.text()))

    # -- remembered values ---------------------------------------------------------------

    def load(self) -> None:
        s = self._settings
        key = s.get("training/model")
        if key == "pretrained":
            key = f"pretrained/{s.get('training/backbone')}"
        self.model.setCurrentIndex(max(self.model.findData(key), 0))
        self.image_size.setValue(s.get("training/image_size"))
        self.epochs.setValue(s.get("training/epochs"))
        self.batch_size.setValue(s.get("training/batch_size"))
        self.learning_rate.setValue(s.get("training/learning_rate"))
        _select(self.augment, s.get("training/augment"))
        _select(self.class_weights, s.get("training/class_weights"))
        self.patience.setValue(s.get("training/patience"))
        self.reduce_lr.setChecked(s.get("training/reduce_lr"))
        self.fine_tune.setValue(s.get("training/fine_tune_epochs"))
        self.validation_split.setValue(s.get("training/validation_split"))
        self.seed.setValue(s.get("training/seed"))
        self.tensorboard.setChecked(s.get("training/tensorboard") and tensorboard_available())

    def save(self) -> None:
        s = self._settings
        s.set("training/model", self.model_name())
        s.set("training/backbone", self.backbone())
        s.set("training/image_size", self.image_size.value())
        s.set("training/epochs", self.epochs.value())
        s.set("training/batch_size", self.batch_size.value())
        s.set("training/learning_rate", self.learning_rate.value())
        s.set("training/augment", self.augment.currentData())
        s.set("training/class_weights", self.class_weights.currentData())
        s.set("training/patience", self.patience.value())
        s.set("training/reduce_lr", self.reduce_lr.isChecked())
        s.set("training/fine_tune_epochs", self.fine_tune.value())
        s.set("training/validation_split", self.validation_split.value())
        s.set("training/seed", self.seed.value())
        s.set("training/tensorboard", self.tensorboard.isChecked())

    def config(self) -> TrainConfig:
        pretrained = self.model_name() == "pretrained"
        return TrainConfig(
            model=self.model_name(), backbone=self.backbone(),
            image_size=(BACKBONES[self.backbone()].input_size if pretrained
                        else self.image_size.value()),
            epochs=self.epochs.value(), batch_size=self.batch_size.value(),
            learning_rate=self.learning_rate.value(), augment=self.augment.currentData(),
            class_weights=self.class_weights.currentData(), patience=self.patience.value(),
            reduce_lr=self.reduce_lr.isChecked(),
            fine_tune_epochs=self.fine_tune.value() if pretrained else 0,
            validation_split=self.validation_split.value(), seed=self.seed.value())

    def set_editable(self, editable: bool) -> None:
        self._editable_state(editable)


def steps_hint(images: int, batch_size: int, model: str) -> str:
    """What an automatic batch size (``AUTO_BATCH``) becomes on ``images`` training pictures when
    that is not the model's own, or a warning when a chosen size gives a network learnt from
    scratch too few steps an epoch to learn (``FEW_STEPS``)."""
    if images <= 0:
        return ""
    if batch_size == AUTO_BATCH:
        fitted, own = fitted_batch_size(model, images), defaults_for(model)["batch_size"]
        if fitted == own:
            return ""
        return (f"Batch size {fitted}, not this model's {own}: {images} training pictures "
                f"would make only {_steps(images, own)} an epoch at {own}.")
    if model == "pretrained" or -(-images // batch_size) >= FEW_STEPS:
        return ""
    suggested = fitted_batch_size(model, images)
    return (f"Only {_steps(images, batch_size)} an epoch with {images} training pictures: this "
            f"network may not learn. Automatic (batch {suggested}), or a pretrained model, "
            "works better on so few pictures.")


def _steps(images: int, batch_size: int) -> str:
    steps = -(-images // batch_size)
    return f"{steps} training step{'s' * (steps != 1)}"


def tensorboard_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def weight_hint(counts: dict[str, int], mode: str) -> str:
    """One line on whether classes will be weighted for ``counts`` (empty without a dataset)."""
    sizes = [n for n in counts.values() if n > 0]
    if len(sizes) < 2:
        return ""
    ratio = max(sizes) / min(sizes)
    if mode == "off":
        return f"Largest class is {ratio:.1f}x the smallest; not weighted."
    if mode == "on" or ratio > IMBALANCE_RATIO:
        return f"Largest class is {ratio:.1f}x the smallest: smaller classes count more."
    return f"Classes are balanced ({ratio:.1f}x): not weighted."


def _select(combo: QComboBox, value) -> None:
    combo.setCurrentIndex(max(combo.findData(value), 0))


def _combo(name: str, labels: dict[str, str], tip: str) -> QComboBox:
    combo = QComboBox(objectName=name)
    for value, label in labels.items():
        combo.addItem(label, value)
    combo.setToolTip(tip)
    return combo


def _int_box(name: str, low: int, high: int, suffix: str, step: int = 1, tip: str = "") -> QSpinBox:
    box = QSpinBox(objectName=name, minimum=low, maximum=high, suffix=suffix, singleStep=step)
    box.setToolTip(tip)
    return box

