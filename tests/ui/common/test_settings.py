"""Settings round-trip through a real ini file, and the training form remembers its values."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

from horsehuman_gui.ui.common.settings import KEYS, RECENT_LIMIT, Settings
from horsehuman_gui.ui.train.training_form import TrainingForm

SAMPLE = {QByteArray: QByteArray(b"\x01\x02geometry"), str: "/some/päth", list: ["/a", "/b"],
          int: 7, float: 0.25, bool: True}


def _reopen(tmp_path) -> Settings:
    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def test_every_key_round_trips_with_its_type(tmp_path, settings):
    for key, (kind, _) in KEYS.items():
        settings.set(key, SAMPLE[kind])
    settings.sync()
    again = _reopen(tmp_path)
    for key, (kind, _) in KEYS.items():
        value = again.get(key)
        assert isinstance(value, kind), key
        assert value == SAMPLE[kind], key


def test_defaults_when_unset_or_unreadable(tmp_path, settings):
    assert settings.get("training/epochs") == KEYS["training/epochs"][1]
    raw = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    raw.setValue("training/epochs", "not a number")
    raw.sync()
    assert _reopen(tmp_path).get("training/epochs") == KEYS["training/epochs"][1]


def test_single_recent_entry_survives_as_a_list(tmp_path, settings):
    settings.add_recent("recent/datasets", "/only/one")
    settings.sync()
    assert _reopen(tmp_path).get("recent/datasets") == ["/only/one"]


def test_recent_list_is_most_recent_first_without_duplicates(settings):
    for i in range(RECENT_LIMIT + 3):
        settings.add_recent("recent/models", f"/m{i}.keras")
    settings.add_recent("recent/models", "/m5.keras")
    items = settings.get("recent/models")
    assert items[0] == "/m5.keras"
    assert len(items) == RECENT_LIMIT
    assert len(set(items)) == len(items)


def test_training_form_values_are_remembered(qtbot, tmp_path, settings):
    form = TrainingForm(settings)
    qtbot.addWidget(form)
    form.model.setCurrentIndex(form.model.findData("compact"))
    form.image_size.setValue(64)
    form.epochs.setValue(3)
    form.batch_size.setValue(8)
    form.learning_rate.setValue(0.005)
    form.validation_split.setValue(0.3)
    form.seed.setValue(123)
    form.save()
    settings.sync()

    again = TrainingForm(_reopen(tmp_path))
    qtbot.addWidget(again)
    config = again.config()
    assert config.model == "compact"
    assert (config.image_size, config.epochs, config.batch_size) == (64, 3, 8)
    assert config.learning_rate == 0.005
    assert config.validation_split == 0.3
    assert config.seed == 123
