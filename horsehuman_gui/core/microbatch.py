"""Train on a large batch in slices: the same update as the whole batch, a fraction of the memory.

Training the classic model at batch 128 and 300 px keeps the activations of 128 images alive for
the backward pass: ~4.2 GB of RAM. Here each batch is cut into equal micro-batches and only one
micro-batch's activations are alive at a time. Each slice contributes the gradient of its share
of the batch's mean loss; the optimizer applies the sum once per batch. That is the whole
batch's gradient (up to float rounding), so results match Keras's own training step.

Summing per slice would cost a full-size gradient of the big dense layer per slice (40M numbers
for the classic model: ~15% slower). Instead, that layer's kernel gradient is computed once per
batch as ``inputs^T @ output_gradients`` from what each slice leaves behind (its inputs to the
layer and the gradient at the layer's output, ~0.3 MB per image); the other layers' gradients
are small and summed per slice.

With RMSprop (what every model here is compiled with), that kernel's gradient and update are also
computed a block of rows at a time (``_KernelUpdate``): Keras's update of a 40M-weight variable
holds the gradient and several kernel-sized temporaries at once, and TensorFlow's oneDNN allocator
keeps its high-water mark for the life of the process. Measured on the classic model at 300 px:
TensorFlow's peak 1.24 -> 0.88 GB, the step's peak RSS 1.85 -> 1.60 GB, a step 2-9% slower
(A/B runs in one process). Block by block the update is the same element-wise arithmetic, so
the weights come out bit for bit as Keras's update makes them from the same gradient (tested).

The step is installed on the model instance for the duration of ``fit`` only; the model keeps its
class, so a saved model is a plain Keras model.

It relies on Keras internals that have no public equivalent (``MODEL_INTERNALS``,
``RMSPROP_INTERNALS``). When one is missing (another Keras version), the batch trains whole with
Keras's own step and the reason is logged once: more memory, never a crash.
"""

from __future__ import annotations

import contextlib
import logging
import math

from horsehuman_gui.core.tfsetup import load_tensorflow

keras = load_tensorflow()
import tensorflow as tf  # noqa: E402

logger = logging.getLogger(__name__)

#: Activation memory one training step may use. The classic model at 300 px needs ~20 MB per
#: image, so batch 128 runs as 8 slices of 16. Measured peak RSS of its training step with
#: slices of 8/16/32/64/128 (and Keras's whole-kernel update): 1.73/1.74/2.25/3.0/4.2 GB (the
#: rest is TensorFlow, the weights, the optimizer's state and its update).
ACTIVATION_BUDGET_BYTES = 320 * 2**20

#: Size of one block of the big kernel's gradient and update (see ``_KernelUpdate``).
UPDATE_BLOCK_BYTES = 8 * 2**20

#: Keras internals the step uses: the model's loss metric (``Model.fit`` reports its mean) ...
MODEL_INTERNALS = ("_loss_tracker",)
#: ... and, for the blocked RMSprop update, the optimizer's velocity of the big kernel.
RMSPROP_INTERNALS = ("_velocities", "_get_variable_index")


def activation_bytes(model) -> int:
    """Estimated bytes kept per image between the forward and the backward pass.

    The layers' float32 outputs, times 1.5 for what the backward pass adds (measured for the
    classic model: ~20 MB per 300 px image against 13.6 MB of outputs).
    """
    elements = sum(math.prod(layer.output.shape[1:]) for layer in model.layers)
    return elements * 4 * 3 // 2


def micro_batch_size(model, batch_size: int, budget: int = ACTIVATION_BUDGET_BYTES) -> int:
    """The slice size for ``batch_size`` under ``budget``: equal slices, ``batch_size`` if it
    fits or if ``model`` cannot be trained in slices (see ``split_model``)."""
    fits = max(1, budget // max(1, activation_bytes(model)))
    if fits >= batch_size or split_model(model) is None:
        return batch_size
    slices = math.ceil(batch_size / fits)
    return math.ceil(batch_size / slices)


def split_model(model):
    """(layers before, dense layer, layers after) around the model's largest layer when that is
    a plain ``Dense`` in a ``Sequential`` model (the classic model's 40M-weight layer); else
    None: such a model trains with Keras's own step."""
    if not isinstance(model, keras.Sequential) or not model.layers:
        return None
    sizes = [layer.count_params() for layer in model.layers]
    index = sizes.index(max(sizes))
    dense = model.layers[index]
    # What the sliced step reproduces of Dense.call and its gradient: matmul, bias, activation,
    # float32, no regulariser (its gradient would be left out of the kernel's).
    plain = (type(dense) is keras.layers.Dense and dense.bias is not None
             and dense.compute_dtype == "float32" and dense.kernel_regularizer is None
             and dense.activity_regularizer is None
             and not getattr(dense, "lora_enabled", False)
             and getattr(dense, "quantization_mode", None) is None)
    return (model.layers[:index], dense, model.layers[index + 1:]) if plain else None


@contextlib.contextmanager
def micro_batches(model, size: int | None):
    """Within the block, ``model.fit`` trains each batch in slices of at most ``size`` images.

    ``size`` None, or a model ``split_model`` cannot split, leaves Keras's own step in place.
    """
    parts = split_model(model) if size else None
    step = _sliced_step_or_none(model, size, parts) if parts else None
    if step is None:
        yield
        return
    model.train_step = step
    model.train_function = None  # make fit trace the new step
    try:
        yield
    finally:
        del model.train_step  # back to the class's step: fit/evaluate behave as usual again
        model.train_function = None


def _sliced_step_or_none(model, size: int, parts):
    """The sliced step, or None (logged once) when a Keras internal it relies on is missing."""
    optimizer = model.optimizer
    try:
        needed = [(model, name) for name in MODEL_INTERNALS]
        if _KernelUpdate.applies(optimizer, parts[1].kernel):
            optimizer.build(list(model.trainable_weights))  # its velocities exist once built
            needed += [(optimizer, name) for name in RMSPROP_INTERNALS]
        missing = [f"{type(owner).__name__}.{name}" for owner, name in needed
                   if not hasattr(owner, name)]
        if not missing:
            return _SlicedStep(model, size, *parts)
    except (AttributeError, IndexError, KeyError, TypeError) as exc:  # internals changed shape
        missing = [repr(exc)]
    logger.warning("Training each batch whole, with Keras's own step (more memory): this Keras "
                   "(%s) lacks what the sliced step relies on: %s", keras.__version__,
                   ", ".join(missing))
    return None


class _SlicedStep:
    """A ``train_step`` for ``model``: slices of ``size``, one kernel gradient per batch."""

    def __init__(self, model, size: int, before: list, dense, after: list):
        self.model, self.size = model, size
        self.before, self.dense, self.after = before, dense, after
        self.weights = list(model.trainable_weights)
        kernel = dense.kernel
        self.kernel_index = next(i for i, w in enumerate(self.weights) if w is kernel)
        self.small = [w for w in self.weights if w is not kernel]
        self.sums = [tf.Variable(tf.zeros(w.shape, w.dtype), trainable=False)
                     for w in self.small]
        model.optimizer.build(self.weights)  # no-op when built; the update needs its state
        self.kernel_update = _KernelUpdate.for_optimizer(model.optimizer, kernel)

    def forward(self, x):
        """The model's forward pass, with the dense layer's pre-activation ``z`` exposed."""
        for layer in self.before:
            x = layer(x, training=True)
        z = _matmul(x, self.dense.kernel.value) + self.dense.bias  # what Dense.call computes
        y = self.dense.activation(z) if self.dense.activation is not None else z
        for layer in self.after:
            y = layer(y, training=True)
        return x, z, y

    def __call__(self, data):
        model = self.model
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        count = tf.shape(x)[0]
        for total in self.sums:  # automatic control dependencies keep these writes in order
            total.assign(tf.zeros_like(total))
        slices = (count + self.size - 1) // self.size
        arrays = [self._array(slices, shape) for shape in
                  (self.dense.kernel.shape[0], self.dense.units, model.outputs[0].shape[-1])]
        _, loss, inputs, grads_z, predictions = tf.while_loop(
            lambda i, *_: i < slices,
            lambda i, total, *arrays: self._slice(i, total, arrays, x, y, sample_weight, count),
            (tf.constant(0), tf.constant(0.0), *arrays),
            parallel_iterations=1)  # one slice at a time: parallel ones would all be alive
        grads = [total.read_value() for total in self.sums]
        model._loss_tracker.update_state(loss, sample_weight=count)
        if self.kernel_update is None:
            grads.insert(self.kernel_index,
                         tf.matmul(inputs.concat(), grads_z.concat(), transpose_a=True))
            model.optimizer.apply(grads, self.weights)
        else:  # the kernel first, block by block; then the rest, which counts the iteration
            with tf.control_dependencies(self.kernel_update(inputs.concat(), grads_z.concat())):
                model.optimizer.apply(grads, self.small)
        return model.compute_metrics(x, y, predictions.concat(), sample_weight=sample_weight)

    def _slice(self, i, total, arrays, x, y, sample_weight, count):
        inputs, grads_z, predictions = arrays
        part = slice(i * self.size, (i + 1) * self.size)
        weight = None if sample_weight is None else sample_weight[part]
        pixels = tf.cast(x[part], self.model.inputs[0].dtype)  # per slice: uint8 stays small
        share = tf.cast(tf.shape(pixels)[0], "float32") / tf.cast(count, "float32")
        # The kernel is not watched, so no kernel-sized gradient is made per slice.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([w.value for w in self.small])
            dense_in, z, y_pred = self.forward(pixels)
            loss = self.model.compute_loss(x=pixels, y=y[part], y_pred=y_pred,
                                           sample_weight=weight, training=True) * share
            scaled = self.model.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, [w.value for w in self.small] + [z])
        adds = [total.assign_add(g) for total, g in zip(self.sums, grads[:-1])]
        with tf.control_dependencies(adds):
            return (i + 1, total + loss, inputs.write(i, dense_in),
                    grads_z.write(i, grads[-1]), predictions.write(i, y_pred))

    @staticmethod
    def _array(size, width):
        return tf.TensorArray("float32", size=size, infer_shape=False,
                              element_shape=tf.TensorShape([None, width]))


class _KernelUpdate:
    """Keras's RMSprop update of the dense kernel, with its gradient made a block of rows at a time.

    The kernel's gradient is ``inputs^T @ grads_z``; its rows ``r0:r1`` need only the columns
    ``r0:r1`` of ``inputs``, so the whole gradient never exists. Each block repeats
    ``RMSprop.update_step``'s element-wise arithmetic (same operations, same order, same float32
    constants). The block's new velocity is written over its rows of the velocity in place
    (``ResourceGather`` / ``ResourceScatterUpdate``), and its increment into one whole-size
    buffer, which is then subtracted from the kernel: one kernel-sized temporary instead of
    Keras's gradient plus up to four. The kernel itself cannot be updated by rows: a row write
    switches a variable into TensorFlow's copy-on-read mode, where every read copies it whole
    (160 MB per forward pass for the kernel). The velocity takes that mode harmlessly: it is
    only read here, by rows, which copies nothing. Blocks run one after the other, so one
    block's temporaries are alive.
    """

    def __init__(self, optimizer, kernel, velocity, block_rows: int):
        self.optimizer, self.kernel, self.velocity = optimizer, kernel, velocity
        self.block_rows = block_rows

    @classmethod
    def for_optimizer(cls, optimizer, kernel, block_bytes: int = UPDATE_BLOCK_BYTES):
        """The blocked update, or None when ``optimizer`` does more than plain RMSprop (its
        own ``apply`` then runs on the whole gradient)."""
        if not cls.applies(optimizer, kernel):
            return None
        velocity = optimizer._velocities[optimizer._get_variable_index(kernel)]
        row_bytes = kernel.shape[1] * 4
        return cls(optimizer, kernel, velocity, max(1, block_bytes // row_bytes))

    @staticmethod
    def applies(optimizer, kernel) -> bool:
        """Whether ``optimizer`` updates ``kernel`` with plain RMSprop (what this repeats)."""
        return (type(optimizer) is keras.optimizers.RMSprop and optimizer.momentum == 0
                and not optimizer.centered and not optimizer.use_ema
                and optimizer.weight_decay is None and optimizer.loss_scale_factor is None
                and optimizer.gradient_accumulation_steps is None
                and optimizer.clipnorm is None and optimizer.clipvalue is None
                and optimizer.global_clipnorm is None and kernel.constraint is None
                and not kernel.overwrite_with_gradient and kernel.dtype == "float32"
                and len(kernel.shape) == 2)

    def __call__(self, inputs, grads_z) -> list:
        """Update the kernel from ``inputs`` (B, rows) and ``grads_z`` (B, units)."""
        rho, epsilon = self.optimizer.rho, self.optimizer.epsilon
        lr = tf.cast(self.optimizer.learning_rate, self.kernel.dtype)
        kernel, velocity = self.kernel.value, self.velocity.value.handle
        total = self.kernel.shape[0]
        with tf.control_dependencies([inputs, grads_z]):  # not while the slices run
            increment = tf.raw_ops.Empty(shape=self.kernel.shape, dtype=self.kernel.dtype)
        written = []
        for start in range(0, total, self.block_rows):
            stop = min(start + self.block_rows, total)
            with tf.control_dependencies([increment, *written]):  # one block at a time
                rows = tf.range(start, stop)
                gradient = tf.matmul(inputs[:, start:stop], grads_z, transpose_a=True)
                old = tf.raw_ops.ResourceGather(resource=velocity, indices=rows,
                                                dtype=self.kernel.dtype)
                block = tf.add(tf.multiply(rho, old), tf.multiply(1 - rho, tf.square(gradient)))
                step = tf.divide(tf.multiply(lr, gradient), tf.sqrt(tf.add(block, epsilon)))
                written = [tf.raw_ops.ResourceScatterUpdate(resource=velocity, indices=rows,
                                                            updates=block)]
                increment = tf.raw_ops.InplaceUpdate(x=increment, i=rows, v=step)
        with tf.control_dependencies(written):
            return [kernel.assign_sub(increment)]


@tf.custom_gradient
def _matmul(x, kernel):
    """``x @ kernel`` whose backward pass gives ``x`` a gradient computed as ``(kernel @ g^T)^T``.

    For a tall kernel (78,400 x 512) and a slice of 16 rows that reads the kernel once, in
    ~17 ms; TensorFlow's own ``g @ kernel^T`` takes ~44 ms. The kernel gets no gradient here:
    the step assembles it once per batch.
    """
    def gradient(upstream):
        return tf.transpose(tf.matmul(kernel, upstream, transpose_b=True)), None

    return tf.matmul(x, kernel), gradient
