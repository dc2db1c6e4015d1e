"""While a new model trains, the current one is set aside: its Keras object (and TensorFlow
memory) goes, everything shown stays, classifying still works, and it comes back when the
run ends without a new model.

Training is a stand-in worker that reports batches until stopped; the model is a real one.
"""

from __future__ import annotations

import gc
import weakref

import pytest

from horsehuman_gui.core.bundle import SetAside, save_bundle
from tests.ui.test_training_guard import stand_in_window

pytestmark = pytest.mark.slow


@pytest.fixture
def window(qtbot, settings, tf_loader, monkeypatch):
    """The stand-in window (its "models" are not adopted: the old one must come back), with
    TensorFlow really loaded: the model used is a real one."""
    yield from stand_in_window(qtbot, settings, tf_loader, monkeypatch)


def _classified(pane) -> int:
    return sum(1 for item in pane.model.items() if item.prediction is not None)


def test_training_sets_the_current_model_aside_and_takes_it_back(
        qtbot, window, trained_bundle, class_folders, tmp_path):
    path = save_bundle(trained_bundle, tmp_path / "blue-red.keras")
    with qtbot.waitSignal(window.models.opened, timeout=60_000):
        window.open_model(path)
    pane = window.prediction_pane
    blues = sorted((class_folders / "blue").iterdir())
    pane.add_paths(blues[:3], recursive=False)
    qtbot.waitUntil(lambda: pane.model.total() == 3, timeout=10_000)
    pane.classify()
    qtbot.waitUntil(lambda: _classified(pane) == 3, timeout=60_000)
    held = weakref.ref(window.models.bundle.model)

    with qtbot.waitSignal(window.dataset_pane.report_changed, timeout=30_000):
        window.open_dataset(class_folders)
    evaluate = window.evaluate_pane
    evaluate.set_folder(class_folders)
    evaluate.evaluate()  # still running when the model is set aside: its result still shows
    window.train_action.trigger()
    qtbot.waitUntil(lambda: evaluate.view.evaluation is not None, timeout=60_000)
    assert evaluate.view.evaluation.accuracy == 1.0
    qtbot.waitUntil(lambda: window.training_pane.progress.value() > 0, timeout=10_000)

    aside = window.models.bundle
    assert isinstance(aside.model, SetAside) and aside.path == path
    assert pane._bundle is aside and window.evaluate_pane._bundle is aside
    # Nothing holds the Keras model any more (once the evaluation's finished task is deleted)
    qtbot.waitUntil(lambda: gc.collect() is not None and held() is None, timeout=10_000)
    assert _classified(pane) == 3  # the results shown stay
    assert "blue-red.keras" in pane.model_label.text()

    pane.add_paths(blues[3:5], recursive=False)  # classifying during training reads it back
    qtbot.waitUntil(lambda: pane.model.total() == 5, timeout=10_000)
    pane.classify()
    qtbot.waitUntil(lambda: _classified(pane) == 5, timeout=60_000)
    assert all(item.prediction.label == "blue" for item in pane.model.items())
    evaluate.view.clear("")  # and so does evaluating
    evaluate.evaluate()
    qtbot.waitUntil(lambda: evaluate.view.evaluation is not None, timeout=60_000)
    assert evaluate.view.evaluation.accuracy == 1.0
    assert isinstance(window.models.bundle.model, SetAside)
    copy = tmp_path / "copy.keras"
    with qtbot.waitSignal(window.models.saved, timeout=60_000):
        window.models.save_as(copy)  # saving reads it back to write it
    assert window.models.bundle.path == copy and window.models.bundle.model.path == copy
    assert pane._bundle is window.models.bundle and "copy.keras" in pane.model_label.text()
    path.unlink()  # the file it came from may go now: the copy holds it

    window.training_pane.stop()  # ends without a model to keep: the old one is read back
    qtbot.waitUntil(lambda: not isinstance(window.models.bundle.model, SetAside),
                    timeout=60_000)
    back = window.models.bundle
    assert pane._bundle is back and window.evaluate_pane._bundle is back
    assert back.path == copy and _classified(pane) == 5
