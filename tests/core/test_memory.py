"""Nothing of a finished training stays in memory: not the optimizer's state while its model
is in use, not the model once it is dropped, not TensorFlow's record of its custom gradients."""

from __future__ import annotations

import gc
import logging
import weakref

import pytest

from conftest import make_class_folders  # at import: see conftest
from horsehuman_gui.core import memory
from horsehuman_gui.core.config import TrainConfig
from horsehuman_gui.core.dataset import LabeledImage, ScanReport
from horsehuman_gui.core.session import Session
from horsehuman_gui.core.training import train

tf = pytest.importorskip("tensorflow")

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Your input ran out of data")]


def _report(root) -> ScanReport:
    items = [LabeledImage(p, label) for label, name in enumerate(("blue", "red"))
             for p in sorted((root / name).iterdir())]
    return ScanReport(root=root, layout="classes", classes=("blue", "red"), train=tuple(items[2:-2]),
                      validation=(items[0], items[-1]), skipped=(), warnings=(),
                      validation_split=0.2, seed=1)


def _handles(variables) -> list[weakref.ref]:
    """Weak references to the buffers' handles: a traced graph keeps these, not the Variables."""
    return [weakref.ref(v.value.handle) for v in variables]


@pytest.mark.parametrize("batch_size", [8, 2])  # 8: Keras's own step; 2: the sliced step
def test_after_training_nothing_holds_the_optimizer_state_or_the_dropped_model(
        tmp_path, monkeypatch, batch_size):
    from horsehuman_gui.core import microbatch

    monkeypatch.setattr(microbatch, "ACTIVATION_BUDGET_BYTES", 1)  # slices of 1 when batch 2
    optimizer_state: list[weakref.ref] = []
    fit = Session.fit

    def fit_and_watch(self, model, *args, **kwargs):
        fit(self, model, *args, **kwargs)
        optimizer_state.extend(_handles(model.optimizer.variables))

    monkeypatch.setattr(Session, "fit", fit_and_watch)
    root = make_class_folders(tmp_path / "colours", per_class=6)
    result = train(_report(root), TrainConfig(model="classic", image_size=32, epochs=1,
                                              batch_size=batch_size, augment="off",
                                              patience=0))
    gc.collect()
    assert optimizer_state
    assert [h for h in optimizer_state if h() is not None] == []  # the model is still in use
    weights = _handles(result.model.weights)
    del result
    gc.collect()
    assert [h for h in weights if h() is not None] == []


def test_custom_gradients_registered_in_the_block_are_forgotten_with_their_graph():
    @tf.custom_gradient
    def halved_gradient(x):
        return x * 2.0, lambda upstream: upstream * 0.5

    def trace():
        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = halved_gradient(x)
            return tape.gradient(y, x)

        assert float(step(tf.constant(3.0))) == 0.5
        return weakref.ref(step.get_concrete_function(tf.constant(3.0)).graph)

    registry = memory._gradient_registry()
    before = set(registry)
    with memory.forget_custom_gradients():
        graph = trace()
        assert any(name.startswith(memory.CUSTOM_GRADIENT_PREFIX)
                   for name in set(registry) - before)
    gc.collect()
    assert set(registry) - before == set()
    assert graph() is None


def test_without_the_registry_the_block_runs_and_says_why_once(monkeypatch, caplog):
    from tensorflow.python.framework import ops

    monkeypatch.delattr(ops, "_gradient_registry")
    monkeypatch.setattr(memory, "_warned", False)
    ran = []
    with caplog.at_level(logging.WARNING, logger=memory.__name__):
        for _ in range(2):
            with memory.forget_custom_gradients():
                ran.append(True)
    assert ran == [True, True]
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "_gradient_registry" in caplog.records[0].getMessage()


def test_models_are_collected_only_after_one_was_dropped():
    class Model:  # a reference cycle, as a Keras model holds: only a collection frees it
        def __init__(self):
            self.me = self

    memory.collect_dropped_models()
    model = Model()
    held = weakref.ref(model)
    gc.disable()  # no automatic collection may free it meanwhile
    try:
        del model
        assert memory.collect_dropped_models() is False and held() is not None  # none dropped
        memory.note_dropped_model()
        assert memory.collect_dropped_models() is True and held() is None
        assert memory.collect_dropped_models() is False  # once per drop
    finally:
        gc.enable()
