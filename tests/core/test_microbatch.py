"""Training in micro-batches: the same update as Keras's own step, in less memory."""

from __future__ import annotations

import numpy as np
import pytest

from horsehuman_gui.core.microbatch import _KernelUpdate, micro_batch_size, micro_batches
from horsehuman_gui.core.models import build_model, keras

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.slow


def test_micro_batches_give_the_same_update_as_whole_batches():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10, 32, 32, 3)).astype(np.uint8)
    y = rng.integers(0, 2, (10, 1)).astype(np.float32)
    weights, losses = [], []
    for size in (None, 4):  # 4 + 4 + 2: unequal slices are weighted by their size
        keras.utils.set_random_seed(3)
        model = build_model("classic", 32, 2)
        with micro_batches(model, size):
            assert ("train_step" in vars(model)) == (size is not None)
            history = model.fit(x, y, batch_size=10, epochs=2, shuffle=False, verbose=0)
        weights.append(model.get_weights())
        losses.append(history.history["loss"])
        assert "train_step" not in vars(model)  # Keras's own step is back

    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
    for whole, sliced in zip(*weights):
        np.testing.assert_allclose(whole, sliced, atol=1e-5)
    keras.utils.set_random_seed(3)
    assert not np.allclose(weights[0][0], build_model("classic", 32, 2).get_weights()[0])


def test_micro_batch_size_bounds_the_classic_models_activations():
    assert micro_batch_size(build_model("classic", 300, 2), 128) == 16
    assert micro_batch_size(build_model("compact", 32, 2), 128) == 128  # fits: no slicing


def _dense(optimizer):
    """A built one-layer model, its kernel and ``optimizer`` built on its weights."""
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input(shape=(12,)), keras.layers.Dense(8)])
    optimizer.build(model.trainable_weights)
    return model.layers[0].kernel, optimizer


def test_the_kernel_update_in_blocks_is_kerass_rmsprop_update_bit_for_bit():
    keras_kernel, keras_rmsprop = _dense(keras.optimizers.RMSprop(learning_rate=0.01))
    our_kernel, our_rmsprop = _dense(keras.optimizers.RMSprop(learning_rate=0.01))
    update = _KernelUpdate.for_optimizer(our_rmsprop, our_kernel, block_bytes=5 * 8 * 4)
    assert update.block_rows == 5  # 12 rows: blocks of 5, 5 and 2
    rng = np.random.default_rng(0)
    # Both traced, as in training: TensorFlow's graph rewrites apply to both alike.
    blocked = tf.function(lambda inputs, grads_z: update(inputs, grads_z))
    whole = tf.function(lambda gradient: keras_rmsprop.apply(
        [gradient, tf.zeros(8)], keras_rmsprop._trainable_variables))
    for _ in range(3):
        # One row each: every gradient entry is a single product, the same however it is blocked.
        inputs = rng.normal(size=(1, 12)).astype(np.float32)
        grads_z = rng.normal(size=(1, 8)).astype(np.float32)
        gradient = tf.matmul(inputs, grads_z, transpose_a=True)
        whole(gradient)
        blocked(inputs, grads_z)
        our_rmsprop.iterations.assign_add(1)

    np.testing.assert_array_equal(our_kernel.numpy(), keras_kernel.numpy())
    velocity = keras_rmsprop._velocities[keras_rmsprop._get_variable_index(keras_kernel)]
    ours = our_rmsprop._velocities[our_rmsprop._get_variable_index(our_kernel)]
    np.testing.assert_array_equal(ours.numpy(), velocity.numpy())
    assert not np.array_equal(velocity.numpy(), np.zeros((12, 8)))


@pytest.mark.parametrize("options", [{"momentum": 0.9}, {"centered": True}, {"clipnorm": 1.0},
                                     {"weight_decay": 0.01}])
def test_other_optimizer_settings_keep_kerass_own_update(options):
    kernel, optimizer = _dense(keras.optimizers.RMSprop(**options))
    assert _KernelUpdate.for_optimizer(optimizer, kernel) is None
    kernel, optimizer = _dense(keras.optimizers.Adam())
    assert _KernelUpdate.for_optimizer(optimizer, kernel) is None


@pytest.mark.parametrize("table, renamed", [("MODEL_INTERNALS", ("_loss_tracker_v4",)),
                                             ("RMSPROP_INTERNALS", ("_velocities", "_index_v4"))])
def test_without_the_keras_internals_it_relies_on_keras_trains_the_whole_batch(
        table, renamed, monkeypatch, caplog):
    """A Keras whose internals have other names: simulated by making the step rely on a name
    this Keras does not have. Training still works, as Keras's own step, with one warning."""
    from horsehuman_gui.core import microbatch

    monkeypatch.setattr(microbatch, table, renamed)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 32, 32, 3)).astype(np.uint8)
    y = rng.integers(0, 2, (6, 1)).astype(np.float32)
    results = []
    for size in (None, 3):
        keras.utils.set_random_seed(3)
        model = build_model("classic", 32, 2)
        caplog.clear()
        with caplog.at_level("WARNING", logger="horsehuman_gui.core.microbatch"):
            with micro_batches(model, size):
                assert "train_step" not in vars(model)  # Keras's own step
                model.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0)
        results.append(model.get_weights())
    [record] = caplog.records  # one reason, for the run that asked for slices
    assert renamed[-1] in record.getMessage() and "Keras's own step" in record.getMessage()
    for whole, fallback in zip(*results):
        np.testing.assert_allclose(whole, fallback, atol=1e-6)
