"""The model-file actions: Export model... (format dialog, then a new folder), Save report...,
Export as Python script...; enabled only when they make sense, nothing replaced unasked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QTextDocumentFragment
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from horsehuman_gui.core import model_export
from horsehuman_gui.core.config import TrainConfig
from horsehuman_gui.ui.model.actions import ModelActions, install_model_actions


class FakeModels(QObject):
    bundle_changed = Signal(object)

    def __init__(self):
        super().__init__()
        self.bundle = None

    def set(self, bundle):
        self.bundle = bundle
        self.bundle_changed.emit(bundle)


class ReadyTF:
    """TensorFlow is already imported (the trained_bundle fixture did it)."""

    def when_ready(self, callback):
        callback()


@pytest.fixture
def window(qtbot):
    widget = QWidget()
    widget.statuses = []
    widget.show_status = widget.statuses.append
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def models():
    return FakeModels()


@pytest.fixture
def actions(window, models, settings):
    made = ModelActions(window, models, settings, ReadyTF())
    made.status_message.connect(window.show_status)
    yield made
    made.shutdown()


@pytest.fixture
def story_bundle(trained_bundle, class_folders):
    """The tiny model with the story a model trained here carries."""
    config = dataclasses.asdict(TrainConfig(model="compact", image_size=32, epochs=2,
                                            batch_size=4))
    history = ({"epoch": 1, "loss": 0.7, "accuracy": 0.5, "val_loss": 0.6,
                "val_accuracy": 0.6},
               {"epoch": 2, "loss": 0.3, "accuracy": 0.9, "val_loss": 0.35,
                "val_accuracy": 0.9})
    return dataclasses.replace(trained_bundle, config=config, history=history,
                               dataset={"root": str(class_folders)},
                               path=Path("/somewhere/colours.keras"))


def _save_dialog_returns(monkeypatch, path, calls=None):
    def fake(parent, title, start, filters="", *args, **kwargs):
        if calls is not None:
            calls.append((title, start, kwargs.get("options")))
        return str(path), ""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake))


def _answer(monkeypatch, answer, asked):
    def fake(parent, title, text, *args, **kwargs):
        asked.append(text)
        return answer
    monkeypatch.setattr(QMessageBox, "question", staticmethod(fake))


def _errors(widget):
    return [b for b in widget.findChildren(QMessageBox) if b.objectName() == "errorBox"]


def test_actions_are_enabled_only_when_they_make_sense(actions, models, trained_bundle,
                                                       story_bundle):
    assert not any(a.isEnabled() for a in actions.actions())
    models.set(trained_bundle)  # no settings stored (e.g. a Teachable Machine model)
    assert actions.export_action.isEnabled() and actions.report_action.isEnabled()
    assert not actions.script_action.isEnabled()
    models.set(story_bundle)
    assert all(a.isEnabled() for a in actions.actions())
    models.set(None)
    assert not any(a.isEnabled() for a in actions.actions())


def test_install_puts_them_after_the_given_action(window, models, settings):
    menu = QMenu(window)
    first, last = menu.addAction("Save model as…"), menu.addAction("Quit")
    made = install_model_actions(window, models, settings, ReadyTF(), menu, after=first)
    texts = [a.text() for a in menu.actions()]
    assert texts == ["Save model as…", "", "&Export model…", "Save &report…",
                     "Export as &Python script…", "Quit"]
    assert menu.actions()[-1] is last
    made.status_message.emit("hello")
    assert window.statuses == ["hello"]


def test_export_dialog_writes_a_tflite_folder(qtbot, monkeypatch, actions, models, window,
                                              story_bundle, settings, tmp_path):
    models.set(story_bundle)
    out = tmp_path / "exports" / "colours-tflite"
    out.parent.mkdir()
    calls = []
    _save_dialog_returns(monkeypatch, out, calls)
    dialog = actions.choose_export()
    assert dialog.isVisible() and dialog.choice() == "tflite"
    dialog.buttons["tflite"].click()
    with qtbot.waitSignal(actions.done, timeout=120_000) as signal:
        dialog.accept()
        assert not actions.export_action.isEnabled()  # one export at a time
    job, result = signal.args
    assert job == "export" and result.folder == out
    assert (out / "model.tflite").stat().st_size > 1000
    assert (out / "labels.txt").read_text() == "blue\nred\n"
    assert calls[0][1] == str(Path.home() / "colours-tflite")  # the model's folder is gone
    assert settings.get("paths/last_model_export") == str(out.parent)
    assert f"Model exported to {out}" in window.statuses[-1]
    qtbot.waitUntil(actions.export_action.isEnabled)  # once the thread has ended


def test_onnx_is_offered_only_when_installed_and_says_how_to_get_it(
        actions, models, story_bundle, monkeypatch):
    models.set(story_bundle)
    monkeypatch.setattr(model_export, "onnx_missing", lambda: model_export.ONNX_HINT)
    dialog = actions.choose_export()
    assert not dialog.buttons["onnx"].isEnabled()
    assert dialog.onnx_hint.isVisibleTo(dialog)
    shown = QTextDocumentFragment.fromHtml(dialog.onnx_hint.text()).toPlainText()
    assert "pip install 'horsehuman-gui[onnx]'" in shown
    assert "<span style=\"white-space: nowrap\">pip install &#x27;horsehuman-gui[onnx]&#x27;" \
        in dialog.onnx_hint.text()  # never broken at its hyphen
    dialog.reject()
    monkeypatch.setattr(model_export, "onnx_missing", lambda: None)
    dialog = actions.choose_export()
    assert dialog.buttons["onnx"].isEnabled() and not dialog.onnx_hint.isVisibleTo(dialog)
    dialog.reject()


def test_an_existing_export_folder_is_replaced_only_when_the_person_agrees(
        monkeypatch, actions, models, story_bundle, tmp_path):
    models.set(story_bundle)
    out = tmp_path / "colours-savedmodel"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    _save_dialog_returns(monkeypatch, out)
    started, asked = [], []
    monkeypatch.setattr(actions, "export_to", lambda *a, **k: started.append((a, k)))
    _answer(monkeypatch, QMessageBox.StandardButton.No, asked)
    actions._choose_export_folder(story_bundle, "savedmodel")
    assert len(asked) == 1 and "colours-savedmodel already exists" in asked[0]
    assert started == [] and (out / "mine.txt").exists()
    _answer(monkeypatch, QMessageBox.StandardButton.Yes, asked)
    actions._choose_export_folder(story_bundle, "savedmodel")
    assert started == [((out, "savedmodel"), {"overwrite": True})]


def test_an_export_failure_is_shown_as_a_sentence(qtbot, actions, models, story_bundle,
                                                  window, tmp_path):
    models.set(story_bundle)
    out = tmp_path / "missing-folder" / "x"
    actions.export_to(out, "tflite")
    qtbot.waitUntil(lambda: bool(_errors(window)), timeout=30_000)
    box = _errors(window)[0]
    assert box.text() == f"Could not export the model to {out}."
    assert "does not exist" in box.informativeText()
    qtbot.waitUntil(lambda: not actions.is_busy())


def test_report_gets_html_added_and_never_replaces_unasked(
        qtbot, monkeypatch, actions, models, story_bundle, settings, tmp_path):
    models.set(story_bundle)
    _save_dialog_returns(monkeypatch, tmp_path / "colours")  # typed without .html
    with qtbot.waitSignal(actions.done, timeout=30_000) as signal:
        actions.choose_report()
    written = tmp_path / "colours.html"
    assert signal.args == ["report", written]
    text = written.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "blue" in text and "<svg" in text
    assert settings.get("paths/last_report") == str(tmp_path)
    written.write_text("mine")
    asked = []
    _answer(monkeypatch, QMessageBox.StandardButton.No, asked)
    actions.choose_report()  # the dialog never saw "colours.html": we ask
    assert len(asked) == 1 and written.read_text() == "mine"


def test_script_trains_on_the_folder_the_model_was_trained_on(
        qtbot, monkeypatch, actions, models, story_bundle, class_folders, tmp_path):
    models.set(story_bundle)
    out = tmp_path / "train_colours.py"
    _save_dialog_returns(monkeypatch, out)
    with qtbot.waitSignal(actions.done, timeout=30_000):
        actions.choose_script()
    text = out.read_text(encoding="utf-8")
    compile(text, str(out), "exec")
    assert str(class_folders) in text and "compact" in text


def test_the_offered_export_name_is_a_free_one(monkeypatch, actions, models, story_bundle,
                                               settings, tmp_path):
    models.set(story_bundle)
    settings.set("paths/last_model_export", str(tmp_path))
    (tmp_path / "colours-onnx").mkdir()
    calls = []
    _save_dialog_returns(monkeypatch, "", calls)  # cancelled
    actions._choose_export_folder(story_bundle, "onnx")
    assert calls[0][1] == str(tmp_path / "colours-onnx-2")
