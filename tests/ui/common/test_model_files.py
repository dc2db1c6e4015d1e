"""After training: the model is kept, saved under a new name, and its run recorded."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QWidget

from horsehuman_gui.core.config import TrainConfig
from horsehuman_gui.core.dataset import scan_dataset
from horsehuman_gui.core.paths import models_dir
from horsehuman_gui.core.runs import list_runs
from horsehuman_gui.ui.common.model_files import ModelFiles

pytestmark = pytest.mark.slow


@pytest.fixture
def trained(class_folders):
    from horsehuman_gui.core.training import train

    report = scan_dataset(class_folders, seed=1)
    return train(report, TrainConfig(model="compact", image_size=16, epochs=1, batch_size=4,
                                     patience=0)), report


def test_a_trained_model_is_saved_beside_a_file_of_its_name_and_its_run_recorded(
        qtbot, settings, tf_loader, trained, monkeypatch):
    from horsehuman_gui.core import bundle as bundle_module

    result, report = trained
    monkeypatch.setattr(bundle_module, "autosave_stem", lambda *a: "taken")
    (models_dir() / "taken.keras").write_bytes(b"the user's own file")
    window = QWidget()
    qtbot.addWidget(window)
    models = ModelFiles(settings, tf_loader, window)
    replaced = []
    models.bundle_replaced.connect(lambda old, new: replaced.append((old, new)))
    with qtbot.waitSignal(models.run_recorded, timeout=60_000):
        models.adopt_trained(result, report.root, dataset=report)
    # Whoever holds the unsaved bundle is told of the saved one (same model, now with a file):
    # else it would keep the model loaded when the model is set aside for the next training.
    ((old, new),) = replaced
    assert old.path is None and new is models.bundle and new.model is old.model
    assert new.file_state is not None
    assert (models_dir() / "taken.keras").read_bytes() == b"the user's own file"
    saved = models.bundle.path
    assert saved == models_dir() / "taken-2.keras" and saved.is_file()
    (run,) = list_runs()
    assert run.model_path == str(saved.resolve()) and run.dataset_root == str(report.root)
    assert models.bundle.dataset["root"] == str(report.root.absolute())


def test_opening_a_model_frees_the_current_one_first_and_takes_it_back_on_failure(
        qtbot, settings, tf_loader, trained, monkeypatch, tmp_path):
    import weakref

    from horsehuman_gui.core import bundle as bundle_module
    from horsehuman_gui.core.bundle import SetAside

    result, report = trained
    window = QWidget()
    qtbot.addWidget(window)
    models = ModelFiles(settings, tf_loader, window)
    with qtbot.waitSignal(models.saved, timeout=60_000):
        models.adopt_trained(result, report.root, dataset=report)
    saved = models.bundle.path
    with qtbot.waitSignal(models.opened, timeout=60_000):
        models.open(saved)  # a model only the window holds (the test's fixture holds the first)
    # the loading job's thread has ended (its frame held the result a moment after handing it
    # over), as it has long ended when a person opens the next model
    qtbot.waitUntil(lambda: not models.is_busy(), timeout=10_000)
    held = weakref.ref(models.bundle.model)
    real_open = bundle_module.open_model
    freed_before_loading = []

    def open_model(path):
        freed_before_loading.append(held() is None)
        return real_open(path)

    monkeypatch.setattr(bundle_module, "open_model", open_model)
    with qtbot.waitSignal(models.opened, timeout=60_000):
        models.open(saved)
    assert freed_before_loading == [True]  # never two models in memory at once
    assert models.bundle.path == saved and not isinstance(models.bundle.model, SetAside)

    bad = tmp_path / "not-a-model.keras"
    bad.write_text("not a model")
    monkeypatch.setattr("horsehuman_gui.ui.common.model_files.show_error", lambda *a, **k: None)
    models.open(bad)
    assert isinstance(models.bundle.model, SetAside)  # while the other file loads
    qtbot.waitUntil(lambda: not isinstance(models.bundle.model, SetAside), timeout=60_000)
    assert models.bundle.path == saved  # read back from its file when the other failed
